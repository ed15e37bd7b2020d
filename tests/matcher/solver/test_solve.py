"""The solver on hand-written travel times: pooling, trips, wheelchairs, shelters, time rules, priority, reasons."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from matcher.check import assert_plan_valid
from matcher.plan import Plan, Stop
from matcher.problem import Problem
from matcher.solver import SolveParams, solve
from matcher.solver.improve import work_for
from tests.factories import driver, household, make_problem, shelter

FAST = SolveParams(time_limit_seconds=0.5)


def _solve(problem: Problem, params: SolveParams = FAST) -> Plan:
    """Solve and validate: every plan a test looks at must pass the checker."""
    plan = solve(problem, params)
    assert_plan_valid(problem, plan)
    return plan


def _pickups(plan: Plan, household_id: str) -> list[tuple[str, Stop]]:
    return [
        (r.driver_id, s) for r in plan.routes for s in r.stops if s.type == "pickup" and s.household_id == household_id
    ]


def _dropoff_of(plan: Plan, household_id: str) -> Stop:
    (stop,) = [s for r in plan.routes for s in r.stops if s.type == "dropoff" and household_id in s.household_ids]
    return stop


def _unserved(plan: Plan) -> dict[str, tuple[str, str]]:
    return {u.household_id: (u.code, u.reason) for u in plan.unserved}


def _served(plan: Plan) -> set[str]:
    return {s.household_id for r in plan.routes for s in r.stops if s.type == "pickup" and s.household_id}


# --- pooling and trips ---------------------------------------------------------------------------------------


def test_two_neighbours_for_the_same_shelter_share_one_trip() -> None:
    """One car, two households 2 minutes apart: both ride in one trip to the shelter (one drop-off)."""
    p = make_problem(
        households=["H1", "H2"],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("D1", "H2"): 5, ("H1", "H2"): 2, ("H1", "S1"): 10, ("H2", "S1"): 10},
    )
    plan = _solve(p)
    (route,) = plan.routes
    assert [s.type for s in route.stops] == ["pickup", "pickup", "dropoff"]
    assert set(route.stops[-1].household_ids) == {"H1", "H2"}
    # 5 + 3 + 2 + 3 + 10: pooled; two separate trips would end at 43.
    assert plan.metrics.clearance_minute == pytest.approx(23)


def test_one_car_with_more_households_than_seats_makes_several_trips() -> None:
    """A 2-seat car and five single-person households: at least three trips, everyone served."""
    p = make_problem(households=[f"H{i}" for i in range(1, 6)], drivers=[driver("D1", seats=2)], shelters=["S1"],
                     deadline=300)
    plan = _solve(p)
    assert plan.unserved == ()
    assert _served(plan) == {f"H{i}" for i in range(1, 6)}
    (route,) = plan.routes
    dropoffs = [s for s in route.stops if s.type == "dropoff"]
    assert len(dropoffs) >= 3
    assert sum(s.people for s in dropoffs) == 5
    assert all(s.people <= 2 for s in dropoffs)


# --- wheelchairs ---------------------------------------------------------------------------------------------


def test_wheelchair_user_rides_only_in_the_car_with_a_wheelchair_space() -> None:
    """The wheelchair user is picked up by the van, even though the ordinary car is nearer."""
    p = make_problem(
        households=[household("H1", people=2, wheelchair_users=1), "H2"],
        drivers=[driver("D1", seats=4), driver("V1", seats=2, wheelchair_spaces=1)],
        shelters=["S1"],
        minutes={("D1", "H1"): 2, ("V1", "H1"): 15},
    )
    plan = _solve(p)
    assert plan.unserved == ()
    assert [d for d, _ in _pickups(plan, "H1")] == ["V1"]


def test_wheelchair_user_without_wheelchair_car_is_unserved_with_that_code() -> None:
    """No car has a wheelchair space: the household is unserved as no_wheelchair_car; others still go."""
    p = make_problem(
        households=[household("H1", people=2, wheelchair_users=1), "H2"],
        drivers=[driver("D1", seats=4), driver("D2", seats=7)],
        shelters=["S1"],
    )
    plan = _solve(p)
    assert _unserved(plan).keys() == {"H1"}
    code, reason = _unserved(plan)["H1"]
    assert code == "no_wheelchair_car"
    assert "wheelchair" in reason
    assert _served(plan) == {"H2"}


# --- shelters ------------------------------------------------------------------------------------------------


def test_full_nearest_shelter_sends_the_next_household_to_the_other_shelter() -> None:
    """S1 (near) holds 2 people: the urgent household gets it, the other goes to S2 (far)."""
    p = make_problem(
        households=[household("H1", people=2, priority=1), household("H2", people=2, priority=2)],
        drivers=["D1", "D2"],
        shelters=[shelter("S1", capacity=2), shelter("S2", capacity=10)],
        minutes={("H1", "S1"): 5, ("H2", "S1"): 5, ("H1", "S2"): 20, ("H2", "S2"): 20},
    )
    plan = _solve(p)
    assert plan.unserved == ()
    assert _dropoff_of(plan, "H1").shelter_id == "S1"
    assert _dropoff_of(plan, "H2").shelter_id == "S2"


def test_no_room_in_any_shelter_leaves_household_unserved_no_shelter_room() -> None:
    """Three places in all and two households of two: one fits, the other is no_shelter_room."""
    p = make_problem(
        households=[household("H1", people=2, priority=1), household("H2", people=2, priority=2)],
        drivers=["D1", "D2"],
        shelters=[shelter("S1", capacity=2), shelter("S2", capacity=1)],
    )
    plan = _solve(p)
    assert _served(plan) == {"H1"}
    code, reason = _unserved(plan)["H2"]
    assert code == "no_shelter_room"
    assert "room" in reason


def test_wheelchair_user_never_goes_to_a_non_accessible_shelter() -> None:
    """The near shelter has steps: the wheelchair user goes to the far accessible one, the other to the near."""
    p = make_problem(
        households=[household("H1", people=1, wheelchair_users=1), "H2"],
        drivers=[driver("V1", seats=3, wheelchair_spaces=1), "D2"],
        shelters=[shelter("S1", wheelchair_accessible=False), shelter("S2")],
        minutes={("H1", "S1"): 3, ("H2", "S1"): 3, ("H1", "S2"): 25, ("H2", "S2"): 25},
    )
    plan = _solve(p)
    assert plan.unserved == ()
    assert _dropoff_of(plan, "H1").shelter_id == "S2"
    assert _dropoff_of(plan, "H2").shelter_id == "S1"


def test_no_accessible_shelter_leaves_wheelchair_user_unserved() -> None:
    """Every shelter has steps: the wheelchair user is unserved as no_accessible_shelter."""
    p = make_problem(
        households=[household("H1", people=1, wheelchair_users=1), "H2"],
        drivers=[driver("V1", seats=3, wheelchair_spaces=1)],
        shelters=[shelter("S1", wheelchair_accessible=False)],
    )
    plan = _solve(p)
    assert _unserved(plan)["H1"][0] == "no_accessible_shelter"
    assert _served(plan) == {"H2"}


# --- time rules ----------------------------------------------------------------------------------------------

RIDE_MINUTES = {("D1", "H1"): 5, ("D1", "H2"): 5, ("H1", "H2"): 8, ("H1", "S1"): 5, ("H2", "S1"): 12}


def test_pooling_happens_without_a_ride_limit() -> None:
    """Control for the next test: with default ride limits the one car pools the two households."""
    p = make_problem(households=["H1", "H2"], drivers=["D1"], shelters=["S1"], minutes=RIDE_MINUTES)
    plan = _solve(p)
    assert [len(s.household_ids) for r in plan.routes for s in r.stops if s.type == "dropoff"] == [2]


def test_max_ride_minutes_forbids_pooling_with_a_far_neighbour() -> None:
    """H1 may ride 10 minutes and H2 14: pooling breaks one of them either way, so each rides alone."""
    p = make_problem(
        households=[household("H1", max_ride_minutes=10), household("H2", max_ride_minutes=14)],
        drivers=["D1"],
        shelters=["S1"],
        minutes=RIDE_MINUTES,
    )
    plan = _solve(p)
    assert plan.unserved == ()
    dropoffs = [s for r in plan.routes for s in r.stops if s.type == "dropoff"]
    assert sorted(s.household_ids for s in dropoffs) == [("H1",), ("H2",)]


def test_household_too_far_for_the_deadline_is_too_late() -> None:
    """No car can reach H2 and a shelter before the deadline: unserved as too_late; H1 is served."""
    p = make_problem(
        households=["H1", "H2"],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H2"): 100, ("H1", "H2"): 100, ("H2", "S1"): 100},
        deadline=60,
    )
    plan = _solve(p)
    assert _served(plan) == {"H1"}
    code, reason = _unserved(plan)["H2"]
    assert code == "too_late"
    assert "deadline" in reason
    assert plan.metrics.clearance_minute <= 60


def test_unreachable_household_is_cut_off() -> None:
    """A household no road reaches (infinite travel time) is unserved as cut_off."""
    p = make_problem(
        households=["H1", "H2"],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H2"): math.inf, ("H1", "H2"): math.inf, ("H2", "S1"): math.inf},
    )
    plan = _solve(p)
    assert _served(plan) == {"H1"}
    code, reason = _unserved(plan)["H2"]
    assert code == "cut_off"
    assert "cut off" in reason


def test_household_that_cannot_reach_any_shelter_is_cut_off() -> None:
    """Cars reach the home but no shelter is reachable from it: cut_off too."""
    p = make_problem(
        households=["H1", "H2"], drivers=["D1"], shelters=["S1"], minutes={("H2", "S1"): math.inf}
    )
    plan = _solve(p)
    assert _unserved(plan)["H2"][0] == "cut_off"
    assert _served(plan) == {"H1"}


def test_priority_one_household_is_served_when_only_one_fits() -> None:
    """One car, time for one trip: the priority-1 household goes; the other's reason names higher priorities."""
    p = make_problem(
        households=[household("H1", priority=3), household("H2", priority=1)],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 10, ("D1", "H2"): 10, ("H1", "H2"): 50, ("H1", "S1"): 10, ("H2", "S1"): 10},
        deadline=30,
    )
    plan = _solve(p)
    assert _served(plan) == {"H2"}
    code, reason = _unserved(plan)["H1"]
    assert code == "not_enough_cars"
    assert "higher-priority" in reason


