"""Re-planning from a live state: history stays, riders on board stay with their driver, the rest adapts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from matcher.check import PlanInvalid, assert_plan_valid
from matcher.codes import CAR_FIXABLE
from matcher.live import LiveEvent, LiveState
from matcher.plan import Plan
from matcher.problem import Problem
from matcher.solver import SolveParams, solve
from matcher.solver.replan import DEFAULT_POLICY, ReplanResult, replan, replan_checked
from tests.factories import driver, household, make_problem, shelter

FAST = SolveParams(time_limit_seconds=0.5)


def _town(n_households: int = 24, n_drivers: int = 6, seed: int = 3) -> Problem:
    """A small random town on a Euclidean grid: 24 households, 6 cars, 2 shelters."""
    rng = np.random.default_rng(seed)
    hs = [household(f"H{i}", people=int(rng.integers(1, 4))) for i in range(n_households)]
    ds = [driver(f"D{i}", seats=4) for i in range(n_drivers)]
    ss = [shelter("S1", capacity=200), shelter("S2", capacity=200)]
    points = rng.uniform(0, 10, size=(n_drivers + n_households + 2, 2))
    minutes = np.abs(points[:, None, :] - points[None, :, :]).sum(-1) * 2 + 1
    np.fill_diagonal(minutes, 0)
    return make_problem(households=hs, drivers=ds, shelters=ss, minutes=minutes, deadline=180)


def _checked(result: ReplanResult) -> ReplanResult:
    """Every re-plan's future part must pass the independent plan check against its residual problem."""
    assert_plan_valid(result.residual, result.future)
    return result


def _completed_at(plan: Plan, minute: float) -> dict[str, int]:
    return {r.driver_id: sum(1 for s in r.stops if s.depart_minute <= minute) for r in plan.routes}


def test_nothing_happened_keeps_every_assignment() -> None:
    """A re-plan at minute 0 with no events keeps every household with its driver (stability 1)."""
    problem = _town()
    plan = solve(problem, FAST)
    assert_plan_valid(problem, plan)
    result = _checked(replan(problem, plan, LiveState(0.0), SolveParams(improve=False)))
    assert result.stability == 1.0
    assert result.reassigned == ()
    assert result.plan.metrics.households_served == plan.metrics.households_served


def test_completed_stops_stay_and_riders_on_board_stay_with_their_driver() -> None:
    """Stops done before the re-plan are unchanged; a household picked up but not dropped is delivered by its car."""
    problem = _town()
    plan = solve(problem, FAST)
    route = next(r for r in plan.routes if len(r.stops) >= 3 and r.stops[0].type == "pickup")
    done = 1  # the first pickup is done, its drop-off is not
    rider = route.stops[0].household_id
    state = LiveState(route.stops[0].depart_minute, {route.driver_id: done})
    result = _checked(replan(problem, plan, state, FAST))
    new_route = result.plan.route(route.driver_id)
    assert new_route is not None
    assert new_route.stops[0] == route.stops[0]
    drops = [s for s in new_route.stops if s.type == "dropoff" and rider in s.household_ids]
    assert drops, "the rider on board must be dropped by the same driver"
    others = [r for r in result.plan.routes if r.driver_id != route.driver_id]
    assert all(s.household_id != rider for r in others for s in r.stops if s.type == "pickup")


def test_driver_drop_out_moves_only_their_households() -> None:
    """When a driver drops out, their waiting households go to others; the rest mostly keep their driver."""
    problem = _town()
    plan = solve(problem, FAST)
    quitter = max(plan.routes, key=lambda r: len(r.stops)).driver_id
    theirs = {s.household_id for s in plan.route(quitter).stops if s.type == "pickup"}  # type: ignore[union-attr]
    result = _checked(replan(problem, plan, LiveState(0.0, dropped_drivers=frozenset({quitter})), FAST))
    assert result.plan.route(quitter) is None
    served = {s.household_id for r in result.plan.routes for s in r.stops if s.type == "pickup"}
    assert theirs <= served | {u.household_id for u in result.plan.unserved}
    assert result.stability >= 0.6


