"""VROOM peer (pyvroom): the evacuation as shipments, plain and with the cars' shift end bisected.

Each request is a shipment from its home to the shelter the greedy's rule picks (VROOM cannot choose
shelters), with two capacity dimensions [seats, wheelchair spaces], the ready time as the pickup's
window and the driver's availability (capped by the deadline) as the vehicle's window. VROOM minimises
total driving, not clearance; a skilled user brings the clearance down by bisecting the shift end,
which is the second mode. VROOM has no ride-time limit: households whose ride comes out too long are
taken off the routes afterwards and reported unserved, as are split households VROOM serves in part.

VROOM works in integer seconds: travel and service times are rounded up and window ends down, so every
VROOM time is no earlier than the true one and the plan ``build_plan`` re-times from the exact minutes
keeps every window. Unreachable legs get a duration longer than any shift, so no feasible route uses one.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import vroom

from benchmarks.peers.greedy import assign_shelters
from matcher.codes import UnservedCode
from matcher.plan import Plan, Unserved
from matcher.problem import Problem
from matcher.requests import Request, requests_for
from matcher.schedule import Dropoff, Pickup, Visit, build_plan

EPS = 1e-6


@dataclass
class VroomRun:
    """One VROOM mode's plan with its wall time and what the conversion had to drop."""

    plan: Plan
    wall_seconds: float
    #: Households taken off VROOM's routes because a ride came out longer than allowed.
    dropped_for_ride: int = 0
    #: (shift-end bound in minutes, households served, clearance or None) per bisection probe.
    probes: list[tuple[float, int, float | None]] = field(default_factory=list)


def _seconds_up(minutes: float) -> int:
    return math.ceil(minutes * 60.0 - EPS)


def _seconds_down(minutes: float) -> int:
    return math.floor(minutes * 60.0 + EPS)


class VroomModel:
    """The problem's fixed VROOM ingredients: the shipments, the matrix in seconds, and who VROOM cannot serve."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        choice = assign_shelters(problem)
        self.shelter_of = choice.shelter_of
        self.unserved: dict[str, Unserved] = {u.household_id: u for u in choice.unserved}
        self.requests: list[Request] = []
        for r in requests_for(problem.households, problem.drivers):
            if r.household_id in self.unserved or r.household_id not in self.shelter_of:
                continue
            if not any(d.seats >= r.seated and d.wheelchair_spaces >= r.wheelchair_users for d in problem.drivers):
                self.unserved[r.household_id] = Unserved(
                    r.household_id, f"needs {r.wheelchair_users} wheelchair space(s); no car has that many",
                    UnservedCode.NO_WHEELCHAIR_CAR)
                continue
            self.requests.append(r)
        self.requests = [r for r in self.requests if r.household_id not in self.unserved]
        horizon = max((problem.latest_arrival(d) for d in problem.drivers), default=problem.deadline)
        seconds = np.ceil(problem.travel.minutes * 60.0 - EPS)
        # Longer than any shift, so a route with an unreachable leg always breaks its vehicle's window.
        unreachable = min(4 * _seconds_up(horizon + problem.service.dropoff) + 1, np.iinfo(np.uint32).max)
        seconds[~np.isfinite(seconds)] = unreachable
        # pyvroom reads the raw buffer and ignores strides: it must be C-contiguous uint32.
        self.matrix = np.ascontiguousarray(np.minimum(seconds, unreachable), dtype=np.uint32)

    def input(self, end_bound: float | None) -> vroom.Input:
        """A fresh VROOM input; with ``end_bound`` every drop-off must arrive by that minute."""
        problem, travel = self.problem, self.problem.travel
        pickup_s, dropoff_s = _seconds_up(problem.service.pickup), _seconds_up(problem.service.dropoff)
        inp = vroom.Input()
        inp.set_durations_matrix("car", self.matrix)
        for k, d in enumerate(problem.drivers):
            end = problem.latest_arrival(d) if end_bound is None else min(problem.latest_arrival(d), end_bound)
            start_s = _seconds_up(d.available_from_minute)
            # VROOM's route ends after the last unloading; our limit is on the drop-off's arrival.
            end_s = _seconds_down(end) + dropoff_s
            if end_s < start_s:
                continue
            inp.add_vehicle(vroom.Vehicle(
                k, start=travel.index("driver", d.id), capacity=vroom.Amount([d.seats, d.wheelchair_spaces]),
                time_window=vroom.TimeWindow(start_s, end_s)))
        for j, r in enumerate(self.requests):
            h = problem.household(r.household_id)
            home = travel.index("household", h.id)
            dest = travel.index("shelter", self.shelter_of[h.id])
            inp.add_job(vroom.Shipment(
                vroom.ShipmentStep(2 * j, location=home, default_service=pickup_s,
                                   time_windows=[vroom.TimeWindow(_seconds_up(h.ready_from_minute), 2**31 - 1)]),
                # Setup, not service: VROOM counts it once for consecutive drop-offs at one shelter, as we do.
                vroom.ShipmentStep(2 * j + 1, location=dest, default_setup=dropoff_s),
                amount=vroom.Amount([r.seated, r.wheelchair_users]),
                priority=100 // h.priority,  # VROOM: higher is more important; ours: 1 is most urgent
            ))
        return inp

    def sequences(self, solution: vroom.Solution) -> dict[str, list[Visit]]:
        """VROOM's routes as our visit sequences (pickup step ``2j``, delivery step ``2j + 1`` of request j)."""
        out: dict[str, list[Visit]] = {}
        for route in solution.to_dict()["routes"]:
            driver = self.problem.drivers[route["vehicle"]]
            visits: list[Visit] = []
            for step in route["steps"]:
                if step["type"] not in ("pickup", "delivery"):
                    continue
                j, is_delivery = divmod(int(step["id"]), 2)
                r = self.requests[j]
                visits.append(Dropoff(self.shelter_of[r.household_id], (r,)) if is_delivery else Pickup(r))
            out[driver.id] = visits
        return out