def test_pickup_waits_for_ready_time() -> None:
    """A household ready only at minute 30 is not picked up before then, although the car is there at 5."""
    p = make_problem(
        households=[household("H1", ready_from_minute=30)],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("H1", "S1"): 10},
    )
    plan = _solve(p)
    ((_, stop),) = _pickups(plan, "H1")
    assert stop.depart_minute == pytest.approx(30 + 3)
    assert _dropoff_of(plan, "H1").arrive_minute == pytest.approx(43)


def test_driver_availability_window_is_respected() -> None:
    """D1 starts at 30 and D2 stops at 25: no D1 stop before 30, no D2 drop-off after 25, everyone served."""
    p = make_problem(
        households=["H1", "H2", "H3"],
        drivers=[
            driver("D1", available_from_minute=30, seats=1),
            driver("D2", available_until_minute=25, seats=1),
        ],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("D2", "H1"): 5, ("D1", "H2"): 5, ("D2", "H2"): 5, ("H1", "S1"): 10,
                 ("H2", "S1"): 10, ("H3", "S1"): 10},
        deadline=200,
    )
    plan = _solve(p)
    assert plan.unserved == ()
    d1, d2 = plan.route("D1"), plan.route("D2")
    assert d1 is not None and d2 is not None
    assert min(s.arrive_minute for s in d1.stops) >= 30 + 5
    assert max(s.arrive_minute for s in d2.stops if s.type == "dropoff") <= 25
    # One single-seat trip takes 18 minutes: D2 has time for one, D1 takes the other two.
    assert len(_served_by(plan, "D2")) == 1
    assert len(_served_by(plan, "D1")) == 2


