"""The only bridge to ``matcher``: record checks, positions on the map, scenario building, solving, re-planning.

The road graph is loaded once per process (per map file) and reused by every request and job.
Ids in scenarios and plans are ``V<vehicle id>``, ``H<household id>`` and ``S<shelter id>``.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from api import models
from api.config import Settings
from cluster import executor_for
from matcher.check import assert_plan_valid
from matcher.errors import InputError, MapError
from matcher.geojson import plan_to_geojson
from matcher.live import LiveState, places_needed
from matcher.plan import Plan, ReplanSummary
from matcher.problem import Alert, Driver, Household, Problem, Shelter
from matcher.region import Region, RegionParams, plan_is_regional, region_from_dict, solve_region
from matcher.region_replan import replan_region
from matcher.roads.closures import flood_geometry
from matcher.roads.graph import RoadGraph
from matcher.roads.load import load_road_graph
from matcher.roads.snap import far_from_roads
from matcher.scenario import Scenario, problem_from_dict
from matcher.solver import SolveParams, solve
from matcher.solver.replan import DEFAULT_POLICY, replan_checked
from matcher.travel import LocationRef

PREFIX = {"vehicle": "V", "household": "H", "shelter": "S"}


def plan_id(kind: str, db_id: int) -> str:
    """The id a record has in scenarios and plans, e.g. ``H12``."""
    return f"{PREFIX[kind]}{db_id}"


def db_id(plan_record_id: str) -> int | None:
    """The database id behind a plan id such as ``H12``; ``None`` when it is not one of ours."""
    digits = plan_record_id[1:]
    return int(digits) if plan_record_id[:1] in PREFIX.values() and digits.isdigit() else None


@functools.lru_cache(maxsize=4)
def _graph(map_path: str, cache_dir: str) -> RoadGraph:
    return load_road_graph(map_path, cache_dir)


def road_graph(settings: Settings) -> RoadGraph:
    """The process's road graph of ``settings.map`` (loaded on first use, then reused)."""
    return _graph(str(settings.map_path()), str(settings.matcher().cache_dir))


#: The last problem built on each map in this process: a re-plan after a new closure updates its travel times
#: instead of rebuilding them (``matcher.matrix.update_travel_times``, which rebuilds by itself when it must).
_LAST_PROBLEM: dict[str, Problem] = {}
_LAST_LOCK = threading.Lock()


def _scenario(data: dict[str, Any], settings: Settings, progress: Callable[[str], None] | None,
              needed: Collection[LocationRef] | None = None) -> Scenario:
    """The problem of ``data`` on the process's road graph, its travel times updated from the last one (among the
    places ``needed`` when given: a re-plan's; the others' changed times stay pending for a later update)."""
    key = str(settings.map_path())
    with _LAST_LOCK:
        previous = _LAST_PROBLEM.get(key)
    scenario = problem_from_dict(data, base=Path(data["map"]).parent, settings=settings.matcher(), progress=progress,
                                 graph=road_graph(settings), previous=previous, needed=needed)
    with _LAST_LOCK:
        _LAST_PROBLEM[key] = scenario.problem
    return scenario


# --- checks at registration -------------------------------------------------------------------------------


def off_map(settings: Settings, lats: Sequence[float], lons: Sequence[float]) -> list[tuple[int, str]]:
    """``(index, message)`` for every position farther than the snap limit from the map's roads."""
    if not lats:
        return []
    limit = settings.snap_max_meters
    far, meters = far_from_roads(road_graph(settings), lats, lons, limit)
    return [
        (int(i), f"({lats[i]:.6f}, {lons[i]:.6f}) is {m:.0f} m from the nearest road of the map "
                 f"{settings.map_path().name} (limit {limit:.0f} m): off the map, or no road near it")
        for i, m in zip(far, meters, strict=True)
    ]


def check_on_map(settings: Settings, record: str, lat: float, lon: float) -> None:
    """Raise ``MapError(record, "lat", ...)`` when the position is off the loaded map."""
    for _, message in off_map(settings, [lat], [lon]):
        raise MapError(record, "lat", message)


@contextmanager
def _named(record: str) -> Iterator[None]:
    """Re-raise the matcher's record errors under the service's name for the record (``vehicle 12``, ``row 3``)."""
    try:
        yield
    except InputError as exc:
        raise type(exc)(record, exc.field, exc.message) from None


def check_vehicle(record: str, vehicle: models.Vehicle | SimpleNamespace) -> None:
    """The matcher's own rules for a driver (seats or wheelchair spaces, availability order)."""
    with _named(record):
        driver = Driver(id=record, lat=vehicle.lat, lon=vehicle.lon, seats=vehicle.seats,
                        wheelchair_spaces=vehicle.wheelchair_spaces,
                        available_from_minute=vehicle.available_from_minute,
                        available_until_minute=vehicle.available_until_minute,
                        takes_pets=bool(vehicle.takes_pets), languages=tuple(vehicle.languages or ()))
    vehicle.languages = list(driver.languages)


