"""Scenario files (YAML or JSON) to a Problem on a real road map: records, closures, snapping, matrix.

The format is in the README ("Scenario format"). Extra fields are allowed and ignored; every bad field
raises ``InputError`` naming the record and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson
import yaml

from matcher.errors import InputError, MapError
from matcher.matrix import UpdateReport, matrix_for_places
from matcher.phones import check_phones
from matcher.problem import Alert, Driver, Household, Problem, Rules, ServiceMinutes, Shelter, check_unique_ids
from matcher.roads.closures import EdgeClosures, edge_closures
from matcher.roads.graph import RoadGraph
from matcher.roads.load import load_road_graph
from matcher.roads.meeting import plan_access
from matcher.settings import Settings, get_settings
from matcher.travel import LocationRef

R = TypeVar("R", Household, Driver, Shelter)

#: libyaml's safe loader where PyYAML was built with it: about ten times faster than the pure-Python one
#: on a 1,000-household scenario. Both are safe loaders (plain data only).
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A loaded scenario: the problem plus the road graph and closures it was built on (for checking legs)."""

    path: Path | None
    map_path: Path
    problem: Problem
    graph: RoadGraph
    closures: EdgeClosures
    raw: dict[str, Any]

    @property
    def closed_mask(self) -> npt.NDArray[np.bool_]:
        """What the checker takes: closed steps (a flood closes only the flooded part of a street)."""
        return self.closures.mask


def read_scenario_file(path: str | Path) -> dict[str, Any]:
    """Parse a scenario file; JSON by its ``.json`` suffix, YAML otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("scenario", "path", f"no such file: {path}") from None
    except OSError as exc:
        raise InputError("scenario", "path", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = orjson.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError("scenario", "file", f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError("scenario", "file", f"{path} must hold a mapping with households, drivers and shelters")
    return data


def _records(data: Mapping[str, Any], key: str, kind: str, cls: type[R]) -> tuple[R, ...]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise InputError("scenario", key, "must be a list")
    allowed = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    out: list[R] = []
    for number, item in enumerate(items, start=1):
        label = f"{kind} {item.get('id', f'#{number}')}" if isinstance(item, dict) else f"{kind} #{number}"
        if not isinstance(item, dict):
            raise InputError(label, "record", "must be a mapping of fields")
        for name in sorted(required):
            if name not in item or item[name] is None:
                raise InputError(label, name, "is required")
        values = {k: v for k, v in item.items() if k in allowed}
        values["id"] = str(values["id"])
        if values.get("zone") is not None:
            values["zone"] = str(values["zone"])
        for name in ("needs", "languages"):
            if name in values:
                listed = values[name]
                values[name] = tuple(listed) if isinstance(listed, list) else (str(listed),)
        try:
            out.append(cls(**values))
        except TypeError as exc:
            raise InputError(label, "record", str(exc)) from None
    return tuple(out)


def _alert(data: Mapping[str, Any]) -> Alert:
    alert = data.get("alert")
    if not isinstance(alert, dict):
        raise InputError("scenario", "alert", "is required: {deadline_minutes: ..., closed_ways: [...], ...}")
    if "deadline_minutes" not in alert:
        raise InputError("alert", "deadline_minutes", "is required")
    closed = alert.get("closed_ways") or []
    zones = alert.get("flood_zones") or []
    if not isinstance(closed, list):
        raise InputError("alert", "closed_ways", "must be a list of OSM way ids")
    if not isinstance(zones, list):
        raise InputError("alert", "flood_zones", "must be a list of GeoJSON polygons")
    start = alert.get("start")
    return Alert(alert["deadline_minutes"], None if start is None else str(start), tuple(closed), tuple(zones))


def _service(data: Mapping[str, Any]) -> ServiceMinutes:
    service = data.get("service_minutes") or {}
    if not isinstance(service, dict):
        raise InputError("scenario", "service_minutes", "must be {pickup: minutes, dropoff: minutes}")
    return ServiceMinutes(**{k: v for k, v in service.items() if k in ("pickup", "dropoff")})


def _rules(data: Mapping[str, Any], settings: Settings) -> Rules:
    """The settings' rules, with the scenario's ``rules`` mapping over them."""
    base = settings.rules()
    given = data.get("rules") or {}
    if not isinstance(given, dict):
        raise InputError("scenario", "rules", "must be a mapping, e.g. {seats_per_pet: 1, pickup_targets: {1: 30}}")
    allowed = {f.name for f in fields(Rules)}
    for name in given:
        if name not in allowed:
            raise InputError("rules", str(name), f"unknown rule; the rules are: {', '.join(sorted(allowed))}")
    values = {f.name: given.get(f.name, getattr(base, f.name)) for f in fields(Rules)}
    targets = given.get("pickup_targets")
    if targets is not None:
        if not isinstance(targets, dict):
            raise InputError("rules", "pickup_targets", "must map a priority to minutes, e.g. {1: 30, 2: 60}")
        # JSON keys are text: "1" is priority 1.
        values["pickup_targets"] = tuple((int(k) if isinstance(k, str) and k.isdigit() else k, v)
                                         for k, v in targets.items())
    try:
        return Rules(**values)
    except TypeError as exc:
        raise InputError("scenario", "rules", str(exc)) from None


def resolve_map(data: Mapping[str, Any], base: Path | None) -> Path:
    """The scenario's map path; relative paths resolve against the scenario file's folder."""
    raw = data.get("map")
    if not raw or not isinstance(raw, str):
        raise MapError("scenario", "map", "is required: the path of an .osm.pbf or .osm file")
    path = Path(raw)
    if not path.is_absolute() and base is not None:
        path = (base / path).resolve()
    if not path.is_file():
        raise MapError("scenario", "map", f"unknown map file {raw!r} (looked at {path})")
    return path


def problem_from_dict(
    data: Mapping[str, Any],
    base: Path | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    graph: RoadGraph | None = None,
    previous: Problem | None = None,
    needed: Collection[LocationRef] | None = None,
) -> Scenario:
    """Build the problem of a scenario mapping: validate records, load the map, snap, apply closures, time.

    ``graph``, when the caller already holds the scenario map's road graph (a service loads it once),
    is used instead of loading the map again. ``previous``, an earlier problem on that graph, lets the travel
    times be updated rather than rebuilt when only closures were added, among the places ``needed`` when given
    (see ``problem_on_graph``).
    """
    settings = settings or get_settings()
    say = progress or (lambda _m: None)
    households, drivers, _ = records_of(data)  # bad records fail before the map is touched
    check_phones([*households, *drivers], settings.phone_region)
    _rules(data, settings)
    map_path = resolve_map(data, base)
    if graph is None:
        say(f"loading map {map_path.name}")
        graph = load_road_graph(map_path, settings.cache_dir)
    problem, closures = problem_on_graph(data, graph, settings, say, previous, needed)
    return Scenario(None, map_path, problem, graph, closures, dict(data))


def records_of(data: Mapping[str, Any]) -> tuple[tuple[Household, ...], tuple[Driver, ...], tuple[Shelter, ...]]:
    households = _records(data, "households", "household", Household)
    drivers = _records(data, "drivers", "driver", Driver)
    shelters = _records(data, "shelters", "shelter", Shelter)
    check_unique_ids(households, drivers, shelters)
    return households, drivers, shelters


def alert_of(data: Mapping[str, Any]) -> Alert:
    """The scenario's validated alert."""
    return _alert(data)


