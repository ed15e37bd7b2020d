"""The evacuation as it runs: what is done, who is on board, and the problem that is left to plan.

A re-plan works on the *residual* problem: drivers stand where their last completed stop left them, or at the
stop they are on their way to (``_on_the_way``), riders on board first driven to their shelter by the same
driver; households not yet picked up wait, shelters have the room that is left. Completed stops are history and
never change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np

from matcher.codes import DONE, MISSED, MISSED_REASONS, StopStatus, UnservedCode
from matcher.plan import Leg, MeetingPoint, Metrics, Plan, Route, Stop, Unserved
from matcher.problem import Driver, Household, Problem, Shelter
from matcher.schedule import needs_figures
from matcher.travel import LegPath, LocationRef, TravelTimes


class LiveEvent(StrEnum):
    """What happened since the plan being followed was made; the re-plan policy decides on them."""

    STOP_REPORT = "stop_report"  # a stop picked up or dropped off
    NO_SHOW = "no_show"  # nobody at the door, or the driver could not get there
    NOT_READY = "not_ready"  # a household will be ready later than planned
    DROPOUT = "dropout"  # a driver can drive no more
    CLOSURE = "closure"  # roads closed or a flood zone grown
    NEW_REQUEST = "new_request"  # a household asked for a ride during the alert
    SHELTER_CHANGE = "shelter_change"  # a shelter's room changed
    COORDINATOR = "coordinator"  # a coordinator asked for a re-plan


@dataclass(frozen=True)
class StopReport:
    """A driver's report on one stop: stop ``stop_index`` of ``driver_id``'s route in plan ``plan_version``.

    ``household_id`` is the household picked up (pickups); reports of one household on several plan versions
    are weighed by the newest version that has any (see ``derive_state``).
    """

    driver_id: str
    stop_index: int
    status: StopStatus
    household_id: str | None = None
    plan_version: int = 0


@dataclass(frozen=True)
class Closures:
    """The roads closed at the minute of the state: OSM way ids and the number of flood zones."""

    closed_ways: tuple[int, ...] = ()
    flood_zones: int = 0


@dataclass(frozen=True)
class LiveState:
    """Everything a re-plan needs to know about what has happened by ``minute`` (built by ``derive_state``).

    ``completed[driver_id]`` is how many leading stops of that driver's route in the plan being followed are
    done (arrived and left); a done pickup of a missed household counts as done but puts nobody on board.
    ``dropped_drivers`` can drive no more (they still deliver riders on board). ``no_shows`` are households
    missed at their stop (nobody of them was picked up), ``cannot_reach`` those of them the driver could not
    get to (``missed_reason`` says which). ``on_board[driver_id]`` are the households in that car.
    ``new_requests`` and ``closures`` describe the picture the re-plan's problem holds; ``events`` say what
    happened since the plan being followed, for the re-plan policy.
    """

    minute: float
    completed: Mapping[str, int] = field(default_factory=dict)
    dropped_drivers: frozenset[str] = frozenset()
    no_shows: frozenset[str] = frozenset()
    cannot_reach: frozenset[str] = frozenset()
    on_board: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    new_requests: frozenset[str] = frozenset()
    closures: Closures = Closures()
    events: frozenset[LiveEvent] = frozenset()

    def missed_reason(self, household_id: str) -> str:
        """Why a missed household left the plan, in words for the coordinator."""
        status = StopStatus.CANNOT_REACH if household_id in self.cannot_reach else StopStatus.NO_SHOW
        return MISSED_REASONS[status]

    def same_history(self, other: LiveState) -> bool:
        """The same stops done and the same households missed (what a re-plan being published must still hold)."""
        return (dict(self.completed), self.no_shows) == (dict(other.completed), other.no_shows)


def leading_done(plan: Plan, status_of: Mapping[tuple[str, int], str]) -> dict[str, int]:
    """Per driver, how many leading stops of their route are done (stops are done in driving order)."""
    out: dict[str, int] = {}
    for route in plan.routes:
        n = 0
        while n < len(route.stops) and status_of.get((route.driver_id, n)) in DONE:
            n += 1
        if n:
            out[route.driver_id] = n
    return out


def missed_households(reports: Iterable[StopReport]) -> tuple[frozenset[str], frozenset[str]]:
    """``(no_shows, cannot_reach)`` from pickup reports, each household judged by its newest plan version.

    A household is missed when that version has ``no_show`` or ``cannot_reach`` for it and no ``picked_up``
    (a household of which any part was picked up is on its way, whatever happened at its other stops); an
    undone report (the stop back to waiting, no report) puts it back.
    """
    seen: dict[str, tuple[int, set[StopStatus]]] = {}
    for report in reports:
        if report.household_id is None:
            continue
        version, statuses = seen.get(report.household_id, (report.plan_version, set()))
        if report.plan_version > version:
            version, statuses = report.plan_version, set()
        if report.plan_version == version:
            statuses.add(report.status)
        seen[report.household_id] = (version, statuses)
    no_shows = {h for h, (_, s) in seen.items() if s & MISSED and StopStatus.PICKED_UP not in s}
    unreachable = {h for h in no_shows
                   if StopStatus.CANNOT_REACH in seen[h][1] and StopStatus.NO_SHOW not in seen[h][1]}
    return frozenset(no_shows), frozenset(unreachable)


def riders_on_board(plan: Plan, completed: Mapping[str, int], no_shows: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Per driver, the households picked up in the done part of the route and not yet dropped off."""
    out: dict[str, tuple[str, ...]] = {}
    for route in plan.routes:
        riders: list[str] = []
        for stop in route.stops[: completed.get(route.driver_id, 0)]:
            if stop.type == "pickup" and str(stop.household_id) not in no_shows:
                riders.append(str(stop.household_id))
            elif stop.type == "dropoff":
                riders = [h for h in riders if h not in stop.household_ids]
        if riders:
            out[route.driver_id] = tuple(dict.fromkeys(riders))
    return out