def test_no_show_is_unserved_with_reason() -> None:
    """A household that did not come out is listed as a no-show, not silently dropped."""
    problem = _town()
    plan = solve(problem, FAST)
    target = plan.routes[0].stops[0].household_id
    result = _checked(replan(problem, plan, LiveState(0.0, no_shows=frozenset({target})), FAST))
    unserved = {u.household_id: u for u in result.plan.unserved}
    assert unserved[target].code == "no_show"


def test_new_request_is_served() -> None:
    """A household that calls in after the plan was made is placed by the re-plan."""
    problem = _town()
    plan = solve(problem, FAST)
    late = household("NEW", people=2)
    minutes = np.asarray(problem.travel.minutes)
    n_d = len(problem.drivers)
    # The newcomer lives where H0 lives: copy H0's row and column into the matrix.
    h0 = n_d
    grown = np.insert(minutes, n_d + len(problem.households), minutes[h0], axis=0)
    grown = np.insert(grown, n_d + len(problem.households), grown[:, h0], axis=1)
    grown[n_d + len(problem.households), n_d + len(problem.households)] = 0
    bigger = make_problem(households=[*problem.households, late], drivers=list(problem.drivers),
                          shelters=list(problem.shelters), minutes=grown, deadline=180)
    result = _checked(replan(bigger, plan, LiveState(10.0, _completed_at(plan, 10.0)), FAST))
    assert "NEW" in {s.household_id for r in result.plan.routes for s in r.stops if s.type == "pickup"}


def test_closure_that_makes_a_trip_too_late_is_repaired() -> None:
    """If travel times grow (a road floods) the old tail that no longer fits is re-placed, and all still checks."""
    problem = _town()
    plan = solve(problem, FAST)
    slower = dataclasses.replace(problem.travel, minutes=np.asarray(problem.travel.minutes) * 3.0)
    slow_problem = Problem(problem.name, problem.households, problem.drivers, problem.shelters, problem.alert,
                           dataclasses.replace(slower), problem.service)
    result = _checked(replan(slow_problem, plan, LiveState(5.0, _completed_at(plan, 5.0)), FAST))
    assert result.plan.metrics.clearance_minute >= plan.metrics.clearance_minute
    assert all(s.arrive_minute <= 180 + 1e-6 for r in result.future.routes for s in r.stops)


@pytest.mark.parametrize("minute", [0.0, 20.0, 40.0])
def test_replan_accounts_for_every_household(minute: float) -> None:
    """At any minute, every household is in the merged plan or in its unserved list, never both."""
    problem = _town()
    plan = solve(problem, FAST)
    result = _checked(replan(problem, plan, LiveState(minute, _completed_at(plan, minute)), FAST))
    picked = {s.household_id for r in result.plan.routes for s in r.stops if s.type == "pickup"}
    unserved = {u.household_id for u in result.plan.unserved}
    assert picked | unserved == {h.id for h in problem.households}
    assert not picked & unserved


def test_no_show_at_a_completed_stop_puts_nobody_on_board() -> None:
    """A pickup counted done because nobody came stays in the history, but the household is not on board, not
    delivered by the drop-offs after it, and is listed as a no-show."""
    problem = _town()
    plan = solve(problem, FAST)
    route = next(r for r in plan.routes if len(r.stops) >= 3 and r.stops[0].type == r.stops[1].type == "pickup")
    absent, rider = route.stops[1].household_id, route.stops[0].household_id
    drop = next(i for i, s in enumerate(route.stops) if s.type == "dropoff")
    for done in (2, drop + 1):  # before and after the drop-off that was to unload them
        state = LiveState(route.stops[done - 1].depart_minute, {route.driver_id: done}, no_shows=frozenset({absent}))
        result = _checked(replan(problem, plan, state, FAST))
        new_route = result.plan.route(route.driver_id)
        assert new_route is not None and new_route.stops[1].household_id == absent
        unloaded = [s for r in result.plan.routes for s in r.stops if s.type == "dropoff"]
        assert all(absent not in s.household_ids for s in unloaded)
        assert any(rider in s.household_ids for s in new_route.stops if s.type == "dropoff")
        assert {u.household_id: u.code for u in result.plan.unserved}[absent] == "no_show"
        assert result.plan.metrics.people_served == sum(s.people for s in unloaded)