def _served_by(plan: Plan, driver_id: str) -> set[str]:
    route = plan.route(driver_id)
    return set() if route is None else {s.household_id for s in route.stops if s.type == "pickup" and s.household_id}


def test_large_household_is_split_across_two_cars() -> None:
    """Seven people and two 4-seat cars: each car takes a part, and the plan JSON shows part/parts."""
    p = make_problem(households=[household("H1", people=7)], drivers=["D1", "D2"], shelters=["S1"])
    plan = _solve(p)
    assert plan.unserved == ()
    pickups = _pickups(plan, "H1")
    assert sorted(d for d, _ in pickups) == ["D1", "D2"]
    assert sorted((s.part, s.parts, s.people) for _, s in pickups) == [(1, 2, 4), (2, 2, 3)]
    dicts = [s for r in plan.to_dict()["routes"] for s in r["stops"] if s["type"] == "pickup"]
    assert sorted((s["part"], s["parts"]) for s in dicts) == [(1, 2), (2, 2)]
    assert plan.metrics.people_served == 7


def test_split_household_is_served_whole_or_not_at_all() -> None:
    """Seven people but only one 4-seat car with time for a single trip: unserved, not half moved."""
    p = make_problem(households=[household("H1", people=7)], drivers=["D1"], shelters=["S1"], deadline=30)
    plan = _solve(p)
    assert plan.routes == ()
    assert _unserved(plan).keys() == {"H1"}
    assert plan.metrics.people_served == 0


