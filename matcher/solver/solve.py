"""``solve(problem, params) -> Plan``: triage, a bisected construction, then OR-Tools improvement."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from matcher.codes import UnservedCode
from matcher.errors import SolverError
from matcher.plan import Plan, Unserved
from matcher.problem import Problem
from matcher.schedule import Dropoff, Pickup, Visit, build_plan
from matcher.solver.bound import clearance_bound
from matcher.solver.construct import (
    Solution,
    TargetsKey,
    construct,
    drive_car,
    lower_bound,
    priority_weight,
    trips_keep_rules,
)
from matcher.solver.improve import GROUP_CARS, improve, work_for
from matcher.solver.instance import Instance, build_instance
from matcher.solver.model import model_size
from matcher.solver.ruin import leftover_phase, ruin_phase
from matcher.solver.safety import SafetyStop
from matcher.solver.triage import triage
from matcher.timings import null_lap

Progress = Callable[[str], None]
Lap = Callable[[str], float]

#: The safety stop: this many times the time limit (plus a second).
SAFETY_FACTOR = 2.0
#: Share of the time limit the whole solve's work budget is planned for (first plan, bisection, ruin and recreate,
#: OR-Tools): one budget, counted in work (model nodes), so the solve ends inside its limit on the machine the
#: budget was measured on and a seed repeats on any machine. The rest is margin for what is not counted
#: (triage, the bound, building the plan).
SOLVE_SHARE = 0.9
#: Model nodes charged per request for one construction: measured so that a construction costs about the CPU
#: time of that many OR-Tools nodes (0.04 s of CPU for 1,000 requests, 0.007 s for 200, on the project's machine).
CONSTRUCT_NODES_PER_REQUEST = 0.02
#: Seed rules tried at every bound: how strongly a car prefers households far from their shelter.
FAR_WEIGHTS = (0.5, 1.0, 2.0)
#: OR-Tools rounds in a row that keep nothing before the rest of the budget goes to ruin and recreate (``None``:
#: OR-Tools spends it all). On the re-plan benchmark's residual problem (578 households) every group round failed
#: in milliseconds, each charged its model's size, so an 18 s limit was spent in 1 s at 124.5 min; handing the rest
#: on after three failures reached 121.4 in 6 s. On the eight map instances of the benchmark the clearance stayed
#: or got better (docs/solver.md, "the budget no round uses").
STALL_ROUNDS: int | None = 3
#: Bisection's first probe asks for a finish this share below the first plan's.
BISECT_FIRST_STEP = 0.03


@dataclass(frozen=True)
class SolveParams:
    """How long to search and with which seed; the same seed and limit give the same plan."""

    time_limit_seconds: float = 8.0
    seed: int = 0
    #: Share of the time limit kept for OR-Tools improvement after the construction.
    improve: bool = True
    #: Bisection stops when the bound's interval is narrower than this many minutes.
    bisect_tolerance_minutes: float = 0.5
    #: Seconds after which the search stops, whatever work is left (``None``: twice the limit plus a second).
    #: A drill sets it high: on a busy machine it wants the same plan more than a bound on the time.
    safety_stop_seconds: float | None = None
    #: Which clock the safety stop reads: ``wall`` (the service: a bound on the answer's time) or ``cpu`` (this
    #: process's CPU seconds; a drill: other programs on the machine do not move it, so a seed repeats).
    safety_clock: Literal["wall", "cpu"] = "wall"
    #: OR-Tools' exchange-pair moves in the improvement (off for a regional plan's zone solves: see
    #: ``model._params``); the same value gives the same plan.
    pair_exchange: bool = True

    @property
    def repeatable(self) -> bool:
        """A drill's search: no step of it is cut by a wall clock (see ``improve``)."""
        return self.safety_clock == "cpu"

    def safety(self) -> SafetyStop:
        """The safety stop of a search starting now, on this clock."""
        return SafetyStop.start(self.safety_stop(), cpu=self.repeatable)

    def safety_stop(self) -> float:
        """Seconds from the start at which the search stops even if its work budget is not spent."""
        if self.safety_stop_seconds is not None:
            return self.safety_stop_seconds
        return SAFETY_FACTOR * self.time_limit_seconds + 1.0


def _better(a: Solution, b: Solution | None, inst: Instance) -> bool:
    """Fewest unserved (priority-weighted), then pickup targets (met, then lateness beyond them; see
    ``targets_key``), then earliest clearance, then language matches, then least driving."""
    if b is None:
        return True
    wa, wb = a.served_weight(inst), b.served_weight(inst)
    if wa != wb:
        return wa > wb
    ta, tb = a.targets_key(inst), b.targets_key(inst)
    if ta != tb:
        return ta > tb
    if abs(a.clearance - b.clearance) > 1e-6:
        return a.clearance < b.clearance
    la, lb = a.language_matches(inst), b.language_matches(inst)
    if la != lb:
        return la > lb
    return drive_minutes(inst, a) < drive_minutes(inst, b)


