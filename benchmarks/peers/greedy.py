"""Greedy dispatcher peer: what a careful human dispatcher would do, as a baseline for the solver.

Farthest household first; each trip pools the nearest households bound for the same shelter while
seats, wheelchair spaces and every rider's ride time allow; the trip goes to the car that finishes it
earliest, and cars make several trips (a car continues from the shelter it unloaded at).

Conventions match ``matcher.schedule.build_plan`` and the solver: a pickup starts at
``max(arrival, ready_from_minute)`` and takes ``service.pickup`` minutes; ride time runs from leaving
the home to arriving at the shelter; a car is done when its last drop-off arrives, which must not be
after ``problem.latest_arrival`` (the driver's own limit less the unloading, or the deadline).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from matcher.codes import UnservedCode
from matcher.plan import Plan, Unserved
from matcher.problem import Household, Problem
from matcher.requests import Request, requests_for
from matcher.schedule import Dropoff, Pickup, Visit, build_plan

EPS = 1e-6


@dataclass(frozen=True)
class ShelterChoice:
    """Each servable household's shelter, the households excluded before dispatch, and the dispatch order."""

    shelter_of: dict[str, str]
    unserved: list[Unserved]
    #: Household ids with a shelter, farthest from their shelter first.
    order: list[str]


def _eligible_minutes(problem: Problem, household: Household) -> list[tuple[float, str]]:
    """(minutes, shelter id) of the shelters this household may use and reach, nearest first."""
    out = []
    for s in problem.shelters:
        if household.wheelchair_users and not s.wheelchair_accessible:
            continue
        minutes = problem.minutes("household", household.id, "shelter", s.id)
        if math.isfinite(minutes):
            out.append((minutes, s.id))
    return sorted(out)


def assign_shelters(problem: Problem) -> ShelterChoice:
    """Farthest household first, each to the nearest shelter it may use that still has room for all its people.

    Farthest first because those trips are the longest and decide the clearance: they get the first pick.
    """
    unserved: list[Unserved] = []
    options: dict[str, list[tuple[float, str]]] = {}
    for h in problem.households:
        eligible = _eligible_minutes(problem, h)
        if eligible:
            options[h.id] = eligible
        elif h.wheelchair_users and any(
            math.isfinite(problem.minutes("household", h.id, "shelter", s.id)) for s in problem.shelters
        ):
            unserved.append(Unserved(h.id, "needs a wheelchair-accessible shelter; none can be reached",
                                     UnservedCode.NO_ACCESSIBLE_SHELTER))
        else:
            unserved.append(Unserved(h.id, "cut off: no shelter can be reached from this address",
                                     UnservedCode.CUT_OFF))
    room = {s.id: s.capacity for s in problem.shelters}
    shelter_of: dict[str, str] = {}
    by_far = sorted(options, key=lambda hid: (-options[hid][0][0], problem.household(hid).priority, hid))
    for hid in by_far:
        people = problem.household(hid).people
        chosen = next((sid for _m, sid in options[hid] if room[sid] >= people), None)
        if chosen is None:
            unserved.append(Unserved(hid, f"no shelter it can reach has room for {people} people",
                                     UnservedCode.NO_SHELTER_ROOM))
            continue
        room[chosen] -= people
        shelter_of[hid] = chosen
    order = [hid for hid in by_far if hid in shelter_of]
    order.sort(key=lambda hid: -problem.minutes("household", hid, "shelter", shelter_of[hid]))
    return ShelterChoice(shelter_of, unserved, order)


@dataclass
class _Car:
    """A car's state during dispatch: where it is, when it is free, its limits and its visits so far."""

    index: int  # position in problem.drivers
    at: int  # matrix index
    clock: float
    end: float
    seats: int
    wheelchair: int
    visits: list[Visit]


