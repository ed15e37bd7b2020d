"""Regional plans: split a large problem into zones, solve them through any executor, coordinate, one plan.

The flow: records -> snapped places -> zones (``matcher.zones``) -> bounded travel times
(``matcher.travel_bounded``) -> cars lent and shelter room split -> one ``solve`` per zone (in parallel
through an :class:`Executor`; a Dask one lives in the ``cluster`` package) -> coordination: cars move from the
zone that finishes earliest to the one that finishes last and both are solved again while the regional
clearance drops; then a boundary repair merges the latest zone with a neighbour and solves the pair as
one -> one plan with road legs, checked by ``matcher.check`` like any other.

Every decision depends on zone results alone, and each zone solve is deterministic for its seed and work
budget, so the plan is the same with 0, 1 or 20 workers. Zone budgets come from the time limit and the
number of zones, never from the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from matcher.codes import UNSERVED_TEXTS, UnservedCode
from matcher.errors import InputError
from matcher.phones import check_phones
from matcher.plan import Plan, Unserved
from matcher.problem import Alert, Driver, Household, Problem, Rules, ServiceMinutes, Shelter
from matcher.requests import Request
from matcher.roads.closures import EdgeClosures, edge_closures
from matcher.roads.graph import RoadGraph
from matcher.roads.meeting import Access, WayNames, plan_access
from matcher.roads.snap import snap_points
from matcher.schedule import Dropoff, Pickup, Visit, build_plan
from matcher.settings import Settings, get_settings
from matcher.solver import SolveParams, solve
from matcher.solver.bound import ClearanceBound, clearance_bound
from matcher.solver.instance import build_instance
from matcher.travel import LocationRef, TravelTimes
from matcher.travel_bounded import Reach, RegionalTimes, regional_times
from matcher.zones import Places, Work, ZoneMap, ZonesFile, _targets, allot_cars, project, split_capacity, zone_map

T = TypeVar("T")
R = TypeVar("R")
Say = Callable[[str], None]
Tick = Callable[[int, int], None]

#: The unserved code and reason of households in a zone that no car serves, and none near it can lend one.
NO_CAR_NEAR = UnservedCode.NO_CAR_NEAR
NO_CAR_NEAR_REASON = UNSERVED_TEXTS[UnservedCode.NO_CAR_NEAR].remedy
#: Share of the time limit for the first round of zone solves; the rest goes to coordination.
FIRST_SHARE = 0.25
#: Cores the zone budgets assume (the target machine's): with fewer workers the solve just takes longer.
BUDGET_CORES = 2
#: A move or merge is kept only if it brings the regional clearance down by more than this.
GAIN_MINUTES = 0.1
#: Share of the donor zone's cars moved in one step (at least one).
MOVE_SHARE = 0.1
#: Share of the time limit for car moves between zones.
MOVE_SHARE_OF_LIMIT = 0.25
#: Share of the time limit for boundary repairs (plus what the moves leave).
REPAIR_SHARE_OF_LIMIT = 0.1
#: Share of the time limit for the polish (plus what the repairs leave). The shares leave a tenth of the limit
#: unspent: a polish solve costs more than its work in OR-Tools rounds (docs/region.md), and the whole command,
#: not the solve alone, has the minute.
POLISH_SHARE_OF_LIMIT = 0.3
#: A polish solves the latest groups again with this many times a zone's work.
POLISH_FACTOR = 4
#: Boundary repairs tried side by side in one step: the latest zone merged with each of this many neighbours.
REPAIR_TRIES = 2


class Executor(Protocol):
    """Runs ``fn`` on every item, anywhere, and returns the results in item order."""

    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Tick | None = None) -> list[R]: ...


class SerialExecutor:
    """Runs tasks here, one after another (0 workers)."""

    workers = 0

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Tick | None = None) -> list[R]:
        out = []
        for i, item in enumerate(items, start=1):
            out.append(fn(item))
            if progress is not None:
                progress(i, len(items))
        return out


@dataclass(frozen=True)
class RegionParams:
    """How to split and how long to search; the same values give the same plan on any number of workers."""

    time_limit_seconds: float = 40.0
    seed: int = 0
    #: About this many households per zone when zones are found by clustering.
    zone_households: int = 500
    reach: Reach = field(default_factory=Reach)
    #: Most rounds of car moves (each solves two zones again); the work budget may end them earlier.
    max_rounds: int = 12

    def zone_seconds(self, zones: int) -> float:
        """Each zone's solver limit: the first round of all zones fits its share of the limit on 2 cores."""
        return max(0.5, self.time_limit_seconds * FIRST_SHARE * BUDGET_CORES / max(zones, 1))


@dataclass(frozen=True)
class ZoneTask:
    """One solve: the zone (or zones) it covers, its sub-problem without road paths, and the solver params."""

    label: str
    problem: Problem
    params: SolveParams