def test_chained_replans_keep_split_parts_on_cars_they_fit() -> None:
    """A merged plan numbers split parts by pickup time, the residual re-splits: parts are matched by size.

    H (7 people) is split 4 + 3; the 3-seat car picks up first, so after one re-plan its part is number 1,
    which in the residual split is the 4-person part. A second re-plan must not put 4 people in 3 seats.
    """
    problem = make_problem(
        households=[household("H", people=7)],
        drivers=[driver("BIG", seats=4), driver("SMALL", seats=3)],
        shelters=["S"],
        minutes={("BIG", "H"): 9, ("SMALL", "H"): 1, ("H", "S"): 5, ("BIG", "S"): 10, ("SMALL", "S"): 5},
        deadline=60,
    )
    plan = solve(problem, FAST)
    first = _checked(replan(problem, plan, LiveState(0.0), SolveParams(improve=False)))
    second = _checked(replan(problem, first.plan, LiveState(0.0), SolveParams(improve=False)))
    assert second.stability == 1.0
    loads = {r.driver_id: [s.people for s in r.stops if s.type == "pickup"] for r in second.plan.routes}
    assert loads == {"BIG": [4], "SMALL": [3]}


# --- the one entry point and its policy ------------------------------------------------------------------------


def test_replan_checked_repairs_and_only_improves_when_worth_it() -> None:
    """Small reports are repaired only; a coordinator's ask improves; either way the future passed the check."""
    problem = _town()
    plan = solve(problem, FAST)
    quiet = replan_checked(problem, plan, LiveState(0.0, events=frozenset({LiveEvent.STOP_REPORT})), FAST)
    assert not quiet.improved and quiet.stability == 1.0 and not quiet.safety_stopped
    asked = replan_checked(problem, plan, LiveState(0.0, events=frozenset({LiveEvent.COORDINATOR})), FAST)
    assert asked.improved
    assert_plan_valid(asked.result.residual, asked.result.future)


@pytest.mark.parametrize(("events", "worth"), [
    ({LiveEvent.DROPOUT}, True),  # cars gone: the repair lost households another route could take
    ({LiveEvent.NO_SHOW}, False),  # small reports are only repaired, whatever they cost
    ({LiveEvent.NO_SHOW, LiveEvent.DROPOUT}, True),
])
def test_policy_improves_a_repair_that_lost_households(events: set[LiveEvent], worth: bool) -> None:
    problem = _town(n_drivers=3)
    plan = solve(problem, FAST)
    gone = frozenset(r.driver_id for r in plan.routes[:2])
    state = LiveState(0.0, dropped_drivers=gone, events=frozenset(events))
    repaired = replan(problem, plan, state, SolveParams(time_limit_seconds=0.5, improve=False))
    lost = plan.picked_ids() - repaired.plan.picked_ids()
    assert lost and not {u.code for u in repaired.plan.unserved if u.household_id in lost} - CAR_FIXABLE
    assert DEFAULT_POLICY.worth_improving(problem, plan, repaired, state) is worth