def rules_of(data: Mapping[str, Any], settings: Settings) -> Rules:
    """The scenario's rules: the settings' defaults with its ``rules`` mapping over them (validated)."""
    return _rules(data, settings)


def service_of(data: Mapping[str, Any]) -> ServiceMinutes:
    """The scenario's validated service minutes."""
    return _service(data)


def problem_on_graph(
    data: Mapping[str, Any],
    graph: RoadGraph,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    previous: Problem | None = None,
    needed: Collection[LocationRef] | None = None,
) -> tuple[Problem, EdgeClosures]:
    """The problem of a scenario mapping on a road graph already loaded (its ``map`` is not read).

    ``previous``, a problem of the same map before closures were added (a re-plan), lets the travel times
    be updated instead of rebuilt: only sources whose shortest paths used a newly closed road run again.
    ``needed`` (a re-plan's places: ``matcher.live.places_needed``) limits that update to the times among those
    places; other changed times are left pending (``nan``, see ``TravelTimes``).
    Households whose street is closed are placed at a meeting point within their walk (named by the
    streets the road graph keeps), or listed as unreachable with what to do.
    """
    settings = settings or get_settings()
    say = progress or (lambda _m: None)
    households, drivers, shelters = records_of(data)
    check_phones([*households, *drivers], settings.phone_region)
    alert = _alert(data)
    service = _service(data)
    rules = _rules(data, settings)
    closures = edge_closures(graph, alert.closed_ways, alert.flood_zones)
    if closures.unknown_ways:
        say(f"warning: closed ways not on the drivable map: {', '.join(map(str, closures.unknown_ways))}")
    walk = Problem.walk_rule(rules)
    names = graph.way_names(with_ref=True) if closures.closed.any() else None
    access = plan_access(graph, closures, households, walk, names)
    if access.meeting_points:
        say(f"{len(access.meeting_points)} households meet their car at a corner: their street is closed")
    meet = access.meeting_points
    places = (
        [(LocationRef("driver", d.id), d.lat, d.lon) for d in drivers]
        + [(LocationRef("household", h.id), *((meet[h.id].lat, meet[h.id].lon) if h.id in meet else (h.lat, h.lon)))
           for h in households]
        + [(LocationRef("shelter", s.id), s.lat, s.lon) for s in shelters]
    )
    say(f"travel times among {len(places)} places ({closures.closed_count} road segments closed)")
    def told(update: UpdateReport) -> None:
        if update.full_rebuild_reason:
            say(f"travel times rebuilt: {update.full_rebuild_reason}")
        else:
            pending = f", {update.pending} pairs of places the re-plan does not need pending" if update.pending else ""
            say(f"travel times updated: {update.recomputed} rows and {update.columns} columns of {update.sources} "
                f"recomputed{pending}")

    wanted = None if needed is None else [i for i, (ref, _, _) in enumerate(places) if ref in needed]
    travel = matrix_for_places(graph, places, closures, settings.snap_max_meters,
                               previous=None if previous is None else previous.travel, report=told, needed=wanted)
    name = str(data.get("name") or "scenario")
    return Problem(name, households, drivers, shelters, alert, travel, service, rules, access.meeting_points,
                   access.unreachable), closures


def load_scenario(
    path: str | Path, settings: Settings | None = None, progress: Callable[[str], None] | None = None
) -> Scenario:
    """Read a scenario file and build its problem on its road map."""
    path = Path(path)
    data = read_scenario_file(path)
    scenario = problem_from_dict(data, path.parent.resolve(), settings, progress)
    return Scenario(path, scenario.map_path, scenario.problem, scenario.graph, scenario.closures, scenario.raw)