# --- determinism and quality ---------------------------------------------------------------------------------


def random_problem(
    n_households: int,
    n_cars: int,
    n_shelters: int,
    seed: int,
    deadline: float = 240.0,
    minutes_across: float = 25.0,
) -> Problem:
    """Places at random in a square; travel minutes are Euclidean distances (the square is ``minutes_across``)."""
    rng = np.random.default_rng(seed)
    households = [
        household(
            f"H{i:03d}",
            people=int(rng.integers(1, 5)),
            wheelchair_users=int(rng.random() < 0.1),
            priority=int(rng.integers(1, 4)),
            ready_from_minute=float(rng.choice([0, 0, 0, 10, 20])),
        )
        for i in range(n_households)
    ]
    drivers = [
        driver(f"D{i:02d}", seats=int(rng.integers(2, 5)), wheelchair_spaces=int(i % 4 == 0))
        for i in range(n_cars)
    ]
    capacity = 2 * sum(h.people for h in households) // n_shelters + 5
    shelters = [shelter(f"S{i}", capacity=capacity) for i in range(n_shelters)]
    xy = rng.random((n_cars + n_households + n_shelters, 2)) * minutes_across
    matrix = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return make_problem(households=households, drivers=drivers, shelters=shelters, minutes=matrix, deadline=deadline)


def _without_timings(plan: Plan) -> dict[str, Any]:
    data = plan.to_dict()
    data["metrics"].pop("solve_seconds")
    data["metrics"].pop("first_plan_seconds")
    return data


def test_same_seed_and_limit_give_the_same_plan() -> None:
    """Two solves with one seed and time limit give the same plan, timings aside."""
    p = random_problem(30, 6, 2, seed=7)
    params = SolveParams(time_limit_seconds=1.0, seed=3)
    first, second = _solve(p, params), _solve(p, params)
    assert _without_timings(first) == _without_timings(second)
    assert first.metrics.households_served > 0


def test_clearance_no_worse_than_one_household_per_trip() -> None:
    """On a small instance the plan clears no later than cars taking one household per trip in turn."""
    p = random_problem(8, 2, 2, seed=11, deadline=600)
    T = p.travel.minutes
    svc = p.service
    # The trivial schedule: households in order to the car that is free first, straight to their nearest
    # shelter that is allowed (accessible for a wheelchair user), one household per trip.
    free = {d.id: (d.available_from_minute, p.travel.index("driver", d.id)) for d in p.drivers}
    trivial = 0.0
    for h in p.households:
        fits = [d for d in p.drivers if d.seats >= h.seated and d.wheelchair_spaces >= h.wheelchair_users]
        assert fits, "the random instance must let some car take every household whole"
        d = min(fits, key=lambda d: (free[d.id][0], d.id))
        clock, at = free[d.id]
        home = p.travel.index("household", h.id)
        allowed = [s for s in p.shelters if s.wheelchair_accessible or not h.wheelchair_users]
        s = min(allowed, key=lambda s: T[home, p.travel.index("shelter", s.id)])
        dest = p.travel.index("shelter", s.id)
        depart = max(clock + T[at, home], h.ready_from_minute) + svc.pickup
        arrive = depart + T[home, dest]
        trivial = max(trivial, arrive)
        free[d.id] = (arrive + svc.dropoff, dest)
    plan = _solve(p, SolveParams(time_limit_seconds=1.0))
    assert plan.unserved == ()
    assert plan.metrics.clearance_minute <= trivial + 1e-6
    assert trivial > 0


@pytest.mark.slow
def test_moderate_random_instance_is_solved_and_valid() -> None:
    """Sixty households, twelve cars, three shelters: a valid plan with a 2 s limit, all accounted for."""
    p = random_problem(60, 12, 3, seed=2026)
    plan = _solve(p, SolveParams(time_limit_seconds=2.0, seed=1))
    assert plan.metrics.households_served + plan.metrics.households_unserved == 60
    # A 4-hour deadline on a 25-minute square: cars to spare, so nobody is left behind.
    assert plan.unserved == ()
    assert plan.metrics.clearance_minute <= p.deadline
    assert plan.metrics.first_plan_seconds is not None


