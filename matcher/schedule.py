"""Turn per-driver visit sequences into a timed Plan with road legs (shared by the solver and its peers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matcher.plan import Leg, Metrics, Plan, Route, Stop, Unserved
from matcher.problem import Problem
from matcher.requests import Request


@dataclass(frozen=True)
class Pickup:
    """Board one request at its household's home."""

    request: Request


@dataclass(frozen=True)
class Dropoff:
    """Unload these requests (all on board in this car) at a shelter."""

    shelter_id: str
    requests: tuple[Request, ...]


Visit = Pickup | Dropoff


def _place(problem: Problem, visit: Visit) -> int:
    if isinstance(visit, Pickup):
        return problem.travel.index("household", visit.request.household_id)
    return problem.travel.index("shelter", visit.shelter_id)


def _merge_dropoffs(visits: Sequence[Visit]) -> list[Visit]:
    """Consecutive drop-offs at one shelter are one stop: the car unloads once."""
    merged: list[Visit] = []
    for visit in visits:
        last = merged[-1] if merged else None
        if isinstance(visit, Dropoff) and isinstance(last, Dropoff) and last.shelter_id == visit.shelter_id:
            merged[-1] = Dropoff(visit.shelter_id, last.requests + visit.requests)
        else:
            merged.append(visit)
    return merged


@dataclass(frozen=True)
class _Timed:
    """One driver's visits with the matrix places of each leg and each visit's arrival and departure."""

    driver_id: str
    visits: list[Visit]
    legs: list[tuple[int, int]]
    times: list[tuple[float, float]]


def _time_visits(problem: Problem, sequences: Mapping[str, Sequence[Visit]]) -> list[_Timed]:
    """Every driver's visits timed as early as the rules allow, in the problem's driver order."""
    travel = problem.travel
    timed: list[_Timed] = []
    for driver in problem.drivers:
        visits = _merge_dropoffs(sequences.get(driver.id, ()))
        if not visits:
            continue
        at = travel.index("driver", driver.id)
        clock = driver.available_from_minute
        legs_idx: list[tuple[int, int]] = []
        times: list[tuple[float, float]] = []
        for visit in visits:
            to = _place(problem, visit)
            arrive = clock + float(travel.minutes[at, to])
            if isinstance(visit, Pickup):
                ready = problem.household(visit.request.household_id).ready_from_minute
                depart = max(arrive, ready) + problem.service.pickup
            else:
                depart = arrive + problem.service.dropoff
            legs_idx.append((at, to))
            times.append((arrive, depart))
            at, clock = to, depart
        timed.append(_Timed(driver.id, visits, legs_idx, times))
    return timed


def _stop(problem: Problem, visit: Visit, arrive: float, depart: float) -> Stop:
    """The plan stop of a visit: a pickup of one request, or a drop-off of the requests it unloads."""
    if isinstance(visit, Pickup):
        r = visit.request
        h = problem.household(r.household_id)
        return Stop("pickup", h.lat, h.lon, arrive, depart, household_id=h.id, people=r.people,
                    wheelchair_users=r.wheelchair_users, part=r.part, parts=r.parts)
    s = problem.shelter(visit.shelter_id)
    ids = tuple(dict.fromkeys(r.household_id for r in visit.requests))
    return Stop("dropoff", s.lat, s.lon, arrive, depart, shelter_id=s.id, household_ids=ids,
                people=sum(r.people for r in visit.requests),
                wheelchair_users=sum(r.wheelchair_users for r in visit.requests))


def build_plan(
    problem: Problem,
    sequences: Mapping[str, Sequence[Visit]],
    unserved: Sequence[Unserved],
    *,
    solve_seconds: float = 0.0,
    first_plan_seconds: float | None = None,
    with_paths: bool = True,
) -> Plan:
    """Time every visit as early as the rules allow and attach each leg's road path.

    A pickup starts at ``max(arrival, ready_from_minute)``; a drop-off at arrival. Drivers leave at
    ``available_from_minute``. With ``with_paths`` false the legs carry no geometry (fast, for search).
    """
    travel = problem.travel
    timed = _time_visits(problem, sequences)
    paths = {}
    pairs = [pair for t in timed for pair in t.legs]
    if with_paths and travel.router is not None and pairs:
        unique = list(dict.fromkeys(pairs))
        paths = dict(zip(unique, travel.router.paths(unique), strict=True))

    routes: list[Route] = []
    clearance = 0.0
    drive = 0.0
    served_people = 0
    served: set[str] = set()
    for t in timed:
        stops: list[Stop] = []
        legs: list[Leg] = []
        for visit, pair, (arrive, depart) in zip(t.visits, t.legs, t.times, strict=True):
            minutes = float(travel.minutes[pair])
            path = paths.get(pair)
            legs.append(Leg(minutes, path.meters, polyline=path.polyline) if path else Leg(minutes, None))
            drive += minutes
            stop = _stop(problem, visit, arrive, depart)
            stops.append(stop)
            if stop.type == "dropoff":
                clearance = max(clearance, arrive)
                served_people += stop.people
                served.update(stop.household_ids)
        routes.append(Route(t.driver_id, tuple(stops), tuple(legs)))

    metrics = Metrics(
        clearance_minute=clearance,
        households_served=len(served),
        households_unserved=len(unserved),
        people_served=served_people,
        solve_seconds=solve_seconds,
        drive_minutes=drive,
        first_plan_seconds=first_plan_seconds,
    )
    return Plan(problem.name, metrics, tuple(routes), tuple(unserved))