def derive_state(
    plan: Plan,
    reports: Iterable[StopReport],
    minute: float,
    *,
    plan_version: int = 0,
    dropped_drivers: frozenset[str] = frozenset(),
    new_requests: frozenset[str] = frozenset(),
    closures: Closures = Closures(),
    events: frozenset[LiveEvent] = frozenset(),
) -> LiveState:
    """The live state from the stop reports: the one place where reports become what a re-plan keeps.

    ``plan`` is the plan being followed (version ``plan_version``); ``reports`` are its stop reports and, for
    missed households, those of earlier versions. The service translates database rows into reports, the
    drills their simulated cars' stops.
    """
    reports = tuple(reports)
    status_of = {(r.driver_id, r.stop_index): r.status for r in reports if r.plan_version == plan_version}
    completed = leading_done(plan, status_of)
    no_shows, cannot_reach = missed_households(r for r in reports if r.plan_version <= plan_version)
    return LiveState(minute, completed, dropped_drivers, no_shows, cannot_reach,
                     riders_on_board(plan, completed, no_shows), new_requests, closures, events)


@dataclass(frozen=True)
class Frozen:
    """One driver's fixed part: completed stops (as they happened) plus forced drop-offs of riders on board."""

    driver_id: str
    stops: tuple[Stop, ...]
    legs: tuple[Leg, ...]
    place: LocationRef  # where the driver stands afterwards
    clock: float  # when the driver is free there
    picked: frozenset[tuple[str, int]]  # (household id, part) picked up in the fixed part


#: A previous plan's future: driver id -> [(pickups as (household id, part)), shelter id] per trip.
Trips = dict[str, list[tuple[list[tuple[str, int]], str]]]


@dataclass(frozen=True, eq=False)
class Residual:
    """The problem left to plan, and the fixed parts it continues."""

    problem: Problem
    frozen: dict[str, Frozen]
    #: people already delivered (or being delivered) per shelter id
    delivered: dict[str, int]
    no_shows: tuple[Unserved, ...]
    #: previous plan's future: driver id -> [(pickups as (household id, part)), shelter id] per trip
    previous_trips: Trips


class _RemappedRouter:
    """Road paths of the residual matrix, through the full problem's router."""

    def __init__(self, travel: TravelTimes, index: list[int]) -> None:
        self._travel = travel
        self._index = index

    def path(self, origin: int, destination: int) -> LegPath:
        return self._travel.leg(self._index[origin], self._index[destination])

    def paths(self, pairs: list[tuple[int, int]]) -> list[LegPath]:
        mapped = [(self._index[a], self._index[b]) for a, b in pairs]
        if self._travel.router is None:
            return [self._travel.leg(a, b) for a, b in mapped]
        return self._travel.router.paths(mapped)