@dataclass(frozen=True)
class ZoneResult:
    """What a zone solve gives back: each car's visits, the unserved and the figures that steer coordination."""

    label: str
    sequences: dict[str, list[Visit]]
    unserved: tuple[Unserved, ...]
    clearance: float
    short: int  # households left for want of cars (the ones more cars could bring out)
    seconds: float
    #: Each car's last drop-off arrival (the minute it is done), by driver id: which kind of car sets the zone's
    #: clearance steers which cars a move lends.
    finish: Mapping[str, float] = field(default_factory=dict)

    def key(self) -> tuple[int, float]:
        """Worse is larger: households short of cars first, then the clearance."""
        return (self.short, self.clearance)


def _visits_of(plan: Plan) -> dict[str, list[Visit]]:
    """The visit sequences of a plan (parts unload at the shelter stop that lists their household)."""
    out: dict[str, list[Visit]] = {}
    for route in plan.routes:
        on_board: list[Request] = []
        visits: list[Visit] = []
        for stop in route.stops:
            if stop.type == "pickup":
                request = Request(str(stop.household_id), stop.part or 1, stop.parts or 1, stop.people,
                                  stop.wheelchair_users, stop.pets)
                on_board.append(request)
                visits.append(Pickup(request))
            else:
                leaving = tuple(r for r in on_board if r.household_id in stop.household_ids)
                on_board = [r for r in on_board if r.household_id not in stop.household_ids]
                visits.append(Dropoff(str(stop.shelter_id), leaving))
        out[route.driver_id] = visits
    return out


def solve_zone(task: ZoneTask) -> ZoneResult:
    """Solve one zone (a Dask task: a module-level function of picklable data)."""
    started = time.perf_counter()
    with np.errstate(invalid="ignore"):  # legs not computed are inf; inf - inf compares false, as meant
        plan = solve(task.problem, task.params)
    short = sum(1 for u in plan.unserved if u.code == UnservedCode.NOT_ENOUGH_CARS)
    finish = {r.driver_id: r.stops[-1].arrive_minute for r in plan.routes if r.stops}
    return ZoneResult(task.label, _visits_of(plan), plan.unserved, plan.metrics.clearance_minute, short,
                      time.perf_counter() - started, finish)