class _Dispatch:
    """One greedy run over the given requests, in dispatch order: the cars' state and what is still open."""

    def __init__(self, problem: Problem, choice: ShelterChoice, requests: list[Request]) -> None:
        self.problem = problem
        self.T = problem.travel.minutes
        travel = problem.travel
        self.requests = requests
        self.home = np.array([travel.index("household", r.household_id) for r in requests], dtype=np.int64)
        self.seated = np.array([r.seated for r in requests], dtype=np.int64)
        self.wheel = np.array([r.wheelchair_users for r in requests], dtype=np.int64)
        households = [problem.household(r.household_id) for r in requests]
        self.ready = np.array([h.ready_from_minute for h in households])
        self.shelter_id = [choice.shelter_of[r.household_id] for r in requests]
        self.dest = np.array([travel.index("shelter", s) for s in self.shelter_id], dtype=np.int64)
        self.max_ride = np.array([problem.max_ride_minutes(h, s) for h, s in zip(households, self.shelter_id,
                                                                                   strict=True)])
        self.open = np.ones(len(requests), dtype=bool)
        self.cars = [
            _Car(i, travel.index("driver", d.id), d.available_from_minute, problem.latest_arrival(d), d.seats,
                 d.wheelchair_spaces, [])
            for i, d in enumerate(problem.drivers)
        ]

    def finish(self, at: int, clock: float, end: float, trip: list[int]) -> float | None:
        """Arrival at the trip's shelter when a car at ``at``, free at ``clock``, drives it; None if a rule breaks."""
        T, pickup = self.T, self.problem.service.pickup
        departs = []
        for r in trip:
            clock = max(clock + T[at, self.home[r]], self.ready[r]) + pickup
            at = int(self.home[r])
            departs.append(clock)
        arrive = clock + T[at, self.dest[trip[0]]]
        if not arrive <= end + EPS:  # also false for inf
            return None
        if any(arrive - d > self.max_ride[r] + EPS for r, d in zip(trip, departs, strict=True)):
            return None
        return float(arrive)

    def build_trip(self, seed: int, car: _Car) -> list[int]:
        """The seed, then the nearest open request bound for the same shelter that still fits, repeatedly.

        A wheelchair car pools only riders who need a wheelchair space: those cars are the bottleneck,
        and every extra stop delays the next wheelchair user.
        """
        trip = [seed]
        seats, wheel = car.seats - self.seated[seed], car.wheelchair - self.wheel[seed]
        kind = (self.wheel > 0) if car.wheelchair else True
        while seats > 0 or wheel > 0:
            last = self.home[trip[-1]]
            pool = np.flatnonzero(self.open & kind & (self.dest == self.dest[seed]) & (self.seated <= seats)
                                  & (self.wheel <= wheel))
            pool = pool[~np.isin(pool, trip)]
            if pool.size == 0:
                break
            near = self.T[last, self.home[pool]]
            added = None
            for k in np.argsort(near, kind="stable")[:8]:  # the nearest few: a far one would break ride times
                if not math.isfinite(near[k]):
                    break
                if self.finish(car.at, car.clock, car.end, [*trip, int(pool[k])]) is not None:
                    added = int(pool[k])
                    break
            if added is None:
                break
            trip.append(added)
            seats, wheel = seats - self.seated[added], wheel - self.wheel[added]
        return trip

    def fleets(self, seated: int, wheel: int, first: int) -> list[list[_Car]]:
        """Cars that can carry this load, in the order to try them, each group by arrival at ``first``.

        A load without wheelchair users tries the ordinary cars first: wheelchair spaces are the scarce
        capacity, and a careful dispatcher keeps those cars for the people who need them.
        """
        cars = [c for c in self.cars if c.seats >= seated and c.wheelchair >= wheel]
        cars.sort(key=lambda c: (c.clock + self.T[c.at, first], c.index))
        if wheel:
            return [cars]
        return [[c for c in cars if not c.wheelchair], [c for c in cars if c.wheelchair]]

    def best_car(self, trip: list[int]) -> tuple[_Car, float] | None:
        """The car that finishes ``trip`` earliest (ordinary cars first for a trip without wheelchair users).

        A later arrival at the first home never finishes earlier, so the first car, by arrival there, that
        can drive the trip within its rules is the one.
        """
        for fleet in self.fleets(int(self.seated[trip].sum()), int(self.wheel[trip].sum()), self.home[trip[0]]):
            for car in fleet:
                arrive = self.finish(car.at, car.clock, car.end, trip)
                if arrive is not None:
                    return car, arrive
        return None

    def dispatch(self, seed: int) -> bool:
        """Pool a trip around the seed, then give it to the car that finishes it earliest.

        The trip is pooled for the car that would take the seed alone (the likely taker), so its seats
        and wheelchair spaces decide what fits; any car that can carry the load may then take it.
        """
        found = self.best_car([seed])
        if found is None:
            return False
        trip = self.build_trip(seed, found[0])
        found = self.best_car(trip)
        assert found is not None  # the scout itself can drive it
        car, arrive = found
        car.visits.extend(Pickup(self.requests[r]) for r in trip)
        car.visits.append(Dropoff(self.shelter_id[seed], tuple(self.requests[r] for r in trip)))
        car.at, car.clock = int(self.dest[seed]), arrive + self.problem.service.dropoff
        self.open[trip] = False
        return True

    def could_ever(self, r: int) -> bool:
        """Whether some fitting car, fresh from its start, could drive this request alone in time."""
        fresh = [(self.problem.travel.index("driver", d.id), d.available_from_minute, self.problem.latest_arrival(d))
                 for d in self.problem.drivers if d.seats >= self.seated[r] and d.wheelchair_spaces >= self.wheel[r]]
        return any(self.finish(at, clock, end, [r]) is not None for at, clock, end in fresh)