def test_search_work_is_budgeted_by_the_time_limit_alone() -> None:
    """The improvement budget is a function of the time limit, not of the clock: it scales with the limit."""
    assert work_for(0.0) == 0
    assert work_for(2.0) == 2 * work_for(1.0)


def test_tiny_instance_search_ends_by_its_budget() -> None:
    """On a tiny instance the search ends when its work budget is spent (said in progress), with a valid plan."""
    p = make_problem(
        households=[household("H1", people=2, wheelchair_users=1), "H2"],
        drivers=[driver("D1", seats=4), driver("V1", seats=2, wheelchair_spaces=1)],
        shelters=["S1"],
    )
    said: list[str] = []
    plan = solve(p, SolveParams(time_limit_seconds=1.0), progress=said.append)
    assert_plan_valid(p, plan)
    assert plan.unserved == ()
    assert any(m.startswith("improvement:") and "rounds" in m for m in said)


@pytest.mark.parametrize(
    ("shelters", "drivers", "code"),
    [
        ([], ["D1"], "no_shelter_room"),  # no shelter open at all
        (["S1"], [], "not_enough_cars"),  # no volunteer driver at all
    ],
)
def test_nothing_to_plan_with_gives_reasons_not_errors(shelters: list[str], drivers: list[str], code: str) -> None:
    """With no shelter or no driver every household is unserved with a reason a coordinator can act on."""
    p = make_problem(households=["H1", "H2"], drivers=drivers, shelters=shelters)
    plan = _solve(p, FAST)
    assert [u.code for u in plan.unserved] == [code, code]


def test_trips_that_break_a_rule_raise_solver_error() -> None:
    """A car whose trips end after its availability is a solver bug: SolverError (exit code 3), never a plan."""
    from matcher.errors import SolverError
    from matcher.solver.construct import Solution, Trip
    from matcher.solver.instance import build_instance
    from matcher.solver.solve import _verify

    p = make_problem(households=["H1"], drivers=[driver("D1", available_until_minute=20)], shelters=["S1"],
                     minutes={("D1", "H1"): 10, ("H1", "S1"): 10})
    inst = build_instance(p)
    late = Solution([[Trip((0,), 0)]], np.array([23.0]), np.array([True]))
    with pytest.raises(SolverError, match="driver D1"):
        _verify(inst, late)
    assert SolverError.exit_code == 3


def test_availability_means_unloaded_by_then() -> None:
    """A driver available until 24 may not arrive at 23 with 2 minutes of unloading: the plan ends by 24.

    One car, one household: arriving at minute 23 (10 + 3 + 10) would unload until 25. Unserved, with the
    checker agreeing; at 25 the same trip fits.
    """
    minutes = {("D1", "H1"): 10, ("H1", "S1"): 10}
    tight = make_problem(households=["H1"], drivers=[driver("D1", available_until_minute=24)], shelters=["S1"],
                         minutes=minutes)
    plan = _solve(tight)
    assert _unserved(plan)["H1"][0] == "too_late"
    roomy = make_problem(households=["H1"], drivers=[driver("D1", available_until_minute=25)], shelters=["S1"],
                         minutes=minutes)
    plan = _solve(roomy)
    assert _served(plan) == {"H1"}
    (route,) = plan.routes
    assert route.stops[-1].depart_minute == pytest.approx(25)


def _failing_rounds(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any, int, list[int], Any]:
    """Eight cars (one OR-Tools group, the whole fleet) whose every group round fails, charged its model's size:
    the instance, triage, first plan, that size, the calls made so far and a far safety stop."""
    from matcher.solver import improve as improve_module
    from matcher.solver.instance import build_instance
    from matcher.solver.model import GroupResult, model_size
    from matcher.solver.safety import SafetyStop
    from matcher.solver.solve import first_construction
    from matcher.solver.triage import triage

    p = random_problem(40, 8, 2, seed=1)
    inst = build_instance(p)
    tri = triage(inst)
    sol = first_construction(inst, tri.shelter)
    size = model_size(inst, tri.shelter, [int(r) for r in np.flatnonzero(sol.assigned)])
    calls: list[int] = []

    def group(*_args: Any, **_kwargs: Any) -> GroupResult:
        calls.append(1)
        return GroupResult(None, nodes=size)

    monkeypatch.setattr(improve_module, "improve_group", group)
    return inst, tri, sol, size, calls, SafetyStop.start(600.0, cpu=True)