def _freeze(
    problem: Problem, route: Route, done: int, now: float, no_shows: frozenset[str] = frozenset()
) -> tuple[Frozen, list[Stop], list[tuple[int, int]]]:
    """The completed prefix of a route, plus drop-offs for whoever is still on board; returns the rest too.

    A completed pickup of a no-show stays as a stop (the driver went there) but puts nobody on board, and
    later completed drop-offs no longer list that household, so it is not counted as delivered.
    The forced drop-offs' legs are left as placeholders (``None``) and their ``(origin, destination)``
    matrix pairs returned, in order: ``_freeze_routes`` asks the router for all of them in one batch
    (one call per leg cost a regional re-plan hundreds of per-call passes).
    """
    travel = problem.travel
    stops: list[Stop] = []
    legs: list[Leg | None] = list(route.legs[:done])
    pending: list[tuple[int, int]] = []
    on_board: dict[str, list[Stop]] = {}
    picked: set[tuple[str, int]] = set()
    absent: dict[str, list[Stop]] = {}
    for stop in route.stops[:done]:
        if stop.type == "pickup" and str(stop.household_id) in no_shows:
            absent.setdefault(str(stop.household_id), []).append(stop)
        elif stop.type == "pickup":
            on_board.setdefault(str(stop.household_id), []).append(stop)
            picked.add((str(stop.household_id), stop.part or 1))
        else:
            missing = [p for hid in stop.household_ids for p in absent.pop(hid, [])]
            if missing:
                stop = dataclasses.replace(
                    stop, household_ids=tuple(h for h in stop.household_ids if h not in no_shows),
                    people=stop.people - sum(p.people for p in missing),
                    wheelchair_users=stop.wheelchair_users - sum(p.wheelchair_users for p in missing))
            for hid in stop.household_ids:
                on_board.pop(hid, None)
        stops.append(stop)
    driver = problem.driver(route.driver_id)
    place = stops[-1].place if stops else LocationRef("driver", driver.id)
    clock = max(stops[-1].depart_minute if stops else driver.available_from_minute, now)
    rest = list(route.stops[done:])
    # Riders on board stay with their driver: drive them to the shelter the plan had for them.
    while on_board:
        nxt = next((s for s in rest if s.type == "dropoff" and set(s.household_ids) & on_board.keys()), None)
        shelter_id = str(nxt.shelter_id) if nxt else _nearest_shelter(problem, place)
        riders = [hid for hid in (nxt.household_ids if nxt else tuple(on_board)) if hid in on_board]
        to = LocationRef("shelter", shelter_id)
        a, b = travel.index(place.kind, place.id), travel.index(to.kind, to.id)
        pending.append((a, b))
        arrive = clock + float(travel.minutes[a, b])
        shelter = problem.shelter(shelter_id)
        parts = [p for hid in riders for p in on_board.pop(hid)]
        stops.append(Stop("dropoff", shelter.lat, shelter.lon, arrive, arrive + problem.service.dropoff,
                          shelter_id=shelter_id, household_ids=tuple(riders),
                          people=sum(p.people for p in parts), wheelchair_users=sum(p.wheelchair_users for p in parts)))
        legs.append(None)
        place, clock = to, arrive + problem.service.dropoff
    frozen = Frozen(route.driver_id, tuple(stops), tuple(legs), place, clock, frozenset(picked))  # type: ignore[arg-type]
    return frozen, rest, pending


def _leg_paths(travel: TravelTimes, pairs: list[tuple[int, int]]) -> list[LegPath]:
    """Road paths of these legs, in one router call (each equal to ``travel.leg`` of its pair)."""
    if travel.router is None:
        return [travel.leg(a, b) for a, b in pairs]
    return travel.router.paths(pairs)


def _nearest_shelter(problem: Problem, place: LocationRef) -> str:
    travel = problem.travel
    a = travel.index(place.kind, place.id)
    times = [float(travel.minutes[a, travel.index("shelter", s.id)]) for s in problem.shelters]
    return problem.shelters[int(np.argmin(times))].id


