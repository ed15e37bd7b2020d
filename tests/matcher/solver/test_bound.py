"""The clearance lower bound: never above a valid plan's clearance, exact where the wheelchair fleet decides."""

from __future__ import annotations

import pytest

from matcher.check import assert_plan_valid
from matcher.solver import SolveParams, solve
from matcher.solver.bound import clearance_bound
from matcher.solver.instance import build_instance
from matcher.solver.triage import triage
from tests.factories import driver, household, make_problem
from tests.matcher.solver.test_solve import random_problem


def test_one_wheelchair_car_round_trips_meet_the_bound_exactly() -> None:
    """One car with one wheelchair space at the shelter, three wheelchair households 10 minutes out, 20 apart.

    Each trip is shelter -> home (10) + pickup (3) + ride (10) + unloading (2) = 25 minutes; the third
    arrives at 3 * 25 - 2 = 73. The wheelchair-fleet bound says the same, and the solver reaches it.
    """
    homes = ["H1", "H2", "H3"]
    minutes = {("D1", "S1"): 0.0, **{(h, "S1"): 10.0 for h in homes}, **{("D1", h): 10.0 for h in homes},
               **{(a, b): 20.0 for a in homes for b in homes if a < b}}
    p = make_problem(households=[household(h, people=1, wheelchair_users=1) for h in homes],
                     drivers=[driver("D1", seats=3, wheelchair_spaces=1)], shelters=["S1"], minutes=minutes)
    inst = build_instance(p)
    bound = clearance_bound(inst, triage(inst).shelter)
    assert bound.kind == "wheelchair fleet"
    assert bound.minute == pytest.approx(73.0)
    plan = solve(p, SolveParams(time_limit_seconds=0.5))
    assert_plan_valid(p, plan)
    assert plan.metrics.clearance_minute == pytest.approx(73.0)
    assert plan.metrics.clearance_bound_minute == pytest.approx(73.0)


def test_only_the_first_wheelchair_pickup_comes_from_the_car_start() -> None:
    """The car starts a minute from each of three wheelchair homes, the shelter is 10 minutes from each.

    Only its first wheelchair pickup can come from its start: start -> home (1) + pickup (3) + ride (10) +
    unloading (2) = 16, then two shelter round trips of 25; the last arrives at 16 + 2 * 25 - 2 = 64. The bound
    counts the start once (before, every household was taken as reachable from the start: 46).
    """
    homes = ["H1", "H2", "H3"]
    minutes = {("D1", "S1"): 11.0, **{(h, "S1"): 10.0 for h in homes}, **{("D1", h): 1.0 for h in homes},
               **{(a, b): 2.0 for a in homes for b in homes if a < b}}
    p = make_problem(households=[household(h, people=1, wheelchair_users=1) for h in homes],
                     drivers=[driver("D1", seats=3, wheelchair_spaces=1)], shelters=["S1"], minutes=minutes)
    inst = build_instance(p)
    bound = clearance_bound(inst, triage(inst).shelter)
    assert bound.kind == "wheelchair fleet"
    assert bound.minute == pytest.approx(64.0)
    plan = solve(p, SolveParams(time_limit_seconds=0.5))
    assert_plan_valid(p, plan)
    assert plan.metrics.clearance_minute == pytest.approx(64.0)


def test_a_pooled_trip_counts_the_drive_between_its_pickups_once() -> None:
    """A two-seat car at H1; H1 -10- H2 -20- S1 on a line. The best plan pools: pickup (3), 10 to H2, pickup (3),
    20 to the shelter: there at 36. The fleet-work bound counts the drive into H2 (10) and the last rider's ride
    (20) once each: 36, exact. (It used to add each rider's share of a ride, half of H1's 30 and half of H2's 20,
    on top of the drive into H2: 41, above a real plan.)"""
    minutes = {("D1", "H1"): 0.0, ("D1", "H2"): 10.0, ("D1", "S1"): 30.0, ("H1", "H2"): 10.0, ("H1", "S1"): 30.0,
               ("H2", "S1"): 20.0}
    p = make_problem(households=[household("H1", people=1), household("H2", people=1)],
                     drivers=[driver("D1", seats=2, wheelchair_spaces=0)], shelters=["S1"], minutes=minutes)
    inst = build_instance(p)
    bound = clearance_bound(inst, triage(inst).shelter)
    plan = solve(p, SolveParams(time_limit_seconds=0.5))
    assert_plan_valid(p, plan)
    assert plan.metrics.clearance_minute == pytest.approx(36.0)
    assert bound.kind == "fleet work"
    assert bound.minute == pytest.approx(36.0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bound_never_exceeds_a_valid_plan(seed: int) -> None:
    """On random instances (a tenth of the households and a quarter of the cars with wheelchairs) every checked
    plan that serves everyone clears at or after the bound, which the plan reports."""
    p = random_problem(40, 8, 2, seed=seed)
    plan = solve(p, SolveParams(time_limit_seconds=0.5, seed=seed))
    assert_plan_valid(p, plan)
    inst = build_instance(p)
    bound = clearance_bound(inst, triage(inst).shelter)
    assert bound.minute <= plan.metrics.clearance_minute + 1e-6
    if plan.unserved == ():
        assert plan.metrics.clearance_bound_minute == pytest.approx(bound.minute)