def test_no_ortools_round_starts_that_the_budget_cannot_pay_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A round is charged at least its model's size: with one node less than that left, none starts (a whole-fleet
    round once ran 4.6 s of CPU on a budget that had 45 nodes left); with exactly that, one does."""
    from matcher.solver import improve as improve_module

    inst, tri, sol, size, calls, stop = _failing_rounds(monkeypatch)
    improve_module.improve(inst, sol, tri.shelter, size - 1, stop, 0, lambda _msg: None)
    assert calls == []
    improve_module.improve(inst, sol, tri.shelter, size, stop, 0, lambda _msg: None)
    assert calls


def test_without_pair_exchange_the_plan_is_valid_and_repeats() -> None:
    """A regional zone solve leaves out OR-Tools' exchange-pair moves: the option reaches OR-Tools, and the
    search still gives a checked plan that serves everyone, the same for the same seed and limit."""
    from ortools.util.optional_boolean_pb2 import BOOL_FALSE, BOOL_TRUE

    from matcher.solver.model import _params

    assert _params(1.0, 15).local_search_operators.use_exchange_pair == BOOL_TRUE
    assert _params(1.0, 15, pair_exchange=False).local_search_operators.use_exchange_pair == BOOL_FALSE
    p = random_problem(60, 12, 3, seed=2026)
    params = SolveParams(time_limit_seconds=2.0, seed=1, pair_exchange=False)
    one, two = _solve(p, params), _solve(p, params)
    assert one.unserved == ()
    assert one.to_dict()["routes"] == two.to_dict()["routes"]


def test_ortools_rounds_that_stall_hand_back_the_rest_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """After ``stall_rounds`` rounds in a row that keep nothing the search ends and says what it did not spend;
    without it, rounds run until none fits in what is left."""
    from matcher.solver import improve as improve_module

    inst, tri, sol, size, calls, stop = _failing_rounds(monkeypatch)
    # A whole-fleet round is a probe and a descent (two calls); its escape rounds are charged double.
    stalled = improve_module.improve(inst, sol, tri.shelter, 40 * size, stop, 0, lambda _msg: None, stall_rounds=3)
    assert stalled.rounds == 3
    assert 0 < stalled.work_left < 40 * size
    assert stalled.solution.clearance == sol.clearance
    calls.clear()
    spent = improve_module.improve(inst, sol, tri.shelter, 40 * size, stop, 0, lambda _msg: None)
    assert spent.work_left < size  # only what no round fits in is left
    assert spent.rounds > stalled.rounds


def test_the_budget_ortools_leaves_goes_to_ruin_and_recreate(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the OR-Tools search does not spend (here every round fails, so it stalls) is searched by ruin and
    recreate from the improved plan, to the work unit; the plan is checked and repeats."""
    from matcher.solver import improve as improve_module
    from matcher.solver import ruin as ruin_module
    from matcher.solver.model import GroupResult

    solve_module = __import__("sys").modules["matcher.solver.solve"]
    p = random_problem(40, 20, 2, seed=3)  # twenty cars: ruin and recreate takes a share, OR-Tools the rest
    monkeypatch.setattr(improve_module, "improve_group", lambda *_a, **_k: GroupResult(None, nodes=30))
    real_ruin, real_improve = ruin_module.ruin_and_recreate, solve_module.improve
    ruin_units: list[int] = []
    left: list[int] = []

    def ruin(*args: Any, **kwargs: Any) -> Any:
        ruin_units.append(args[5])
        return real_ruin(*args, **kwargs)

    def improve(*args: Any, **kwargs: Any) -> Any:
        out = real_improve(*args, **kwargs)
        left.append(out.work_left)
        return out

    monkeypatch.setattr(ruin_module, "ruin_and_recreate", ruin)
    monkeypatch.setattr(solve_module, "improve", improve)
    params = SolveParams(time_limit_seconds=2.0, seed=1)
    said: list[str] = []
    plan = solve(p, params, progress=said.append)
    assert_plan_valid(p, plan)
    assert plan.unserved == ()
    assert left[0] > 0
    # The first search is the share before OR-Tools; the second spends exactly what OR-Tools left.
    assert ruin_units == [ruin_units[0], left[0] * ruin_module.UNITS_PER_NODE]
    assert any(m.startswith(f"ruin and recreate on the {left[0]} nodes left") for m in said)
    assert _without_timings(_solve(p, params)) == _without_timings(plan)