def _without(sequences: dict[str, list[Visit]], households: set[str]) -> dict[str, list[Visit]]:
    """The sequences with every visit of these households removed (empty drop-offs go too)."""
    out: dict[str, list[Visit]] = {}
    for driver_id, visits in sequences.items():
        kept: list[Visit] = []
        for v in visits:
            if isinstance(v, Pickup):
                if v.request.household_id not in households:
                    kept.append(v)
            else:
                left = tuple(r for r in v.requests if r.household_id not in households)
                if left:
                    kept.append(Dropoff(v.shelter_id, left))
        if kept:
            out[driver_id] = kept
    return out


def _too_long_rides(problem: Problem, plan: Plan) -> set[str]:
    """Households on board longer than allowed (from leaving home to arriving at the shelter)."""
    out: set[str] = set()
    for route in plan.routes:
        departed: dict[str, float] = {}
        for stop in route.stops:
            if stop.type == "pickup" and stop.household_id:
                departed[stop.household_id] = stop.depart_minute
            elif stop.shelter_id:
                for hid in stop.household_ids:
                    limit = problem.max_ride_minutes(problem.household(hid), stop.shelter_id)
                    if stop.arrive_minute - departed[hid] > limit + EPS:
                        out.add(hid)
    return out


def to_plan(model: VroomModel, solution: vroom.Solution, wall_seconds: float) -> tuple[Plan, int]:
    """Our plan from VROOM's solution, and how many households were dropped for their ride time."""
    problem = model.problem
    sequences = model.sequences(solution)
    parts: dict[str, int] = defaultdict(int)
    for visits in sequences.values():
        for v in visits:
            if isinstance(v, Pickup):
                parts[v.request.household_id] += 1
    unserved = dict(model.unserved)
    for r in model.requests:
        hid = r.household_id
        if parts.get(hid, 0) < r.parts and hid not in unserved:
            unserved[hid] = Unserved(hid, "VROOM left it unassigned (in whole or in part)",
                                     UnservedCode.NOT_ENOUGH_CARS)
    sequences = _without(sequences, set(unserved))
    dropped = 0
    while True:
        # Taking a household off a route moves later stops earlier, which can lengthen a ride that waited
        # for a ready time: repeat until no ride is too long.
        plan = build_plan(problem, sequences, [], with_paths=False)
        too_long = _too_long_rides(problem, plan)
        if not too_long:
            break
        dropped += len(too_long)
        for hid in too_long:
            unserved[hid] = Unserved(hid, "VROOM's route exceeds its maximum ride time (VROOM has no such limit)",
                                     UnservedCode.NOT_ENOUGH_CARS)
        sequences = _without(sequences, too_long)
    order = {h.id: i for i, h in enumerate(problem.households)}
    listed = sorted(unserved.values(), key=lambda u: order[u.household_id])
    return build_plan(problem, sequences, listed, solve_seconds=wall_seconds), dropped


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _solve_once(model: VroomModel, end_bound: float | None, timeout_seconds: float,
                exploration: int) -> tuple[Plan, int]:
    started = time.perf_counter()
    solution = model.input(end_bound).solve(
        exploration_level=exploration, nb_threads=_threads(), timeout=timedelta(seconds=max(timeout_seconds, 0.1)))
    return to_plan(model, solution, time.perf_counter() - started)