def check_household(record: str, household: models.Household | SimpleNamespace) -> None:
    """The matcher's own rules for a household (wheelchair users within people, ...)."""
    with _named(record):
        checked = Household(id=record, lat=household.lat, lon=household.lon, people=household.people,
                            wheelchair_users=household.wheelchair_users, priority=household.priority,
                            pets=household.pets, needs=tuple(household.needs or ()),
                            language=household.language or "", max_walk_meters=household.max_walk_meters)
    household.needs = list(checked.needs)
    household.language = checked.language


def check_shelter(record: str, shelter: models.Shelter | SimpleNamespace) -> None:
    with _named(record):
        checked = Shelter(id=record, lat=shelter.lat, lon=shelter.lon, capacity=shelter.capacity,
                          wheelchair_accessible=shelter.wheelchair_accessible,
                          pets_allowed=bool(shelter.pets_allowed), pet_capacity=shelter.pet_capacity,
                          medical_support=bool(shelter.medical_support), languages=tuple(shelter.languages or ()))
    shelter.languages = list(checked.languages)


def check_alert(deadline_minutes: float, closed_ways: list[int], flood_zones: list[dict[str, Any]]) -> None:
    """The matcher's rules for an alert, including that every flood zone is a usable polygon."""
    Alert(deadline_minutes, None, tuple(closed_ways), tuple(flood_zones))
    flood_geometry(flood_zones)  # names the zone that is no usable polygon


# --- solving ----------------------------------------------------------------------------------------------


def build_scenario(
    alert: models.Alert,
    households: Sequence[models.Household],
    vehicles: Sequence[models.Vehicle],
    shelters: Sequence[models.Shelter],
    settings: Settings,
) -> dict[str, Any]:
    """The matcher scenario of an alert. Names and phones stay out: the solver does not need them."""
    if not shelters:
        raise InputError("alert", "shelters", "no shelters are registered: add shelters and plan again")
    return {
        "name": alert.name or f"alert {alert.id}",
        "map": str(settings.map_path()),
        "alert": {
            "start": alert.start.isoformat(),
            "deadline_minutes": alert.deadline_minutes,
            "closed_ways": list(alert.closed_ways),
            "flood_zones": list(alert.flood_zones),
        },
        "households": [
            {"id": plan_id("household", h.id), "lat": h.lat, "lon": h.lon, "people": h.people,
             "wheelchair_users": h.wheelchair_users, "priority": h.priority, "needs": list(h.needs),
             "pets": h.pets, "language": h.language, "max_walk_meters": h.max_walk_meters, "zone": h.zone}
            for h in dict.fromkeys(households)  # one registration is planned once, however it was selected
        ],
        "drivers": [
            {"id": plan_id("vehicle", v.id), "lat": v.lat, "lon": v.lon, "seats": v.seats,
             "wheelchair_spaces": v.wheelchair_spaces, "available_from_minute": v.available_from_minute,
             "available_until_minute": v.available_until_minute, "takes_pets": v.takes_pets,
             "languages": list(v.languages or ()), "zone": v.zone}
            for v in vehicles
        ],
        "shelters": [
            {"id": plan_id("shelter", s.id), "name": s.name, "lat": s.lat, "lon": s.lon, "capacity": s.capacity,
             "wheelchair_accessible": s.wheelchair_accessible, "pets_allowed": s.pets_allowed,
             "pet_capacity": s.pet_capacity, "medical_support": s.medical_support,
             "languages": list(s.languages or ()), "zone": s.zone}
            for s in shelters
        ],
    }


@dataclass(frozen=True)
class SolvedPlan:
    """A checked plan's JSON and GeoJSON; re-plans add their stability figure."""

    plan: dict[str, Any]
    geojson: dict[str, Any]
    stability: float | None = None


def solve_scenario(
    data: dict[str, Any], settings: Settings, progress: Callable[[str], None] | None = None
) -> SolvedPlan:
    """Build the problem, solve it, re-check the plan (raises ``PlanInvalid``), and give its JSON and GeoJSON.

    Raises ``InputError`` / ``MapError`` naming the record and field when the scenario is not solvable as given.
    """
    if _is_regional(data, settings):
        return solve_regional(data, settings, progress)
    scenario = _scenario(data, settings, progress)
    params = SolveParams(time_limit_seconds=settings.time_limit_seconds, seed=settings.solve_seed)
    plan = solve(scenario.problem, params, progress)
    assert_plan_valid(scenario.problem, plan, scenario.graph, scenario.closed_mask)
    # The service keeps plan format 1 (legs as coordinate pairs): its schemas and pages read them.
    return SolvedPlan(plan.to_dict(format_version=1), plan_to_geojson(plan, scenario.problem))


def _is_regional(data: dict[str, Any], settings: Settings) -> bool:
    households = data.get("households") or []
    return plan_is_regional(len(households), any(h.get("zone") for h in households), settings.matcher())


