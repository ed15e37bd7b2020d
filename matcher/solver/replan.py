"""Re-plan from the live state: keep what is done and who is on board, repair the rest, then improve briefly.

Repair keeps each driver's remaining trips from the previous plan where they are still possible and
only places what lost its car (a drop-out, a no-show's trip, a new request, a trip a closure made
too late), so unaffected households keep their driver; the stability figure measures it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.check import RoadGraphLike, assert_plan_valid
from matcher.codes import CAR_FIXABLE
from matcher.live import LiveEvent, LiveState, Residual, merge, residual_problem
from matcher.plan import Plan, Unserved
from matcher.problem import Problem
from matcher.schedule import build_plan
from matcher.solver.construct import Solution, Trip, construct, drive_car
from matcher.solver.improve import improve, work_for
from matcher.solver.instance import Instance, build_instance
from matcher.solver.ruin import ruin_and_recreate
from matcher.solver.safety import SafetyStop
from matcher.solver.solve import Progress, SolveParams, leftover_reasons, to_visits
from matcher.solver.triage import triage


@dataclass(frozen=True)
class ReplanResult:
    """``plan`` is the whole evacuation; ``future`` is the re-solved part, checkable against ``residual``.

    ``stability`` is the share of households that were waiting for a driver who is still driving,
    and are still served, who kept that driver (1.0 when nobody moved).
    """

    plan: Plan
    residual: Problem
    future: Plan
    stability: float
    reassigned: tuple[str, ...]
    seconds: float
    #: The clock's safety stop cut the search short: the same seed may give another plan on another run.
    safety_stopped: bool = False


def _parts_by_size(inst: Instance, previous: Plan, state: LiveState) -> dict[tuple[str, int], int]:
    """Residual request of each previous (household, part) key, a split household's parts matched by size.

    ``merge`` numbers a split household's parts by pickup time while the residual splits what is left
    afresh, so the same number can name parts of different sizes; a part of the same size is the one
    its car planned for. Unmatched keys keep their number; completed stops match nothing.
    """
    index = {req.key: r for r, req in enumerate(inst.requests)}
    free: dict[tuple[str, int, int], list[int]] = {}
    for r, req in enumerate(inst.requests):
        if req.parts > 1:
            free.setdefault((req.household_id, req.people, req.wheelchair_users), []).append(r)
    if not free:
        return index
    out: dict[tuple[str, int], int] = {}
    unmatched: list[tuple[str, int]] = []
    for route in previous.routes:
        for stop in route.stops[int(state.completed.get(route.driver_id, 0)):]:
            if stop.type != "pickup":
                continue
            key, size = (str(stop.household_id), stop.part or 1), (str(stop.household_id), stop.people,
                                                                   stop.wheelchair_users)
            if free.get(size):
                out[key] = free[size].pop(0)
            else:
                unmatched.append(key)
    taken = set(out.values())
    for key in unmatched:
        if key in index and index[key] not in taken:  # never the same request for two cars
            out[key] = index[key]
            taken.add(index[key])
    return out


def _fitting(inst: Instance, car: int, requests: list[int]) -> tuple[int, ...]:
    """The requests of a kept trip that fit the car together, in order; the rest is placed again."""
    seated = wheelchair = 0
    kept: list[int] = []
    for r in requests:
        more_seated, more_wheelchair = seated + int(inst.seated[r]), wheelchair + int(inst.wheelchair[r])
        if more_seated <= inst.car_seats[car] and more_wheelchair <= inst.car_wheelchair[car]:
            kept.append(r)
            seated, wheelchair = more_seated, more_wheelchair
    return tuple(kept)


# --- the one entry point: repair first, improve when worth it, check, say how stable -------------------------


@dataclass(frozen=True)
class ReplanPolicy:
    """When a re-plan improves on its repair; the service and the drills use the same policy.

    A repair keeps every driver's remaining trips and only places what lost its car. It is improved when
    something happened that is not in ``repair_only`` (small, frequent reports) and the repair is worth
    improving: it lost households the previous plan served that could still be served (left out for want of a
    car, not cut off, too late or missed), or it finishes within ``improve_within_minutes`` of the deadline and
    later than before, or it finishes more than ``improve_if_later_share`` later than before (a closure that
    lengthens many routes: the re-plan benchmark's flood made the repair finish 26 minutes later, 4.8% behind a
    full re-solve). A shortage no re-routing can fix is not worth the seconds.
    Events in ``always_improve`` (a coordinator's ask) always improve.

    The improvement is ruin and recreate around the cars that finish last (clearance is set by them), on a work
    budget scaled to the change: ``units_per_change`` per request the repair placed anew or on another car, at
    least ``min_units``, never more than ``units_per_second`` times the time limit; then ``or_tools_share`` of the
    limit's OR-Tools budget (``improve.work_for``) on groups of the latest car and the cars that can take its
    riders. Neither moves more than ``1 - min_stability`` of the households waiting for a driver who drives on.
    On the re-plan benchmark (30 November; seeds 1-4) it reached 121.0-123.6 minutes against a 6 s full re-solve's
    125.2, at stability 0.951-0.966; on an earlier instance, where 7 wheelchair users lost their car and only the
    wheelchair cars could take them, 125.4-126.5 against 122.5-123.8. Without the cap on moves both searches went
    below stability 0.95.
    Work units, not seconds: a seed repeats on any machine.
    """

    repair_only: frozenset[LiveEvent] = frozenset({LiveEvent.STOP_REPORT, LiveEvent.NO_SHOW, LiveEvent.NOT_READY})
    always_improve: frozenset[LiveEvent] = frozenset({LiveEvent.COORDINATOR})
    improve_within_minutes: float = 20.0
    improve_if_later_share: float = 0.03
    min_stability: float = 0.95
    units_per_change: int = 6_000
    min_units: int = 40_000
    units_per_second: int = 200_000
    or_tools_share: float = 0.4

    def improve_units(self, changed: int, time_limit_seconds: float) -> int:
        """Ruin-and-recreate work units for a repair that placed ``changed`` requests anew (see the class)."""
        scaled = max(self.min_units, self.units_per_change * changed)
        return min(scaled, int(self.units_per_second * time_limit_seconds))

    def worth_improving(self, problem: Problem, previous: Plan, repaired: ReplanResult, state: LiveState) -> bool:
        """Whether the repair of ``previous`` for ``state`` should be improved (see the class)."""
        if state.events & self.always_improve:
            return True
        if not state.events - self.repair_only:
            return False
        lost = previous.picked_ids() - repaired.plan.picked_ids()
        hopeless = {u.household_id for u in repaired.plan.unserved if u.code not in CAR_FIXABLE}
        finish, was = repaired.future.metrics.clearance_minute, previous.metrics.clearance_minute
        near_deadline = finish > problem.alert.deadline_minutes - self.improve_within_minutes and finish > was + 1.0
        much_later = finish > was + max(1.0, self.improve_if_later_share * was)
        return bool(lost - hopeless) or near_deadline or much_later


#: The policy of the service and of the drills.
DEFAULT_POLICY = ReplanPolicy()


@dataclass
class _Repair:
    """A repair and what its improvement and result need: the residual problem, its instance, the trips."""

    problem: Problem
    residual: Residual
    inst: Instance
    shelter: np.ndarray
    triaged: list[Unserved]
    sol: Solution
    #: The driver each household waiting in the previous plan had (drivers gone included).
    before: dict[str, str]
    car_index: dict[str, int]
    started: float
    first_seconds: float
    stop: SafetyStop


def _repair(problem: Problem, previous: Plan, state: LiveState, params: SolveParams, say: Progress) -> _Repair:
    """Each driver keeps their remaining trips where still possible; only what lost its car is placed again."""
    started = time.perf_counter()
    stop = params.safety()
    res = residual_problem(problem, previous, state)
    inst = build_instance(res.problem)
    shelter_index = {s.id: i for i, s in enumerate(res.problem.shelters)}
    preferred = {hid: shelter_index[sid] for trips in res.previous_trips.values() for keys, sid in trips
                 for hid, _ in keys}
    tri = triage(inst, preferred)
    request_index = _parts_by_size(inst, previous, state)
    car_index = {d.id: c for c, d in enumerate(res.problem.drivers)}
    keep: list[list[Trip]] = [[] for _ in range(inst.n_cars)]
    before: dict[str, str] = {}
    for driver_id, trips in res.previous_trips.items():
        for keys, _sid in trips:
            for hid, _ in keys:
                before[hid] = driver_id
        c = car_index.get(driver_id)
        if c is None:
            continue
        for keys, sid in trips:
            s = shelter_index[sid]
            rs = _fitting(inst, c, [request_index[k] for k in keys
                                    if k in request_index and tri.shelter[request_index[k]] == s])
            if rs:
                keep[c].append(Trip(rs, s))
        # A closure or a late start can make the old tail impossible: give it up trip by trip.
        while keep[c] and not drive_car(inst, c, keep[c])[1]:
            keep[c].pop()
    sol = construct(inst, tri.shelter, inst.deadline, by_priority=True, keep=keep)
    say(f"re-plan repair: {int(sol.assigned.sum())} of {inst.n_requests} requests placed, "
        f"clearance {sol.clearance:.1f} min")
    return _Repair(problem, res, inst, tri.shelter, list(tri.unserved.values()), sol, before, car_index, started,
                   time.perf_counter() - started, stop)


def _improve(rep: _Repair, params: SolveParams, policy: ReplanPolicy, say: Progress) -> Solution:
    """Lower the repair's clearance while most households keep their driver (see ``ReplanPolicy``).

    Ruin and recreate around the cars that finish last, on a work budget scaled to what changed
    (``ReplanPolicy.improve_units``), moving at most ``1 - min_stability`` of the households still waiting for a
    driver who drives on; then OR-Tools' groups (a moved household costs a minute of clearance) on the policy's
    share of the limit's budget, under the same cap.
    """
    inst, sol = rep.inst, rep.sol
    promised = {r: rep.car_index[rep.before[req.household_id]] for r, req in enumerate(inst.requests)
                if rep.before.get(req.household_id) in rep.car_index}
    previous_car = np.full(inst.n_requests, -1, dtype=np.int64)
    for r, c in promised.items():
        previous_car[r] = c
    households = len({inst.requests[r].household_id for r in promised})
    max_moved = int(np.floor((1.0 - policy.min_stability) * households + 1e-9))
    changed = int(sum(1 for r in range(inst.n_requests) if sol.assigned[r] and r not in promised)) + int(
        sum(1 for c, trips in enumerate(sol.trips) for t in trips for r in t.pickups if promised.get(r, c) != c))
    units = policy.improve_units(changed, params.time_limit_seconds)
    if units > 0 and sol.assigned.any():
        found = ruin_and_recreate(inst, sol.trips, sol.finish, rep.shelter, sol.assigned, units, params.seed,
                                  stop=rep.stop.reached, previous_car=previous_car, max_moved=max_moved)
        better = Solution(found.trips, found.finish, sol.assigned)
        say(f"re-plan ruin and recreate ({changed} requests changed, {units} units): clearance "
            f"{sol.clearance:.1f} -> {better.clearance:.1f} min in {found.attempts} attempts")
        sol = better
        rep.shelter[:] = found.shelter
    rest = int(work_for(params.time_limit_seconds) * policy.or_tools_share)
    if rest > 0:
        sol = improve(inst, sol, rep.shelter, rest, rep.stop, params.seed, say, previous_car=promised,
                      max_moved=max_moved, pair_exchange=params.pair_exchange).solution
    return sol


def _result(rep: _Repair, sol: Solution, with_paths: bool = True) -> ReplanResult:
    """The re-plan of ``sol``: the future with its road paths (none without ``with_paths``: for the policy, which
    reads only who is served and when), merged after the fixed parts; its stability."""
    inst, res = rep.inst, rep.residual
    unserved = rep.triaged + leftover_reasons(inst, sol, rep.shelter)
    future = build_plan(res.problem, to_visits(inst, sol), unserved, with_paths=with_paths,
                        solve_seconds=time.perf_counter() - rep.started, first_plan_seconds=rep.first_seconds)
    after = {s.household_id: r.driver_id for r in future.routes for s in r.stops if s.type == "pickup"}
    # Households whose driver is gone must move; stability is about everybody else.
    kept_waiting = [hid for hid in rep.before if hid in after and rep.before[hid] in rep.car_index]
    moved = tuple(sorted(hid for hid in kept_waiting if after[hid] != rep.before[hid]))
    stability = 1.0 - len(moved) / len(kept_waiting) if kept_waiting else 1.0
    plan = merge(rep.problem, res, future)
    return ReplanResult(plan, res.problem, future, stability, moved, time.perf_counter() - rep.started,
                        rep.stop.reached())


def replan(
    problem: Problem,
    previous: Plan,
    state: LiveState,
    params: SolveParams | None = None,
    progress: Progress | None = None,
    policy: ReplanPolicy | None = None,
) -> ReplanResult:
    """Re-plan ``problem`` (the current picture: new households, closures) at ``state.minute``: the repair, and
    with ``params.improve`` its improvement as ``policy`` (``DEFAULT_POLICY``) sets it, whatever happened."""
    params = params or SolveParams(time_limit_seconds=1.5)
    say = progress or (lambda _m: None)
    rep = _repair(problem, previous, state, params, say)
    sol = _improve(rep, params, policy or DEFAULT_POLICY, say) if params.improve else rep.sol
    return _result(rep, sol)


@dataclass(frozen=True)
class ReplanOutcome:
    """A checked re-plan: the result, whether it was improved, and what it took.

    ``result.future`` has passed the plan check against ``result.residual``. ``safety_stopped`` says the
    clock's safety stop cut a search short (then the same seed may give another plan on another run).
    """

    result: ReplanResult
    improved: bool
    seconds: float

    @property
    def plan(self) -> Plan:
        return self.result.plan

    @property
    def stability(self) -> float:
        return self.result.stability

    @property
    def safety_stopped(self) -> bool:
        return self.result.safety_stopped


def replan_checked(
    problem: Problem,
    previous: Plan,
    state: LiveState,
    params: SolveParams,
    policy: ReplanPolicy = DEFAULT_POLICY,
    *,
    road_graph: RoadGraphLike | None = None,
    closed_mask: Any = None,
    progress: Progress | None = None,
) -> ReplanOutcome:
    """Re-plan ``problem`` (the current picture) from ``state``: repair, improve if ``policy`` says so, check.

    The future is re-checked against the residual problem (on ``road_graph`` with ``closed_mask`` when
    given); raises ``PlanInvalid`` when it breaks a rule, so nothing unchecked is ever returned.
    """
    started = time.perf_counter()
    say = progress or (lambda _m: None)
    rep = _repair(problem, previous, state, params, say)
    improved = policy.worth_improving(problem, previous, _result(rep, rep.sol, with_paths=False), state)
    # The improvement starts from the same repair (building a result does not change its trips).
    result = _result(rep, _improve(rep, params, policy, say) if improved else rep.sol)
    assert_plan_valid(result.residual, result.future, road_graph, closed_mask)
    return ReplanOutcome(result, improved, time.perf_counter() - started)