#: How far (minutes) today's drive of a leg may differ from the plan's and the leg still count as the one driven.
SAME_LEG_MINUTES = 0.01


def _on_the_way(problem: Problem, route: Route, done: int, state: LiveState) -> bool:
    """The driver has left its last reported stop for the next one, which the re-plan then keeps (see below).

    A driver between two stops is somewhere on the road to the next one. Standing them at the last stop they
    reported, free from now, drives again the minutes they have already driven (on a 10,000-household plan at
    minute 30, a car that had left a shelter at minute 15 for a pickup it reached at 28.5 was re-planned from the
    shelter at 30: its next stops 15 minutes later). Keeping the next stop as planned is always possible (the car
    is on its way there) and every other continuation through it is no quicker than from where the car is, so the
    plan stays one the car can drive. Not for a driver who dropped out (they only deliver riders on board), one
    who has reported nothing yet (they may not have set off), a leg today's roads changed (a closure: the car may
    be turning round), or a pickup whose household was missed or is now ready later than the car comes (the
    planned times would no longer hold).
    """
    if route.driver_id in state.dropped_drivers or not 0 < done < len(route.stops):
        return False
    last, nxt = route.stops[done - 1], route.stops[done]
    if state.minute <= last.depart_minute:
        return False  # still at the last stop
    travel = problem.travel
    a, b = last.place, nxt.place
    try:
        today = float(travel.minutes[travel.index(a.kind, a.id), travel.index(b.kind, b.id)])
        if nxt.type == "pickup":
            ready = problem.household(str(nxt.household_id)).ready_from_minute
            if str(nxt.household_id) in state.no_shows or ready > nxt.arrive_minute + 1e-6:
                return False
    except KeyError:  # a place or household the current picture no longer has
        return False
    return abs(today - route.legs[done].minutes) <= SAME_LEG_MINUTES


def _freeze_routes(problem: Problem, previous: Plan, state: LiveState) -> tuple[dict[str, Frozen], Trips]:
    """Each driver's fixed part, and the trips the previous plan had for them after it."""
    frozen: dict[str, Frozen] = {}
    previous_trips: Trips = {}
    drivers = {d.id for d in problem.drivers}
    to_walk: dict[str, list[tuple[int, int]]] = {}
    for route in previous.routes:
        if route.driver_id not in drivers:
            continue
        done = min(int(state.completed.get(route.driver_id, 0)), len(route.stops))
        if _on_the_way(problem, route, done, state):
            done += 1
        fixed, rest, pairs = _freeze(problem, route, done, state.minute, state.no_shows)
        frozen[route.driver_id] = fixed
        if pairs:
            to_walk[route.driver_id] = pairs
        trips: list[tuple[list[tuple[str, int]], str]] = []
        pending: list[tuple[str, int]] = []
        for stop in rest:
            if stop.type == "pickup":
                pending.append((str(stop.household_id), stop.part or 1))
            elif pending:
                trips.append((pending, str(stop.shelter_id)))
                pending = []
        previous_trips[route.driver_id] = trips
    # The forced drop-offs' road paths, all in one batch, put in their placeholders in order.
    paths = iter(_leg_paths(problem.travel, [pair for pairs in to_walk.values() for pair in pairs]))
    for driver_id in to_walk:
        fixed = frozen[driver_id]
        legs = tuple(leg if leg is not None else _as_leg(next(paths)) for leg in fixed.legs)
        frozen[driver_id] = dataclasses.replace(fixed, legs=legs)
    return frozen, previous_trips


def _as_leg(path: LegPath) -> Leg:
    # The polyline as it is: decoding it to points and encoding them again gives the same text.
    return Leg(path.minutes, path.meters, polyline=path.polyline)


def _delivered(frozen: dict[str, Frozen]) -> tuple[dict[str, int], dict[str, int]]:
    """People and pets already delivered (or being delivered) per shelter id."""
    delivered: dict[str, int] = {}
    pets: dict[str, int] = {}
    for f in frozen.values():
        for stop in f.stops:
            if stop.type == "dropoff":
                delivered[str(stop.shelter_id)] = delivered.get(str(stop.shelter_id), 0) + stop.people
                pets[str(stop.shelter_id)] = pets.get(str(stop.shelter_id), 0) + stop.pets
    return delivered, pets