def solve_vroom(problem: Problem, *, time_limit_seconds: float = 30.0, exploration: int = 5,
                model: VroomModel | None = None) -> VroomRun:
    """VROOM as a user would run it: shifts as given, VROOM's own objective (least driving)."""
    started = time.perf_counter()
    model = model or VroomModel(problem)
    plan, dropped = _solve_once(model, None, time_limit_seconds, exploration)
    return VroomRun(plan, time.perf_counter() - started, dropped)


def lower_bound(model: VroomModel) -> float:
    """No plan clears before the latest household's fastest single trip (any fitting car, fresh)."""
    problem, travel = model.problem, model.problem.travel
    best = 0.0
    for r in model.requests:
        h = problem.household(r.household_id)
        home = travel.index("household", h.id)
        reach = min(
            (d.available_from_minute + float(travel.minutes[travel.index("driver", d.id), home])
             for d in problem.drivers if d.seats >= r.seated and d.wheelchair_spaces >= r.wheelchair_users),
            default=math.inf,
        )
        direct = float(travel.minutes[home, travel.index("shelter", model.shelter_of[h.id])])
        trip = max(reach, h.ready_from_minute) + problem.service.pickup + direct
        if math.isfinite(trip):
            best = max(best, trip)
    return best


def fleet_bound(problem: Problem) -> tuple[float, int]:
    """``matcher.solver.bound``'s clearance bound for serving every household our triage lets through,
    and how many households that is."""
    from matcher.solver.bound import clearance_bound
    from matcher.solver.instance import build_instance
    from matcher.solver.triage import triage

    inst = build_instance(problem)
    tri = triage(inst)
    return clearance_bound(inst, tri.shelter).minute, len(problem.households) - len(tri.unserved)


def solve_vroom_bisect(problem: Problem, *, budget_seconds: float = 30.0, plain: VroomRun | None = None,
                       exploration: int = 2, tolerance_minutes: float = 1.0,
                       model: VroomModel | None = None) -> VroomRun:
    """Bisect the shift end like a skilled user: the earliest bound at which VROOM serves as many as plain.

    A skilled user first runs VROOM plainly: ``plain`` (or an unbounded solve run here within the budget)
    gives the target, the first upper bound and the fallback plan. The probes then share
    ``budget_seconds``, each getting an even share of what is left for the probes still expected; a lower
    exploration level than plain's buys more probes, which matter more than the search within each. The
    reported wall time includes the plain run.
    """
    started = time.perf_counter()
    model = model or VroomModel(problem)

    def left() -> float:
        return budget_seconds - (time.perf_counter() - started)

    if plain is None:
        best, dropped = _solve_once(model, None, left() / 4, exploration)
        before = 0.0
    else:
        best, dropped, before = plain.plan, plain.dropped_for_ride, plain.wall_seconds
    target = best.metrics.households_served
    lo, hi = lower_bound(model), best.metrics.clearance_minute
    bound, households = fleet_bound(problem)
    if target == households:
        # Serving every household our triage lets through, no plan beats the clearance bound: probes start there.
        lo = max(lo, bound)
    probes: list[tuple[float, int, float | None]] = []
    while hi - lo > tolerance_minutes and left() > 0.2:
        expected = max(1, math.ceil(math.log2((hi - lo) / tolerance_minutes)))
        mid = (lo + hi) / 2
        plan, dropped_here = _solve_once(model, mid, left() / expected, exploration)
        served = plan.metrics.households_served
        ok = served >= target
        probes.append((mid, served, plan.metrics.clearance_minute if ok else None))
        if not ok:
            lo = mid
            continue
        hi = min(mid, plan.metrics.clearance_minute)
        if plan.metrics.clearance_minute < best.metrics.clearance_minute:
            best, dropped = plan, dropped_here
    return VroomRun(best, before + time.perf_counter() - started, dropped, probes)


__all__ = ["VroomModel", "VroomRun", "lower_bound", "solve_vroom", "solve_vroom_bisect", "to_plan"]