def drive_minutes(inst: Instance, sol: Solution) -> float:
    T = inst.T
    total = 0.0
    for car, trips in enumerate(sol.trips):
        at = inst.car_start[car]
        for trip in trips:
            for r in trip.pickups:
                total += T[at, inst.home[r]]
                at = inst.home[r]
            total += T[at, inst.shelter_loc[trip.shelter]]
            at = inst.shelter_loc[trip.shelter]
    return float(total)


def construction_work(inst: Instance) -> int:
    """The work (model nodes) charged for one construction: it grows with the requests."""
    return max(1, round(CONSTRUCT_NODES_PER_REQUEST * inst.n_requests))


def first_construction(inst: Instance, shelter: np.ndarray) -> Solution:
    """The best of the seed rules with the deadline as the bound: most households served first
    (``2 * len(FAR_WEIGHTS)`` constructions)."""
    best: Solution | None = None
    for by_priority in (True, False):
        for w in FAR_WEIGHTS:
            sol = construct(inst, shelter, inst.deadline, far_weight=w, by_priority=by_priority)
            if _better(sol, best, inst):
                best = sol
    assert best is not None
    return best


def _probe(inst: Instance, shelter: np.ndarray, bound: float, target: float,
           met: TargetsKey = ()) -> Solution | None:
    """The best construction finishing by ``bound`` that serves as much as ``target`` and keeps the pickup
    targets at least as well as ``met`` (``targets_key``), if any."""
    found: Solution | None = None
    for w in FAR_WEIGHTS:
        sol = construct(inst, shelter, bound, far_weight=w)
        if sol.served_weight(inst) >= target and sol.targets_key(inst) >= met and _better(sol, found, inst):
            found = sol
    return found


def bisect(inst: Instance, shelter: np.ndarray, best: Solution, lo: float, params: SolveParams, work: int,
           stop: SafetyStop, progress: Progress) -> tuple[Solution, int]:
    """Bisection on the finishing bound between ``lo`` and ``best.clearance`` for an earlier clearance, within
    ``work`` model nodes (``construction_work`` per construction); the best plan and the work spent.

    It first asks for a finish a little below the current one (``BISECT_FIRST_STEP``): when the
    construction cannot manage even that, no lower bound can help and the work goes to the search.
    """
    target = best.served_weight(inst)
    met = best.targets_key(inst)
    hi = best.clearance
    probe_work = construction_work(inst) * len(FAR_WEIGHTS)
    spent = 0
    first = hi - max(params.bisect_tolerance_minutes, BISECT_FIRST_STEP * hi)
    if first <= lo or probe_work > work:
        progress("bisection: skipped (no room below the first plan, or no work left for it)")
        return best, spent
    spent += probe_work
    if _probe(inst, shelter, first, target, met) is None:
        progress(f"bisection: skipped, no construction clears before minute {first:.1f}")
        return best, spent
    while hi - lo > params.bisect_tolerance_minutes and spent + probe_work <= work and not stop.reached():
        mid = (lo + hi) / 2
        found = _probe(inst, shelter, mid, target, met)
        spent += probe_work
        if found is None:
            lo = mid
        else:
            hi = min(mid, found.clearance)
            if _better(found, best, inst):
                best = found
    progress(f"bisection: clearance {best.clearance:.1f} min")
    return best, spent


def leftover_reasons(inst: Instance, sol: Solution, shelter: np.ndarray) -> list[Unserved]:
    """Reasons for households that triage let through but no car could take in time."""
    served_prio = inst.priority[sol.assigned]
    best_served = int(served_prio.min()) if served_prio.size else None
    out: dict[str, Unserved] = {}
    for r, req in enumerate(inst.requests):
        if shelter[r] < 0 or sol.assigned[r] or req.household_id in out:
            continue
        wheel = "wheelchair-capable " if inst.wheelchair[r] else ""
        household = inst.problem.household(req.household_id)
        kind = f"{wheel}cars that take pets" if household.pets else f"{wheel}cars"
        if inst.alone[r]:
            kind += " (rides alone: cannot share)"
        if best_served is not None and best_served < inst.priority[r]:
            reason = f"not enough {kind} before the deadline: left for higher-priority households"
        else:
            reason = f"not enough {kind} before the deadline"
        add = "add drivers who take pets" if household.pets else "add drivers"
        out[req.household_id] = Unserved(req.household_id, f"{reason}: {add}", UnservedCode.NOT_ENOUGH_CARS)
    return list(out.values())


def to_visits(inst: Instance, sol: Solution) -> dict[str, list[Visit]]:
    sequences: dict[str, list[Visit]] = {}
    for car, trips in enumerate(sol.trips):
        visits: list[Visit] = []
        for trip in trips:
            visits.extend(Pickup(inst.requests[r]) for r in trip.pickups)
            riders = tuple(inst.requests[r] for r in trip.unloads)
            visits.append(Dropoff(inst.problem.shelters[trip.shelter].id, riders))
        if visits:
            sequences[inst.problem.drivers[car].id] = visits
    return sequences