def _region_params(settings: Settings) -> RegionParams:
    return RegionParams(time_limit_seconds=settings.time_limit_seconds, seed=settings.solve_seed,
                        zone_households=settings.zone_households)


#: The last regional problem built in this process, by its scenario's fingerprint: a re-plan of the same
#: records and roads (a drop-out, a no-show, a coordinator's ask) reuses its travel times instead of
#: computing them again. One is kept (a 10,000-household table is about 0.6 GB).
_REGIONS: dict[str, Region] = {}


def _fingerprint(data: dict[str, Any]) -> str:
    import hashlib

    import orjson

    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def regional_problem(data: dict[str, Any], settings: Settings,
                     progress: Callable[[str], None] | None = None) -> Region:
    """The zones, bounded travel times and shares of a scenario; built once per scenario and roads."""
    key = _fingerprint(data)
    with _LAST_LOCK:
        region = _REGIONS.get(key)
    if region is None:
        region = region_from_dict(data, road_graph(settings), params=_region_params(settings),
                                  settings=settings.matcher(), progress=progress)
        with _LAST_LOCK:
            _REGIONS.clear()
            _REGIONS[key] = region
    return region


def solve_regional(data: dict[str, Any], settings: Settings,
                   progress: Callable[[str], None] | None = None) -> SolvedPlan:
    """A plan by zones (registered zones, else clusters of about ``zone_households``), checked like any plan.

    Zones are solved on the Dask scheduler of ``dask_scheduler``, on a local cluster of ``dask_workers``, or
    here one by one (0 workers, the default: a service worker is already one process per job).
    """
    graph = road_graph(settings)
    params = _region_params(settings)
    region = regional_problem(data, settings, progress)
    with executor_for(settings.dask_workers, settings.dask_scheduler) as executor:
        plan = solve_region(region, params, executor, progress)
    assert_plan_valid(region.problem, plan, graph, region.closures.mask if region.closures else None)
    return SolvedPlan(plan.to_dict(format_version=1), plan_to_geojson(plan, region.problem))


# --- re-planning from the live state ------------------------------------------------------------------------


def replan_scenario(
    data: dict[str, Any], previous: Plan, live: LiveState, settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> SolvedPlan:
    """Continue ``previous`` on the current scenario from ``live``; the whole evacuation as the next plan.

    The matcher's one re-plan entry point and policy (``replan_checked``, ``DEFAULT_POLICY``, the same as the
    drills'): repair, improve when worth it, and re-check the future against the problem that was left (raises
    ``PlanInvalid``) before anything is returned. Completed stops and riders on board are kept.
    A regional problem (zones, or more than ``region_min_households``) re-solves only the zones the events
    touched and their neighbours (``replan_regional``).
    """
    if _is_regional(data, settings):
        return replan_regional(data, previous, live, settings, progress)
    ids = {key: [str(record.get("id")) for record in data.get(key) or [] if isinstance(record, dict)]
           for key in ("households", "drivers", "shelters")}
    needed = places_needed(previous, live, ids["households"], ids["drivers"], ids["shelters"])
    scenario = _scenario(data, settings, progress, needed)
    params = SolveParams(time_limit_seconds=settings.time_limit_seconds, seed=settings.solve_seed)
    outcome = replan_checked(scenario.problem, previous, live, params, DEFAULT_POLICY, road_graph=scenario.graph,
                             closed_mask=scenario.closed_mask, progress=progress)
    # Counts only: non-coordinators see this block, so no household ids go in it.
    plan = dataclasses.replace(outcome.plan, replan=ReplanSummary(
        live.minute, outcome.stability, len(outcome.result.reassigned), outcome.seconds))
    return SolvedPlan(plan.to_dict(format_version=1), plan_to_geojson(plan, scenario.problem), outcome.stability)


def replan_regional(
    data: dict[str, Any], previous: Plan, live: LiveState, settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> SolvedPlan:
    """Continue a regional plan: only the touched zones and their neighbours are solved again, each with a
    zone's share of the limit; the other drivers keep their routes, checked as they stand
    (``matcher.region_replan``). Raises ``PlanInvalid`` when either part fails its check.
    """
    region = regional_problem(data, settings, progress)
    params = SolveParams(time_limit_seconds=settings.time_limit_seconds, seed=settings.solve_seed)
    closed = region.closures.mask if region.closures is not None else None
    done = replan_region(region, region.problem, previous, live, params, DEFAULT_POLICY,
                         road_graph=road_graph(settings), closed_mask=closed, progress=progress,
                         seconds_per_zone=_region_params(settings).zone_seconds(len(region.zones.names)))
    # Counts only, as for any re-plan; the zones re-solved are names of neighbourhoods, not of people.
    plan = dataclasses.replace(done.plan, replan=ReplanSummary(
        live.minute, done.outcome.stability, len(done.outcome.result.reassigned), done.seconds))
    return SolvedPlan(plan.to_dict(format_version=1), plan_to_geojson(plan, region.problem), done.outcome.stability)