def _reason(dispatch: _Dispatch, r: int) -> Unserved:
    hid = dispatch.requests[r].household_id
    wheel = int(dispatch.wheel[r])
    if wheel and not any(c.wheelchair >= wheel for c in dispatch.cars):
        return Unserved(hid, f"needs {wheel} wheelchair space(s); no car has that many", UnservedCode.NO_WHEELCHAIR_CAR)
    if not dispatch.could_ever(r):
        return Unserved(hid, "no car can reach this address and its shelter in time", UnservedCode.TOO_LATE)
    return Unserved(hid, "not enough cars before the deadline", UnservedCode.NOT_ENOUGH_CARS)


def solve_greedy(problem: Problem) -> Plan:
    """Plan the evacuation with the greedy dispatcher; every household is in a route or in ``unserved``.

    A split household is served whole or not at all: when one of its parts finds no car, the dispatch
    runs again without that household (rare: its parts are dispatched one after another).
    """
    started = time.perf_counter()
    choice = assign_shelters(problem)
    rank = {hid: i for i, hid in enumerate(choice.order)}
    all_requests = [r for r in requests_for(problem.households, problem.drivers) if r.household_id in rank]
    all_requests.sort(key=lambda r: (rank[r.household_id], r.part))
    excluded: dict[str, Unserved] = {}
    while True:
        requests = [r for r in all_requests if r.household_id not in excluded]
        dispatch = _Dispatch(problem, choice, requests)
        failed: dict[str, Unserved] = {}
        for r in range(len(requests)):
            if dispatch.open[r] and not dispatch.dispatch(r):
                dispatch.open[r] = False
                failed.setdefault(requests[r].household_id, _reason(dispatch, r))
        served = {v.request.household_id for c in dispatch.cars for v in c.visits if isinstance(v, Pickup)}
        excluded.update(failed)
        if not served & failed.keys():
            break
        # A household some of whose parts found a car: run again without it, so it is wholly unserved.
    sequences = {problem.drivers[c.index].id: c.visits for c in dispatch.cars if c.visits}
    order = {h.id: i for i, h in enumerate(problem.households)}
    unserved = sorted([*choice.unserved, *excluded.values()], key=lambda u: order[u.household_id])
    return build_plan(problem, sequences, unserved, solve_seconds=time.perf_counter() - started)
