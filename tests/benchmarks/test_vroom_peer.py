"""The VROOM peer: plans valid per the checker, the matrix handed over right, ride limits enforced after."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.peers.vroom_peer import VroomModel, solve_vroom, solve_vroom_bisect
from matcher.check import check_plan
from matcher.plan import Plan
from matcher.problem import Problem
from tests.factories import driver, example_problem, household, make_problem


def _valid(problem: Problem, plan: Plan) -> Plan:
    violations = check_plan(problem, plan)
    assert violations == [], "\n".join(map(str, violations))
    return plan


def test_example_problem_plan_is_valid() -> None:
    """Ready times, a split household, wheelchair spaces and availability windows: a valid plan for all."""
    problem = example_problem()
    plan = _valid(problem, solve_vroom(problem, time_limit_seconds=2).plan)
    assert plan.metrics.households_served >= 1
    assert plan.metrics.households_served + plan.metrics.households_unserved == len(problem.households)


def test_matrix_is_contiguous_seconds_with_unreachable_legs_too_long_to_use() -> None:
    """pyvroom ignores strides: the matrix must be C-contiguous uint32, minutes rounded up to seconds."""
    problem = make_problem(households=["H1"], drivers=["D1"], shelters=["S1"],
                           minutes={("D1", "H1"): 1.01, ("H1", "S1"): 10}, default_minutes=math.inf)
    model = VroomModel(problem)
    assert model.matrix.dtype == np.uint32 and model.matrix.flags["C_CONTIGUOUS"]
    d1, h1 = problem.travel.index("driver", "D1"), problem.travel.index("household", "H1")
    assert model.matrix[d1, h1] == 61  # 60.6 s up
    s1 = problem.travel.index("shelter", "S1")
    assert model.matrix[d1, s1] > (problem.deadline + problem.service.dropoff) * 60


def test_asymmetric_times_are_read_the_right_way_round() -> None:
    """Out is 5 minutes, back is 100: read transposed, VROOM would find the 20-minute deadline impossible."""
    minutes = {("D1", "H1"): 5, ("H1", "D1"): 100, ("H1", "S1"): 5, ("S1", "H1"): 100}
    problem = make_problem(households=["H1"], drivers=["D1"], shelters=["S1"], minutes=minutes, deadline=20)
    plan = _valid(problem, solve_vroom(problem, time_limit_seconds=1).plan)
    assert plan.unserved == ()
    assert plan.metrics.clearance_minute == 13  # 5 + 3 + 5


def test_unreachable_leg_is_never_driven() -> None:
    """H1 -> H2 is cut, H2 -> H1 is open: if the car pools them it must take H2 first."""
    minutes = {("D1", "H1"): 5, ("D1", "H2"): 5, ("H1", "H2"): math.inf, ("H2", "H1"): 2,
               ("H1", "S1"): 10, ("H2", "S1"): 10}
    problem = make_problem(households=["H1", "H2"], drivers=["D1"], shelters=["S1"], minutes=minutes)
    plan = _valid(problem, solve_vroom(problem, time_limit_seconds=1).plan)
    assert plan.unserved == ()


def test_too_long_rides_are_dropped_with_a_reason() -> None:
    """H1 may ride 1 minute but its shelter is 10 away: VROOM serves it, the conversion takes it off."""
    problem = make_problem(
        households=[household("H1", max_ride_minutes=1), "H2"],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("D1", "H2"): 5, ("H1", "S1"): 10, ("H2", "S1"): 10},
    )
    run = solve_vroom(problem, time_limit_seconds=1)
    plan = _valid(problem, run.plan)
    assert [u.household_id for u in plan.unserved] == ["H1"]
    assert "ride" in plan.unserved[0].reason and run.dropped_for_ride == 1


def test_bisect_spreads_the_work_and_clears_earlier() -> None:
    """The cars start 30 minutes out and trips from the shelter are short: least driving sends one car
    for all four households, while bisecting the shift end makes both cars drive."""
    households = [household(f"H{i}", people=4) for i in range(1, 5)]
    minutes: dict[tuple[str, str], float] = {}
    for h in households:
        minutes |= {("D1", h.id): 30, ("D2", h.id): 30, (h.id, "S1"): 5}
    for a in households:
        for b in households:
            if a.id < b.id:
                minutes[(a.id, b.id)] = 1
    problem = make_problem(households=households, drivers=[driver("D1"), driver("D2")], shelters=["S1"],
                           minutes=minutes, deadline=300)
    plain = solve_vroom(problem, time_limit_seconds=2)
    bisect = solve_vroom_bisect(problem, budget_seconds=6, plain=plain)
    _valid(problem, plain.plan)
    _valid(problem, bisect.plan)
    assert plain.plan.metrics.households_served == bisect.plan.metrics.households_served == 4
    assert len(plain.plan.routes) == 1  # 30 + 3 * 10 + 4 * 5 + ... with one car: cheapest driving
    assert len(bisect.plan.routes) == 2
    assert bisect.plan.metrics.clearance_minute < plain.plan.metrics.clearance_minute
    assert bisect.probes and bisect.wall_seconds < plain.wall_seconds + 10


def test_bisect_without_a_plain_run_stays_in_budget() -> None:
    """Run alone, the bisection makes its own unbounded solve and keeps a valid plan."""
    problem = example_problem()
    run = solve_vroom_bisect(problem, budget_seconds=2)
    _valid(problem, run.plan)
    assert run.wall_seconds < 4