@dataclass(eq=False)
class Region:
    """A regional problem ready to solve: the whole problem, its table, the zones, cars lent and room split."""

    problem: Problem
    times: RegionalTimes
    zones: ZoneMap
    serving: npt.NDArray[np.int64]  # zone each car serves
    capacity: npt.NDArray[np.int64]  # people per (zone, shelter)
    household_xy: npt.NDArray[np.float64]
    driver_xy: npt.NDArray[np.float64]
    closures: EdgeClosures | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @cached_property
    def driver_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.problem.drivers)

    @cached_property
    def driver_index(self) -> dict[str, int]:
        return {d: k for k, d in enumerate(self.driver_ids)}

    @cached_property
    def wheelchair_spaces(self) -> npt.NDArray[np.int64]:
        return np.array([d.wheelchair_spaces for d in self.problem.drivers], dtype=np.int64)

    def centre(self, zones: frozenset[int]) -> npt.NDArray[np.float64]:
        mask = np.isin(self.zones.household_zone, list(zones))
        return np.asarray(self.household_xy[mask].mean(axis=0))

    def task(self, group: frozenset[int], seconds: float, seed: int) -> ZoneTask | None:
        """The sub-problem of a group of zones: its households, the cars serving it, the room it was given."""
        p = self.problem
        hh = np.flatnonzero(np.isin(self.zones.household_zone, list(group)))
        cars = np.flatnonzero(np.isin(self.serving, list(group)))
        if len(cars) == 0:
            return None
        t = self.problem.travel
        driver_rows, household_cols = self.make_reachable(group, cars, hh)
        room = self.capacity[list(group)].sum(axis=0)
        # Pet room is shared out like the room for people, so zones solved apart never overbook it.
        shelters = [replace(s, capacity=int(room[k]), pet_capacity=None if s.pet_capacity is None else
                            int(s.pet_capacity * room[k] // max(s.capacity, 1)))
                    for k, s in enumerate(p.shelters) if room[k] > 0]
        if not shelters:
            shelters = [replace(s, capacity=0) for s in p.shelters]
        shelter_rows = [t.index("shelter", s.id) for s in shelters]
        rows = driver_rows + household_cols + shelter_rows
        refs = tuple(t.locations[i] for i in rows)
        minutes = np.asarray(self.times.minutes[np.ix_(rows, rows)], dtype=np.float64)
        households = tuple(p.households[h] for h in hh)
        drivers = tuple(p.drivers[c] for c in cars)
        label = "+".join(self.zones.names[z] for z in sorted(group))
        ids = {h.id for h in households}
        # The zone keeps the whole problem's rules, meeting points and reasons: a zone solve is a single solve.
        sub = Problem(f"{p.name} [{label}]", households, drivers, tuple(shelters), p.alert,
                      TravelTimes(refs, minutes), p.service, p.rules,
                      {k: v for k, v in p.meeting_points.items() if k in ids},
                      {k: v for k, v in p.unreachable.items() if k in ids})
        # The guard counts this process's CPU seconds and sits far out: a busy machine must not change which plan
        # a seed gives (on the wall clock it was reached at load 20, and 1 and 2 workers gave different plans).
        # Without exchange-pair moves: a sixth less CPU for the zone solves at 10,000 households, the same
        # clearance within 0.1 min (docs/region.md).
        params = SolveParams(time_limit_seconds=seconds, seed=seed, safety_stop_seconds=20 * seconds + 30,
                             safety_clock="cpu", pair_exchange=False)
        return ZoneTask(label, sub, params)

    def make_reachable(self, group: frozenset[int], cars: npt.NDArray[np.int64], hh: npt.NDArray[np.int64]
                       ) -> tuple[list[int], list[int]]:
        """Fill the table so ``cars`` (serving ``group``) can reach households ``hh``; their rows and columns.

        Exact times for lent cars (full rows) and for households none of these cars reaches within the bound
        (full columns; for a wheelchair household: no wheelchair car).
        """
        p, t = self.problem, self.problem.travel
        driver_rows = [t.index("driver", p.drivers[c].id) for c in cars]
        household_cols = [t.index("household", p.households[h].id) for h in hh]
        lent = [r for r, c in zip(driver_rows, cars, strict=True) if self.zones.driver_zone[c] not in group]
        self.times.fill_rows(lent)
        block = np.isfinite(self.times.minutes[np.ix_(driver_rows, household_cols)])
        # A household only a wheelchair car can take must be reached by one of those, not just by any car.
        wheel_cars = np.array([p.drivers[c].wheelchair_spaces for c in cars])
        need = np.array([p.households[h].wheelchair_users for h in hh])
        reached = (block & (wheel_cars[:, None] >= need[None, :])).any(axis=0)
        self.times.fill_columns([household_cols[k] for k in np.flatnonzero(~reached)])
        return driver_rows, household_cols

    def no_car(self, group: frozenset[int]) -> ZoneResult:
        """The result of a zone no car serves: every household unserved, saying so."""
        hh = np.flatnonzero(np.isin(self.zones.household_zone, list(group)))
        unserved = tuple(Unserved(self.problem.households[h].id, NO_CAR_NEAR_REASON, NO_CAR_NEAR) for h in hh)
        label = "+".join(self.zones.names[z] for z in sorted(group))
        return ZoneResult(label, {}, unserved, 0.0, len(hh), 0.0)


def _places(problem: Problem, household_vertex: npt.NDArray[np.int64],
            driver_vertex: npt.NDArray[np.int64]) -> Places:
    hs, ds = problem.households, problem.drivers
    return Places(
        np.array([h.lat for h in hs]), np.array([h.lon for h in hs]), tuple(h.zone for h in hs),
        tuple(h.record for h in hs),
        np.array([d.lat for d in ds]), np.array([d.lon for d in ds]), tuple(d.zone for d in ds),
        tuple(d.record for d in ds), household_vertex, driver_vertex,
    )


def _work(problem: Problem, zones: ZoneMap, to_shelter: npt.NDArray[np.float64],
          from_shelter: npt.NDArray[np.float64], takes: npt.NDArray[np.bool_]) -> Work:
    """Car minutes each household costs: there and back to its nearest shelter, plus the stops, per seat; and
    for wheelchair users, per wheelchair space: the stops, the drive in from the nearest shelter that takes it
    and the drive out to the nearest such shelter (``from_shelter`` is shelters x households).

    A car with one wheelchair space makes one trip per wheelchair user whatever the household's size, coming
    from the shelter where it left the last one: that, not the seats, is the work of the few wheelchair cars,
    which set every zone's clearance at 10,000 households on Porto (docs/region.md). It is the work the
    wheelchair-fleet clearance bound counts (``matcher.solver.bound``), less what first drives save.
    """
    seats = np.mean([max(d.seats, 1) for d in problem.drivers]) if problem.drivers else 4.0
    people = np.array([h.people for h in problem.households], dtype=np.float64)
    stops = problem.service.pickup + problem.service.dropoff

    def nearest(table: npt.NDArray[np.float64], allowed: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        times = np.where(allowed & np.isfinite(table), table, np.inf)
        out = times.min(axis=1, initial=np.inf)
        return np.where(np.isfinite(out), out, 0.0)

    minutes = (2.0 * nearest(to_shelter, np.ones_like(takes)) + stops) * np.maximum(people / seats, 1.0 / seats)
    users = np.array([h.wheelchair_users for h in problem.households], dtype=np.float64)
    spaces = [d.wheelchair_spaces for d in problem.drivers if d.wheelchair_spaces > 0]
    per_car = float(np.mean(spaces)) if spaces else 1.0
    trip = nearest(from_shelter.T, takes) + nearest(to_shelter, takes) + stops
    wheel_minutes = np.where(users > 0, trip * np.ceil(users / per_car), 0.0)
    return Work(zones.household_zone, minutes, users > 0, wheel_minutes)


def build_region(name: str, problem_records: tuple[tuple[Household, ...], tuple[Driver, ...], tuple[Shelter, ...]],
                 alert: Alert, service: ServiceMinutes, graph: RoadGraph, closures: EdgeClosures | None, *,
                 zones_file: ZonesFile | None = None, params: RegionParams | None = None,
                 settings: Settings | None = None, progress: Say | None = None, rules: Rules | None = None,
                 way_names: WayNames | None = None) -> Region:
    """Snap, zone, time and share out a regional problem; closures are the alert's, already on ``graph``.

    ``rules`` (default: the settings') are the scenario's needs and urgency rules. As in a single solve,
    households whose street is closed are placed at a meeting point within their walk (named from
    ``way_names`` when given), or listed as unreachable with what to do.
    """
    params = params or RegionParams()
    settings = settings or get_settings()
    rules = rules or settings.rules()
    say = progress or (lambda _m: None)
    households, drivers, shelters = problem_records
    started = time.perf_counter()
    access = Access({}, {}) if closures is None else plan_access(graph, closures, households,
                                                                   Problem.walk_rule(rules), way_names)
    if access.meeting_points:
        say(f"{len(access.meeting_points)} households meet their car at a corner: their street is closed")
    meet = access.meeting_points
    records: list[Household | Driver | Shelter] = [*drivers, *households, *shelters]
    refs = [LocationRef("driver", d.id) for d in drivers] + [LocationRef("household", h.id) for h in households] \
        + [LocationRef("shelter", s.id) for s in shelters]
    at = [(meet[r.id].lat, meet[r.id].lon) if isinstance(r, Household) and r.id in meet else (r.lat, r.lon)
          for r in records]
    snapped = snap_points(graph, [r.record for r in records], [a[0] for a in at], [a[1] for a in at],
                          settings.snap_max_meters)
    # Closed steps, not whole edges: a flood closes only the flooded part of a street, as in a single solve.
    times = regional_times(graph, refs, snapped.node, None if closures is None else closures.mask,
                           params.reach, say)
    problem = Problem(name, households, drivers, shelters, alert, times.travel_times(), service, rules,
                      meet, access.unreachable)
    seconds_times = time.perf_counter() - started
    started = time.perf_counter()
    n_d = len(drivers)
    places = _places(problem, times.vertex[n_d : n_d + len(households)], times.vertex[:n_d])
    zones = zone_map(places, times.graph.csr, params.zone_households, zones_file)
    hxy = project(places.household_lat, places.household_lon)
    dxy = project(places.driver_lat, places.driver_lon) if n_d else np.zeros((0, 2))
    h_rows = np.arange(n_d, n_d + len(households))
    s_rows = np.arange(n_d + len(households), len(refs))
    to_shelter = times.minutes[np.ix_(h_rows, s_rows)].astype(np.float64)
    takes = np.asarray(Problem.shelter_takes_table(households, shelters), dtype=bool).reshape(
        len(households), len(shelters))
    from_shelter = times.minutes[np.ix_(s_rows, h_rows)].astype(np.float64)
    work = _work(problem, zones, to_shelter, from_shelter, takes)
    serving = allot_cars(zones, work, dxy, hxy, np.array([d.wheelchair_spaces > 0 for d in drivers], dtype=bool))
    capacity = split_capacity(
        zones.household_zone, np.array([h.people for h in households], dtype=np.int64), work.wheelchair,
        to_shelter, np.array([s.capacity for s in shelters], dtype=np.int64),
        np.array([s.wheelchair_accessible for s in shelters], dtype=bool),
        np.array([h.priority for h in households], dtype=np.int64), len(zones.names),
        takes=takes)
    say(f"{len(zones.names)} zones ({', '.join(zones.names[:6])}{' ...' if len(zones.names) > 6 else ''}); "
        f"{int((serving != zones.driver_zone).sum())} cars lent to neighbouring zones")
    timings = {"travel_seconds": seconds_times, "zones_seconds": time.perf_counter() - started}
    return Region(problem, times, zones, serving, capacity, hxy, dxy, closures, timings)


@dataclass
class _State:
    groups: list[frozenset[int]]
    results: dict[frozenset[int], ZoneResult]

    def worst(self) -> frozenset[int]:
        return max(self.groups, key=lambda g: (self.results[g].key(), sorted(g)))

    def clearance(self) -> tuple[int, float]:
        return (sum(r.short for r in self.results.values()), max((r.clearance for r in self.results.values()),
                                                                   default=0.0))


def _solve_groups(region: Region, groups: Sequence[frozenset[int]], seconds: float, seed: int,
                  executor: Executor, tick: Tick | None) -> dict[frozenset[int], ZoneResult]:
    tasks: list[ZoneTask] = []
    keys: list[frozenset[int]] = []
    out: dict[frozenset[int], ZoneResult] = {}
    for g in groups:
        task = region.task(g, seconds, seed)
        if task is None:
            out[g] = region.no_car(g)
        else:
            tasks.append(task)
            keys.append(g)
    for g, result in zip(keys, executor.map(solve_zone, tasks, tick), strict=True):
        out[g] = result
    return out


def _room_used(region: Region, result: ZoneResult) -> npt.NDArray[np.int64]:
    """People a zone result takes to each shelter."""
    index = {s.id: k for k, s in enumerate(region.problem.shelters)}
    used = np.zeros(len(index), dtype=np.int64)
    for visits in result.sequences.values():
        for visit in visits:
            if isinstance(visit, Dropoff):
                used[index[visit.shelter_id]] += sum(r.people for r in visit.requests)
    return used


def _rebalance_room(region: Region, state: _State, seconds: float, seed: int, executor: Executor,
                    say: Say) -> None:
    """Zones that ran out of shelter room get the room the others left unused, and are solved again."""
    needy = [g for g in sorted(state.groups, key=sorted)
             if any(u.code == UnservedCode.NO_SHELTER_ROOM for u in state.results[g].unserved)]
    if not needy:
        return
    total = np.array([s.capacity for s in region.problem.shelters], dtype=np.int64)
    for g in state.groups:  # every zone keeps what its plan uses ...
        rows = sorted(g)
        region.capacity[rows] = 0
        region.capacity[rows[0]] = _room_used(region, state.results[g])
    for g in needy:  # ... and each needy one in turn gets all that is left
        rows = sorted(g)
        region.capacity[rows[0]] += total - region.capacity.sum(axis=0)
        before = state.results[g]
        after = _solve_groups(region, [g], seconds, seed, executor, None)[g]
        if len(after.unserved) <= len(before.unserved):
            state.results[g] = after
            say(f"shelter room rebalanced for {after.label}: {len(before.unserved)} -> {len(after.unserved)} unserved")
        region.capacity[rows[0]] = _room_used(region, state.results[g])
    # The room still left goes back in proportion to use, so later re-solves have slack again.
    spare = total - region.capacity.sum(axis=0)
    for k in range(len(total)):
        region.capacity[:, k] += _targets(int(spare[k]), region.capacity[:, k].astype(np.float64) + 1e-9)


def _latest_is_wheelchair(region: Region, result: ZoneResult) -> bool:
    """Whether a zone's clearance is set by a car with wheelchair spaces (its latest car has some)."""
    if result.short or not result.finish:
        return False
    latest = max(result.finish, key=lambda d: (result.finish[d], d))
    return bool(region.wheelchair_spaces[region.driver_index[latest]] > 0)


def _wheelchair_finish(region: Region, state: _State, group: frozenset[int]) -> tuple[npt.NDArray[np.int64], float]:
    """The wheelchair cars serving a group, and when the latest of them is done (0 for none used)."""
    cars = np.flatnonzero(np.isin(region.serving, list(group)) & (region.wheelchair_spaces > 0))
    finish = state.results[group].finish
    ids = region.driver_ids
    return cars, max((finish.get(ids[c], 0.0) for c in cars), default=0.0)


def _lend_count(donor_cars: int, donor_finish: float, cars: int, finish: float) -> int:
    """How many wheelchair cars to lend so that both zones' wheelchair work per car comes out most even.

    Each zone's wheelchair cars are taken to share its wheelchair work evenly: a zone's latest one finishes in
    proportion to its work over its cars. A rough guide (starts and trips differ), tried and kept only if the
    two zones solved again finish earlier; so a donor with two or more always lends at least one.
    """
    best, count = np.inf, 0  # a donor keeps at least one (donors have two or more)
    for m in range(1, donor_cars):
        worse = max(donor_finish * donor_cars / (donor_cars - m), finish * cars / (cars + m))
        if worse < best - 1e-9:
            best, count = worse, m
    return count


def _move_cars(region: Region, state: _State, seconds: float, seed: int, executor: Executor,
               say: Say, rounds: int) -> int:
    """Lend cars from the earliest-finishing zone to the latest while the regional clearance drops; the rounds
    used (each solves two zones side by side).

    Where the latest zone's clearance is set by a wheelchair car, more seated cars cannot help it: its wheelchair
    users ride only in wheelchair spaces (at 10,000 households on Porto, 28 of the 30 latest cars are wheelchair
    cars; docs/region.md). It is lent wheelchair cars, from the zone whose wheelchair cars are done earliest, as
    many as even out the two zones' wheelchair work per car. Otherwise the earliest zone lends its share of cars
    nearest the latest zone.
    """
    tried: set[tuple[frozenset[int], frozenset[int], bool]] = set()
    for used in range(rounds):
        worst = state.worst()
        bad = state.results[worst]
        wheel = _latest_is_wheelchair(region, bad)
        if wheel:
            own_wheel, own_finish = _wheelchair_finish(region, state, worst)
            spare = {g: _wheelchair_finish(region, state, g) for g in state.groups
                     if g != worst and (worst, g, True) not in tried and state.results[g].short == 0}
            donors = sorted((g for g in spare if len(spare[g][0]) >= 2),
                            key=lambda g: (spare[g][1], sorted(g)))
        else:
            donors = [g for g in sorted(state.groups, key=lambda g: (state.results[g].key(), sorted(g)))
                      if g != worst and (worst, g, False) not in tried and state.results[g].short == 0
                      and int(np.isin(region.serving, list(g)).sum()) >= 2]
        if not donors:
            return used
        donor = donors[0]
        tried.add((worst, donor, wheel))
        centre = region.centre(worst)
        if wheel:
            own, donor_finish = spare[donor]
            k = _lend_count(len(own), donor_finish, len(own_wheel), own_finish)
        else:
            own = np.flatnonzero(np.isin(region.serving, list(donor)))
            k = max(1, round(MOVE_SHARE * len(own)))
        moving = own[np.argsort(((region.driver_xy[own] - centre) ** 2).sum(axis=1), kind="stable")[:k]]
        before = region.serving.copy()
        region.serving[moving] = min(worst)
        new = _solve_groups(region, [worst, donor], seconds, seed, executor, None)
        # Kept only if nobody more is left out (for any reason) and the pair now finishes earlier.
        more_left = len(new[worst].unserved) + len(new[donor].unserved) > \
            len(bad.unserved) + len(state.results[donor].unserved)
        if not more_left and max(new[worst].key(), new[donor].key()) < (bad.short, bad.clearance - GAIN_MINUTES):
            state.results.update(new)
            kind = " wheelchair" if wheel else ""
            say(f"moved {k}{kind} car(s) from {state.results[donor].label} to {bad.label}: clearance there "
                f"{bad.clearance:.1f} -> {new[worst].clearance:.1f} min")
            tried.clear()
        else:
            region.serving[:] = before
    return rounds


def _repair(region: Region, state: _State, seconds: float, seed: int, executor: Executor, say: Say,
            repairs: int) -> int:
    """Boundary repair: solve the latest zone together with a neighbour as one problem, keep it if better.

    Each step merges the latest zone with each of its ``REPAIR_TRIES`` best-placed neighbours, the merges solved
    side by side (on 2 cores in the wall time of one), and keeps the best that brings the pair's clearance down.
    Returns the repairs tried.
    """
    for used in range(repairs):
        worst = state.worst()
        touching = {n for z in worst for n in region.zones.neighbours[z]} - set(worst)
        partners = sorted((g for g in state.groups if g != worst and g & touching),
                          key=lambda g: (state.results[g].key(), sorted(g)))[:REPAIR_TRIES]
        if not partners:
            return used
        merges = [worst | partner for partner in partners]
        results = _solve_groups(region, merges, 2 * seconds, seed, executor, None)
        kept: tuple[tuple[int, float], list[int], frozenset[int], frozenset[int]] | None = None
        for partner, merged in zip(partners, merges, strict=True):
            result = results[merged]
            before = max(state.results[worst].key(), state.results[partner].key())
            left_before = len(state.results[worst].unserved) + len(state.results[partner].unserved)
            if len(result.unserved) <= left_before and result.key() < (before[0], before[1] - GAIN_MINUTES) \
                    and (kept is None or (result.key(), sorted(merged)) < (kept[0], kept[1])):
                kept = (result.key(), sorted(merged), partner, merged)
        if kept is None:
            return used + 1
        _, _, partner, merged = kept
        before = max(state.results[worst].key(), state.results[partner].key())
        result = results[merged]
        say(f"boundary repair {result.label}: clearance {before[1]:.1f} -> {result.clearance:.1f} min")
        state.groups = [g for g in state.groups if g not in (worst, partner)] + [merged]
        del state.results[worst], state.results[partner]
        state.results[merged] = result
    return repairs


def _polish(region: Region, state: _State, seconds: float, seed: int, executor: Executor, say: Say,
            budget: float) -> int:
    """Solve the latest groups again, in one batch, each with ``POLISH_FACTOR`` times its zones' work and another
    seed, the latest group twice (two seeds); keep each result that finishes earlier (nobody more left out).
    ``budget``: zone-times on ``BUDGET_CORES`` cores; groups are taken latest first while it pays for them.
    Returns the solves run.

    After the moves and repairs the region's clearance is a plateau of groups within minutes of each other,
    each solved with a zone's share of work; at 10,000 households on Porto four times the work took the latest
    groups 1-24 min earlier (docs/region.md), more than another move or merge did. A merged group gets its zones'
    work (as a repair does). One batch, largest first, so that the workers stay busy (a polish solve costs 1-15 s
    of CPU); rounds of two waited for the slower of each pair. The latest group alone sets the region's
    clearance: its second seed is what most often brings it down.
    """
    order = sorted(state.groups, key=lambda g: (state.results[g].key(), sorted(g)), reverse=True)
    tasks: list[ZoneTask] = []
    by_label: dict[str, frozenset[int]] = {}
    spent = 0.0
    for g in order:
        seeds = (seed + 1, seed + 2) if g == order[0] else (seed + 1,)
        cost = len(seeds) * POLISH_FACTOR * seconds * len(g) / BUDGET_CORES
        if spent + cost > budget + 1e-9:
            break
        task = region.task(g, POLISH_FACTOR * seconds * len(g), seeds[0])
        if task is None:
            continue
        spent += cost
        by_label[task.label] = g
        tasks += [replace(task, params=replace(task.params, seed=k)) for k in seeds]
    tasks.sort(key=lambda t: (-len(t.problem.households), t.label, t.params.seed))
    for task, result in zip(tasks, executor.map(solve_zone, tasks), strict=True):
        g = by_label[task.label]
        before = state.results[g]
        if len(result.unserved) <= len(before.unserved) and \
                result.key() < (before.short, before.clearance - GAIN_MINUTES):
            say(f"polish {result.label}: clearance {before.clearance:.1f} -> {result.clearance:.1f} min")
            state.results[g] = result
    return len(tasks)


def solve_region(region: Region, params: RegionParams | None = None, executor: Executor | None = None,
                 progress: Say | None = None, tick: Tick | None = None) -> Plan:
    """Solve every zone, coordinate, and assemble one plan (see the module doc)."""
    params = params or RegionParams()
    executor = executor or SerialExecutor()
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    n_z = len(region.zones.names)
    seconds = params.zone_seconds(n_z)
    groups = [frozenset({z}) for z in range(n_z)]
    say(f"solving {n_z} zones, {seconds:.1f} s of work each, on {executor.workers or 'no'} worker(s)")
    state = _State(groups, _solve_groups(region, groups, seconds, params.seed, executor, tick))
    _rebalance_room(region, state, seconds, params.seed, executor, say)
    first = time.perf_counter() - started
    short, clearance = state.clearance()
    say(f"first regional plan in {first:.1f} s: clearance {clearance:.1f} min, {short} households short of cars")
    # Coordination gets the rest of the limit: each round solves two zones side by side.
    # Budgets in solves, from the limit and the zone count alone: a round of moves solves two zones side by
    # side (one zone-time on 2 cores), a repair one pair of zones at twice the time.
    limit = params.time_limit_seconds
    # Repairs get the rest of the limit and the share of the moves that their rounds did not use (whole repairs
    # of each: a count from zone results alone, so still the same plan on any number of workers).
    rounds = min(params.max_rounds, int(limit * MOVE_SHARE_OF_LIMIT / seconds))
    lap = time.perf_counter()
    used = _move_cars(region, state, seconds, params.seed, executor, say, rounds)
    say(f"car moves: {used} round(s) in {time.perf_counter() - lap:.1f} s, clearance {state.clearance()[1]:.1f} min")
    repairs = int(limit * REPAIR_SHARE_OF_LIMIT / (2 * seconds)) \
        + int((limit * MOVE_SHARE_OF_LIMIT - used * seconds) / (2 * seconds))
    lap = time.perf_counter()
    tried = _repair(region, state, seconds, params.seed, executor, say, repairs)
    say(f"boundary repairs: {tried} tried in {time.perf_counter() - lap:.1f} s, clearance "
        f"{state.clearance()[1]:.1f} min")
    # The polish gets its share and the repairs' unused one: solves of POLISH_FACTOR zone-times a zone, two at a time.
    left = limit * POLISH_SHARE_OF_LIMIT + (repairs - tried) * 2 * seconds
    lap = time.perf_counter()
    polished = _polish(region, state, seconds, params.seed, executor, say, left)
    say(f"polish: {polished} solve(s) in {time.perf_counter() - lap:.1f} s, clearance {state.clearance()[1]:.1f} min")
    plan = assemble(region, state.results.values(), time.perf_counter() - started, first)
    lap = time.perf_counter()
    bound = region_bound(region, plan)
    say(f"clearance bound: no plan serving these households clears before minute {bound.minute:.1f} "
        f"({bound.kind}, the whole region; {time.perf_counter() - lap:.1f} s)")
    return replace(plan, metrics=replace(plan.metrics, clearance_bound_minute=bound.minute))


def region_bound(region: Region, plan: Plan) -> ClearanceBound:
    """The solver's clearance bound (``matcher.solver.bound``) for the whole region and the households the plan
    serves: one bound for the problem, not per zone (a zone's depends on the zoning and the cars it was lent).

    The regional table lacks most drives; the bound reads each one it lacks as a lower bound on it
    (``RegionalTimes.floors``), so it stays a bound: no plan serving these households, by zones or not, clears
    earlier. On Porto at 10,000 households it is within 0.2 min of the bound from exact searches (docs/region.md).
    """
    inst = build_instance(region.problem)
    left_out = {u.household_id for u in plan.unserved}
    shelter = np.array([-1 if r.household_id in left_out else 0 for r in inst.requests], dtype=np.int64)
    return clearance_bound(inst, shelter, region.times.floors)


def assemble(region: Region, results: Sequence[ZoneResult] | Any, solve_seconds: float,
             first_plan_seconds: float | None) -> Plan:
    """One plan from zone results: legs timed and given road paths on the regional table."""
    sequences: dict[str, list[Visit]] = {}
    unserved: list[Unserved] = []
    zones: list[dict[str, Any]] = []
    for result in sorted(results, key=lambda r: r.label):
        sequences.update(result.sequences)
        unserved.extend(result.unserved)
        zones.append({"zone": result.label, "clearance_minute": round(result.clearance, 2),
                      "cars": len(result.sequences), "unserved": len(result.unserved)})
    order = {h.id: i for i, h in enumerate(region.problem.households)}
    unserved = sorted((_regional_reason(region.problem, u) for u in unserved), key=lambda u: order[u.household_id])
    plan = build_plan(region.problem, sequences, unserved, solve_seconds=solve_seconds,
                      first_plan_seconds=first_plan_seconds)
    return replace(plan, extra={**plan.extra, "zones": zones})


def _regional_reason(problem: Problem, unserved: Unserved) -> Unserved:
    """A zone's triage sees only the cars serving its zone: where a car with the wheelchair spaces serves another
    zone, "no volunteer car has that many" would be untrue, and the coordinator's remedy is to lend one."""
    if unserved.code is not UnservedCode.NO_WHEELCHAIR_CAR:
        return unserved
    need = problem.household(unserved.household_id).wheelchair_users
    if not any(d.wheelchair_spaces >= need for d in problem.drivers):
        return unserved
    return replace(unserved, reason=f"needs {need} wheelchair space(s); every volunteer car with that many serves "
                   "another zone: lend one to this zone, or find a wheelchair van")


def check_zone_names(households: Sequence[Household], drivers: Sequence[Driver], shelters: Sequence[Shelter],
                     zones_file: ZonesFile) -> None:
    """Raise ``InputError`` for the first record naming a zone the zones file does not have."""
    known = set(zones_file.names)
    records: list[Household | Driver | Shelter] = [*households, *drivers, *shelters]
    for record in records:
        if record.zone and record.zone not in known:
            raise InputError(record.record, "zone", f"unknown zone {record.zone!r}: the zones file names "
                             f"{', '.join(zones_file.names[:10])}{' ...' if len(zones_file.names) > 10 else ''}")


def zone_counts(region: Region) -> Mapping[str, tuple[int, int]]:
    """Households and serving cars per zone name (for reports)."""
    hz, names = region.zones.household_zone, region.zones.names
    return {n: (int((hz == z).sum()), int((region.serving == z).sum())) for z, n in enumerate(names)}


def plan_is_regional(households: int, zones_given: bool, settings: Settings) -> bool:
    """Whether a problem is solved by zones: when zones are given, or it is larger than one solve handles."""
    return zones_given or households > settings.region_min_households


def region_from_dict(data: Mapping[str, Any], graph: RoadGraph, *, zones_file: ZonesFile | None = None,
                     params: RegionParams | None = None, settings: Settings | None = None,
                     progress: Say | None = None) -> Region:
    """The region of a scenario mapping on its road graph (the scenario format, plus ``zone`` fields).

    Its ``rules`` and closed streets count as in a single solve; meeting points are named by the streets the
    road graph keeps.
    """
    from matcher.scenario import alert_of, records_of, rules_of, service_of

    say = progress or (lambda _m: None)
    settings = settings or get_settings()
    households, drivers, shelters = records_of(data)
    check_phones([*households, *drivers], settings.phone_region)
    rules = rules_of(data, settings)
    if zones_file is not None:
        check_zone_names(households, drivers, shelters, zones_file)
    alert = alert_of(data)
    closures = edge_closures(graph, alert.closed_ways, alert.flood_zones)
    if closures.unknown_ways:
        say(f"warning: closed ways not on the drivable map: {', '.join(map(str, closures.unknown_ways))}")
    name = str(data.get("name") or "scenario")
    names = graph.way_names(with_ref=True) if closures.closed.any() else None
    return build_region(name, (households, drivers, shelters), alert, service_of(data), graph, closures,
                        zones_file=zones_file, params=params, settings=settings, progress=say, rules=rules,
                        way_names=names)


__all__ = ["NO_CAR_NEAR", "Executor", "Region", "RegionParams", "SerialExecutor", "ZoneResult", "ZoneTask",
           "assemble", "build_region", "region_from_dict", "solve_region", "solve_zone"]
