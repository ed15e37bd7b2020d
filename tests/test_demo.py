"""The bundled demo (scenarios/kotka_storm.yaml) loads, solves in 3 s and gives a valid, useful plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.check import assert_plan_valid
from matcher.plan import Plan
from matcher.scenario import Scenario, load_scenario
from matcher.settings import Settings
from matcher.solver import SolveParams, solve

DEMO = Path(__file__).parents[1] / "scenarios" / "kotka_storm.yaml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Plan]:
    """The demo scenario and its plan with a 3 s limit (solved once for the module)."""
    scenario = load_scenario(DEMO, Settings(cache_dir=tmp_path_factory.mktemp("evac-cache")))
    return scenario, solve(scenario.problem, SolveParams(time_limit_seconds=3.0, seed=0))


@pytest.mark.slow
def test_demo_loads_with_its_flood_zone(demo: tuple[Scenario, Plan]) -> None:
    """300 households, 60 cars, 4 shelters on the Kotka map, the flood zone closing some roads."""
    scenario, _ = demo
    p = scenario.problem
    assert (len(p.households), len(p.drivers), len(p.shelters)) == (300, 60, 4)
    assert p.deadline == 180
    assert len(p.alert.flood_zones) == 1
    assert scenario.closed_mask.any()


@pytest.mark.slow
def test_demo_plan_is_valid_on_real_roads(demo: tuple[Scenario, Plan]) -> None:
    """The plan passes the checker, including every leg following open roads of the map."""
    scenario, plan = demo
    assert_plan_valid(scenario.problem, plan, road_graph=scenario.graph, closed_mask=scenario.closed_mask)
    assert all(leg.coordinates for route in plan.routes for leg in route.legs)


@pytest.mark.slow
def test_demo_serves_nearly_everyone_who_is_not_cut_off(demo: tuple[Scenario, Plan]) -> None:
    """At least 95% of the households that roads still reach are served; every unserved has a reason."""
    scenario, plan = demo
    cut_off = {u.household_id for u in plan.unserved if u.code == "cut_off"}
    reachable = len(scenario.problem.households) - len(cut_off)
    assert plan.metrics.households_served >= 0.95 * reachable
    assert all(u.reason.strip() and u.code for u in plan.unserved)
    assert plan.metrics.households_served + plan.metrics.households_unserved == 300
    # The flood zone closes roads; households on them walk to a meeting point or are cut off, not half the town.
    assert scenario.closures.closed.any() and len(cut_off) < 30
    assert {u.code for u in plan.unserved} <= {"cut_off", "needs_stretcher"}


@pytest.mark.slow
def test_demo_clears_before_the_deadline(demo: tuple[Scenario, Plan]) -> None:
    """The last drop-off arrives by the 180-minute deadline."""
    scenario, plan = demo
    assert 0 < plan.metrics.clearance_minute <= scenario.problem.deadline