def _households_left(problem: Problem, frozen: dict[str, Frozen], state: LiveState) -> tuple[Household, ...]:
    """Households still waiting for a car: not missed, not (wholly) picked up in a fixed part."""
    picked_people: dict[str, tuple[int, int, int]] = {}
    for f in frozen.values():
        for stop in f.stops:
            if stop.type == "pickup" and str(stop.household_id) not in state.no_shows:
                people, wheel, pets = picked_people.get(str(stop.household_id), (0, 0, 0))
                picked_people[str(stop.household_id)] = (people + stop.people, wheel + stop.wheelchair_users,
                                                         pets + stop.pets)
    left: list[Household] = []
    for h in problem.households:
        people, wheel, pets = picked_people.get(h.id, (0, 0, 0))
        if h.id in state.no_shows or people >= h.people:
            continue
        # Part of a split household is on its way: the rest of it (and of its pets) still waits for a car.
        left.append(h if people == 0 else dataclasses.replace(
            h, people=h.people - people, wheelchair_users=h.wheelchair_users - wheel, pets=max(0, h.pets - pets)))
    return tuple(left)


def _drivers_left(problem: Problem, frozen: dict[str, Frozen], state: LiveState
                  ) -> tuple[tuple[Driver, ...], list[LocationRef]]:
    """Drivers who can still drive, standing where their fixed part leaves them, free from when it ends."""
    drivers: list[Driver] = []
    places: list[LocationRef] = []
    for d in problem.drivers:
        if d.id in state.dropped_drivers:
            continue
        done_part = frozen.get(d.id)
        place = done_part.place if done_part else LocationRef("driver", d.id)
        clock = done_part.clock if done_part else max(d.available_from_minute, state.minute)
        end = problem.driver_end(d)
        if clock >= end:
            continue
        lat, lon = _coordinates(problem, place)
        # The driver's own limit, not ``end``: their unloading counts against it (``Problem.latest_arrival``).
        drivers.append(dataclasses.replace(d, lat=lat, lon=lon, available_from_minute=clock,
                                           available_until_minute=d.available_until_minute))
        places.append(place)
    return tuple(drivers), places


def places_needed(previous: Plan, state: LiveState, households: Iterable[str], drivers: Iterable[str],
                  shelters: Iterable[str]) -> frozenset[LocationRef]:
    """The places a re-plan at ``state`` reads travel times among (the ``residual_problem`` and the fixed parts):
    every driver's place after their done stops, every household not wholly picked up in a done stop, every
    shelter. ``households``, ``drivers`` and ``shelters`` are the ids of the current picture.

    A superset (a no-show's home is in it), so the travel-time update after a closure can leave the times among
    the other places pending (``problem_on_graph(needed=...)``): at minute 30 of a 1,000-household evacuation
    about half of the places.
    """
    out = {LocationRef("shelter", s) for s in shelters}
    routes = {r.driver_id: r for r in previous.routes}
    waiting: set[str] = set()
    picked: set[str] = set()
    for route in previous.routes:
        done = min(int(state.completed.get(route.driver_id, 0)), len(route.stops))
        for i, stop in enumerate(route.stops):
            if stop.type == "pickup":
                (picked if i < done else waiting).add(str(stop.household_id))
    for d in drivers:
        stops = routes[d].stops if d in routes else ()
        done = min(int(state.completed.get(d, 0)), len(stops))
        out.add(stops[done - 1].place if done else LocationRef("driver", d))
    gone = picked - waiting - state.no_shows
    out.update(LocationRef("household", h) for h in households if h not in gone)
    return frozenset(out)