def _verify(inst: Instance, sol: Solution) -> None:
    """Raise ``SolverError`` when a car's trips break a rule: the search must never hand out such a plan."""
    for car, trips in enumerate(sol.trips):
        if trips and not drive_car(inst, car, trips)[1]:
            raise SolverError(f"driver {inst.problem.drivers[car].id}: the solver built trips that break a time "
                              "or ride rule; this is a bug")
        if trips and not trips_keep_rules(inst, car, trips):
            raise SolverError(f"driver {inst.problem.drivers[car].id}: the solver built trips that break a needs "
                              "rule (pets, shelter, sharing); this is a bug")


def solve(problem: Problem, params: SolveParams | None = None, progress: Progress | None = None,
          lap: Lap | None = None) -> Plan:
    """Plan the evacuation: fewest unserved (priority-weighted), then pickup targets, then earliest clearance,
    then least driving.

    Deterministic for a given ``params.seed`` and time limit. ``progress`` receives one-line messages;
    ``lap(stage)`` is called as each stage ends (``evac plan --timings``).
    Raises ``SolverError`` (CLI exit code 3) if the search produced trips that break a rule (a bug).
    """
    params = params or SolveParams()
    say = progress or (lambda _msg: None)
    lap = lap or null_lap
    started = time.perf_counter()
    # Work is budgeted in deterministic units from the time limit; the clock only guards against
    # a machine far slower than the one the budget was measured on.
    stop = params.safety()
    inst = build_instance(problem)
    tri = triage(inst)
    say(f"{inst.n_requests} requests from {len(problem.households)} households, {inst.n_cars} cars, "
        f"{len(tri.unserved)} households excluded before routing")
    sol = first_construction(inst, tri.shelter)
    first_plan = time.perf_counter() - started
    lo = lower_bound(inst, tri.shelter)
    bound = clearance_bound(inst, tri.shelter)
    say(f"first plan: {int(sol.assigned.sum())} requests, clearance {sol.clearance:.1f} min "
        f"(bound >= {bound.minute:.1f}, {bound.kind})")
    lap("first plan")
    # One work budget for the whole solve, so that it ends inside the limit: the first plan's constructions
    # and then the bisection or the search draw on it.
    work = work_for(params.time_limit_seconds * SOLVE_SHARE) - construction_work(inst) * 2 * len(FAR_WEIGHTS)
    if params.improve:
        # The search starts from the first plan: ruin and recreate balances the finishing times better than the
        # bisection's constructions, whose work it would lose (Heidelberg 1,000: 107.6 min from the first plan,
        # 111.7 after a bisection that took a quarter of the budget; on the six other benchmark instances the
        # bisection's first probe failed, so it changed nothing).
        say("bisection: skipped, the search starts from the first plan")
    else:
        sol, spent = bisect(inst, tri.shelter, sol, lo, params, max(work, 0), stop, say)
        work -= spent
    lap("bisection")
    if params.improve and work > 0:
        everyone = bool(sol.assigned[tri.shelter >= 0].all())  # the bound speaks of serving all of them
        # A fleet that is one OR-Tools group gets no round when the model is larger than what is left for it.
        assigned = [int(r) for r in np.flatnonzero(sol.assigned)]
        least = model_size(inst, tri.shelter, assigned) if inst.n_cars <= GROUP_CARS else 0
        floor = bound.minute if everyone else 0.0
        sol, shelter, work = ruin_phase(inst, sol, tri.shelter, work, params.seed, say, bound=floor,
                                        stop=stop.reached, least_round=least)
        tri.shelter[:] = shelter
        done = improve(inst, sol, tri.shelter, work, stop, params.seed, say, pair_exchange=params.pair_exchange,
                       stall_rounds=STALL_ROUNDS)
        # What no OR-Tools round could use (none fits in it, or they stalled) goes back to ruin and recreate, from
        # the improved plan: the limit is used to the end while the search can still improve. Its plan is kept only
        # when better by the whole objective: it ranks plans by their finishes, and at the same clearance it took
        # plans with more driving (Heidelberg 200: 2,169 -> 2,235 minutes).
        sol = done.solution
        after, shelter = leftover_phase(inst, sol, tri.shelter, done.work_left, params.seed, say, bound=floor,
                                        stop=stop.reached)
        if _better(after, sol, inst):
            sol = after
            tri.shelter[:] = shelter
    lap("improvement")
    _verify(inst, sol)
    unserved = list(tri.unserved.values()) + leftover_reasons(inst, sol, tri.shelter)
    order = {h.id: i for i, h in enumerate(problem.households)}
    unserved.sort(key=lambda u: order[u.household_id])
    plan = build_plan(problem, to_visits(inst, sol), unserved,
                      solve_seconds=time.perf_counter() - started, first_plan_seconds=first_plan)
    lap("road paths")
    if not sol.assigned[tri.shelter >= 0].all():
        return plan  # the bound speaks of serving everyone the triage let through; this plan does not
    return dataclasses.replace(plan, metrics=dataclasses.replace(plan.metrics, clearance_bound_minute=bound.minute))


__all__ = ["SolveParams", "priority_weight", "solve"]