def test_a_future_that_breaks_a_rule_is_never_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry point checks what it returns: a broken future raises ``PlanInvalid``."""
    import matcher.solver.replan as replanning

    problem = _town()
    plan = solve(problem, FAST)
    real = replanning._result

    def broken(*args: object, **kwargs: object) -> ReplanResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        future = dataclasses.replace(result.future, metrics=dataclasses.replace(result.future.metrics,
                                                                                households_served=999))
        return dataclasses.replace(result, future=future)

    monkeypatch.setattr(replanning, "_result", broken)
    with pytest.raises(PlanInvalid):
        replan_checked(problem, plan, LiveState(0.0), FAST)


@pytest.mark.parametrize(("later_share", "events", "worth"), [
    (0.10, {LiveEvent.CLOSURE}, True),  # a closure that lengthens the routes: improve, not only repair
    (0.01, {LiveEvent.CLOSURE}, False),  # a minute or so later, far from the deadline: the repair stands
    (0.10, {LiveEvent.NO_SHOW}, False),  # small reports are only repaired, whatever they cost
])
def test_policy_improves_a_repair_that_finishes_much_later(later_share: float, events: set[LiveEvent],
                                                           worth: bool) -> None:
    """A repair finishing more than ``improve_if_later_share`` after the plan it repairs is improved."""
    problem = _town(n_drivers=3)
    plan = solve(problem, FAST)
    state = LiveState(0.0, events=frozenset(events))
    repaired = replan(problem, plan, state, SolveParams(time_limit_seconds=0.5, improve=False))
    assert repaired.plan.picked_ids() == plan.picked_ids()
    finish = repaired.future.metrics.clearance_minute
    assert finish < problem.alert.deadline_minutes - DEFAULT_POLICY.improve_within_minutes
    # The plan being followed, as if it had finished ``later_share`` before this repair does.
    was = finish / (1.0 + later_share)
    previous = dataclasses.replace(plan, metrics=dataclasses.replace(plan.metrics, clearance_minute=was))
    assert DEFAULT_POLICY.worth_improving(problem, previous, repaired, state) is worth


@pytest.mark.parametrize("minute", [0.0, 15.0, 40.0])
def test_places_needed_hold_every_place_a_replan_reads(minute: float) -> None:
    """``places_needed`` (what the travel-time update computes for a re-plan) holds every place of the residual
    problem: each driver's place after their done stops, each waiting household, each shelter."""
    from matcher.live import places_needed, residual_problem

    problem = _town()
    plan = solve(problem, FAST)
    completed = _completed_at(plan, minute)
    waiting = sorted(str(s.household_id) for r in plan.routes for s in r.stops[completed[r.driver_id]:]
                     if s.type == "pickup")
    state = LiveState(minute, completed, dropped_drivers=frozenset({plan.routes[0].driver_id}),
                      no_shows=frozenset(waiting[:1]))
    needed = places_needed(plan, state, [h.id for h in problem.households], [d.id for d in problem.drivers],
                           [s.id for s in problem.shelters])
    res = residual_problem(problem, plan, state)
    travel = problem.travel
    read = {travel.locations[i] for i in res.problem.travel.router._index}  # type: ignore[union-attr]
    assert read <= needed
    assert len(needed) < len(travel.locations) or minute == 0.0
    result = _checked(replan_checked(problem, plan, state, FAST).result)
    assert result.plan.metrics.households_served > 0


@pytest.mark.parametrize("min_stability", [0.95, 0.8])
def test_an_improved_replan_keeps_the_policy_stability_and_repeats(min_stability: float) -> None:
    """A coordinator's re-plan after two drop-outs improves the repair (ruin and recreate, then OR-Tools) but moves at
    most ``1 - min_stability`` of the households still waiting for a driver who drives on; checked, and the same
    seed and budget give the same plan."""
    problem = _town(40, 8, seed=5)
    plan = solve(problem, FAST)
    gone = frozenset(r.driver_id for r in plan.routes[:2])
    state = LiveState(0.0, dropped_drivers=gone, events=frozenset({LiveEvent.DROPOUT, LiveEvent.COORDINATOR}))
    policy = dataclasses.replace(DEFAULT_POLICY, min_stability=min_stability)
    params = SolveParams(time_limit_seconds=0.5, seed=2, safety_clock="cpu", safety_stop_seconds=600.0)
    outcomes = [replan_checked(problem, plan, state, params, policy) for _ in range(2)]
    outcome = outcomes[0]
    assert outcome.improved
    assert_plan_valid(outcome.result.residual, outcome.result.future)
    kept = sum(1 for r in plan.routes if r.driver_id not in gone for s in r.stops if s.type == "pickup")
    assert len(outcome.result.reassigned) <= int((1 - min_stability) * kept + 1e-9)
    assert outcome.result.future.routes == outcomes[1].result.future.routes
    repaired = replan(problem, plan, state, dataclasses.replace(params, improve=False))
    assert outcome.plan.metrics.clearance_minute <= repaired.plan.metrics.clearance_minute + 1e-6