def residual_problem(problem: Problem, previous: Plan, state: LiveState) -> Residual:
    """The part of ``problem`` still to plan at ``state.minute``, given ``previous`` and what happened.

    ``problem`` is the current picture (it may hold new households and new closures); ``previous``
    is the plan being followed.
    """
    frozen, previous_trips = _freeze_routes(problem, previous, state)
    picked_households = {hid for f in frozen.values() for hid, _ in f.picked}
    delivered, pets_delivered = _delivered(frozen)
    known = {h.id for h in problem.households}
    no_shows = tuple(Unserved(hid, state.missed_reason(hid), UnservedCode.NO_SHOW)
                     for hid in sorted(state.no_shows - picked_households) if hid in known)
    households = _households_left(problem, frozen, state)
    shelters = tuple(
        dataclasses.replace(s, capacity=max(0, s.capacity - delivered.get(s.id, 0)),
                            pet_capacity=None if s.pet_capacity is None else
                            max(0, s.pet_capacity - pets_delivered.get(s.id, 0)))
        for s in problem.shelters
    )
    drivers, places = _drivers_left(problem, frozen, state)
    travel = problem.travel
    refs = [LocationRef("driver", d.id) for d in drivers] + \
        [LocationRef("household", h.id) for h in households] + [LocationRef("shelter", s.id) for s in shelters]
    index = [travel.index(p.kind, p.id) for p in places] + \
        [travel.index("household", h.id) for h in households] + [travel.index("shelter", s.id) for s in shelters]
    minutes = travel.minutes[np.ix_(index, index)]
    residual_travel = TravelTimes(tuple(refs), minutes, _RemappedRouter(travel, index))
    left = {h.id for h in households}
    residual = Problem(problem.name, households, drivers, shelters, problem.alert, residual_travel,
                       problem.service, problem.rules,
                       {hid: m for hid, m in problem.meeting_points.items() if hid in left},
                       {hid: why for hid, why in problem.unreachable.items() if hid in left})
    return Residual(residual, frozen, delivered, no_shows, previous_trips)


def _coordinates(problem: Problem, place: LocationRef) -> tuple[float, float]:
    record: Household | Driver | Shelter | MeetingPoint
    if place.kind == "household":
        # A car that picked a household up at its meeting point is there, not at the door.
        record = problem.meeting_points.get(place.id) or problem.household(place.id)
    elif place.kind == "shelter":
        record = problem.shelter(place.id)
    else:
        record = problem.driver(place.id)
    return record.lat, record.lon


def merge(problem: Problem, residual: Residual, future: Plan) -> Plan:
    """The whole evacuation: each driver's fixed part followed by their new future route."""
    routes: list[Route] = []
    future_by_driver = {r.driver_id: r for r in future.routes}
    for d in problem.drivers:
        f = residual.frozen.get(d.id)
        nxt = future_by_driver.get(d.id)
        stops = (f.stops if f else ()) + (nxt.stops if nxt else ())
        legs = (f.legs if f else ()) + (nxt.legs if nxt else ())
        if stops:
            routes.append(Route(d.id, stops, legs))
    routes = _renumber_parts(routes)
    served = {hid for r in routes for s in r.stops if s.type == "dropoff" for hid in s.household_ids}
    unserved = [u for u in (*future.unserved, *residual.no_shows) if u.household_id not in served]
    drops = [s for r in routes for s in r.stops if s.type == "dropoff"]
    metrics = Metrics(
        clearance_minute=max((s.arrive_minute for s in drops), default=0.0),
        households_served=len(served),
        households_unserved=len(unserved),
        people_served=sum(s.people for s in drops),
        solve_seconds=future.metrics.solve_seconds,
        drive_minutes=sum(leg.minutes for r in routes for leg in r.legs),
        first_plan_seconds=future.metrics.first_plan_seconds,
        **asdict(needs_figures(problem, routes)),
    )
    return Plan(problem.name, metrics, tuple(routes), tuple(unserved))


def _renumber_parts(routes: list[Route]) -> list[Route]:
    """Number each household's parts 1..n by pickup time across all routes.

    A split household half picked up before a re-plan has its remaining people re-split in the
    residual problem, whose parts start again at 1.
    """
    pickups = sorted(
        (s.arrive_minute, ri, si)
        for ri, r in enumerate(routes)
        for si, s in enumerate(r.stops)
        if s.type == "pickup"
    )
    by_household: dict[str, list[tuple[int, int]]] = {}
    for _, ri, si in pickups:
        by_household.setdefault(str(routes[ri].stops[si].household_id), []).append((ri, si))
    new_stops = [list(r.stops) for r in routes]
    for places in by_household.values():
        n = len(places)
        for k, (ri, si) in enumerate(places, start=1):
            stop = new_stops[ri][si]
            new_stops[ri][si] = dataclasses.replace(stop, part=k if n > 1 else 1, parts=n)
    return [Route(r.driver_id, tuple(st), r.legs) for r, st in zip(routes, new_stops, strict=True)]
