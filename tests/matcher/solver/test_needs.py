"""The needs rules in the solver: each small case fails without its rule, and every plan passes the checker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.instances import random_instance
from matcher.check import assert_plan_valid
from matcher.plan import Plan
from matcher.problem import Problem, Rules
from matcher.roads.load import load_road_graph
from matcher.scenario import problem_on_graph
from matcher.solver import SolveParams, solve
from tests.factories import driver, household, make_problem, shelter
from tests.matcher.test_scenario import circle

FAST = SolveParams(time_limit_seconds=0.5)


def _solve(problem: Problem) -> Plan:
    plan = solve(problem, FAST)
    assert_plan_valid(problem, plan)
    return plan


def _shelter_of(plan: Plan, household_id: str) -> str:
    (stop,) = [s for r in plan.routes for s in r.stops if s.type == "dropoff" and household_id in s.household_ids]
    return str(stop.shelter_id)


def _driver_of(plan: Plan, household_id: str) -> str:
    (driver_id,) = {r.driver_id for r in plan.routes for s in r.stops if s.household_id == household_id}
    return driver_id


def _unserved(plan: Plan) -> dict[str, tuple[str, str]]:
    return {u.household_id: (u.code, u.reason) for u in plan.unserved}


# --- pets ------------------------------------------------------------------------------------------------------


def test_a_dog_goes_to_the_pet_friendly_shelter_not_the_nearer_one() -> None:
    """S1 is nearer but takes no pets: the household with a dog goes to S2."""
    p = make_problem(households=[household("H1", pets=1)], drivers=["D1"],
                     shelters=["S1", shelter("S2", pets_allowed=True)],
                     minutes={("H1", "S1"): 5, ("H1", "S2"): 15})
    assert _shelter_of(_solve(p), "H1") == "S2"


def test_a_dog_and_only_a_no_pets_shelter_is_unserved_with_what_to_do() -> None:
    p = make_problem(households=[household("H1", pets=2)], drivers=["D1"], shelters=["S1"])
    code, reason = _unserved(_solve(p))["H1"]
    assert code == "no_pet_shelter"
    assert reason.startswith("has 2 pets; no pet-friendly shelter can be reached")
    assert "open a pet-friendly shelter or ask a family member to take the pets" in reason


def test_pets_ride_only_with_a_driver_who_takes_pets() -> None:
    """D1 is nearer but allergic: D2 takes the household with a cat."""
    p = make_problem(households=[household("H1", pets=1)],
                     drivers=[driver("D1", takes_pets=False), "D2"],
                     shelters=[shelter("S1", pets_allowed=True)],
                     minutes={("D1", "H1"): 2, ("D2", "H1"): 20})
    assert _driver_of(_solve(p), "H1") == "D2"


def test_pets_and_no_car_that_takes_them_is_unserved_no_pet_car() -> None:
    p = make_problem(households=[household("H1", pets=1)], drivers=[driver("D1", takes_pets=False)],
                     shelters=[shelter("S1", pets_allowed=True)])
    code, reason = _unserved(_solve(p))["H1"]
    assert code == "no_pet_car"
    assert "find a driver who takes pets" in reason


def test_pet_capacity_sends_the_second_dog_elsewhere_and_then_leaves_it_out() -> None:
    """S1 keeps one pet: the second household with a pet goes to S2; with no S2 it is unserved with the reason."""
    households = [household("H1", pets=1, priority=1), household("H2", pets=1, priority=2)]
    s1 = shelter("S1", pets_allowed=True, pet_capacity=1)
    p = make_problem(households=households, drivers=["D1", "D2"], shelters=[s1, shelter("S2", pets_allowed=True)],
                     minutes={("H1", "S1"): 5, ("H2", "S1"): 5, ("H1", "S2"): 20, ("H2", "S2"): 20})
    plan = _solve(p)
    assert {_shelter_of(plan, "H1"), _shelter_of(plan, "H2")} == {"S1", "S2"}
    plan = _solve(make_problem(households=households, drivers=["D1", "D2"], shelters=[s1]))
    assert _unserved(plan)["H2"][0] == "no_pet_shelter"
    assert "no pet-friendly shelter has room" in _unserved(plan)["H2"][1]


def test_pets_take_seats_unless_they_travel_on_laps() -> None:
    """Three people and a dog do not fit three seats; with ``seats_per_pet`` 0 they do."""
    h = household("H1", people=3, pets=1)
    cars = [driver("D1", seats=3)]
    shelters = [shelter("S1", pets_allowed=True)]
    plan = _solve(make_problem(households=[h], drivers=cars, shelters=shelters))
    assert [s.people for r in plan.routes for s in r.stops if s.type == "pickup"] == [2, 1]  # split in two trips
    laps = _solve(make_problem(households=[h], drivers=cars, shelters=shelters, rules=Rules(seats_per_pet=0)))
    assert [(s.people, s.pets) for r in laps.routes for s in r.stops if s.type == "pickup"] == [(3, 1)]


def test_a_service_animal_goes_in_any_car_to_any_shelter() -> None:
    p = make_problem(households=[household("H1", needs=("service_animal",))],
                     drivers=[driver("D1", takes_pets=False)], shelters=["S1"])
    plan = _solve(p)
    assert not plan.unserved and _shelter_of(plan, "H1") == "S1"


# --- medical needs -----------------------------------------------------------------------------------------------


def test_oxygen_goes_only_to_a_shelter_with_medical_support() -> None:
    p = make_problem(households=[household("H1", needs=("oxygen",))], drivers=["D1"],
                     shelters=["S1", shelter("S2", medical_support=True)],
                     minutes={("H1", "S1"): 5, ("H1", "S2"): 20})
    assert _shelter_of(_solve(p), "H1") == "S2"


def test_oxygen_and_no_medical_shelter_is_unserved_with_what_to_do() -> None:
    p = make_problem(households=[household("H1", needs=("oxygen",))], drivers=["D1"], shelters=["S1"])
    code, reason = _unserved(_solve(p))["H1"]
    assert code == "no_medical_shelter"
    assert reason.startswith("uses oxygen; no shelter with medical support can be reached")


def test_medical_shelter_beyond_the_medical_ride_limit_is_unserved_call_the_ambulance() -> None:
    """The medical shelter is 50 minutes away: over the 45-minute default limit on board."""
    p = make_problem(households=[household("H1", needs=("power_dependent",))], drivers=["D1"],
                     shelters=[shelter("S1", medical_support=True)], minutes={("H1", "S1"): 50}, deadline=200)
    code, reason = _unserved(_solve(p))["H1"]
    assert code == "no_medical_shelter"
    assert reason == ("depends on a powered medical device; no shelter with medical support can be reached in "
                      "45 minutes: call the ambulance service")
    longer = make_problem(households=[household("H1", needs=("power_dependent",))], drivers=["D1"],
                          shelters=[shelter("S1", medical_support=True)], minutes={("H1", "S1"): 50}, deadline=200,
                          rules=Rules(medical_max_ride_minutes=60))
    assert not _solve(longer).unserved


def test_medical_ride_limit_forbids_pooling_that_keeps_an_oxygen_user_on_board_too_long() -> None:
    """Picking up the neighbour would keep the oxygen user on board 50 minutes: two trips instead."""
    hs = [household("H1", needs=("oxygen",)), household("H2")]
    p = make_problem(households=hs, drivers=["D1"], shelters=[shelter("S1", medical_support=True)],
                     minutes={("H1", "H2"): 20, ("H1", "S1"): 30, ("H2", "S1"): 25}, deadline=300)
    plan = _solve(p)
    assert all(len(s.household_ids) == 1 for r in plan.routes for s in r.stops if s.type == "dropoff")


# --- sharing, stretchers -----------------------------------------------------------------------------------------


def test_cannot_share_rides_alone_where_neighbours_would_pool() -> None:
    """The same neighbours pool when both may share (see test_solve); with cannot_share they ride apart."""
    minutes = {("D1", "H1"): 5, ("D1", "H2"): 5, ("H1", "H2"): 2, ("H1", "S1"): 10, ("H2", "S1"): 10}
    pooled = _solve(make_problem(households=["H1", "H2"], drivers=["D1"], shelters=["S1"], minutes=minutes))
    assert any(len(s.household_ids) == 2 for r in pooled.routes for s in r.stops if s.type == "dropoff")
    apart = _solve(make_problem(households=[household("H1", needs=("cannot_share",)), "H2"], drivers=["D1"],
                                shelters=["S1"], minutes=minutes))
    assert not apart.unserved
    assert all(len(s.household_ids) == 1 for r in apart.routes for s in r.stops if s.type == "dropoff")


def test_cannot_share_holds_through_the_or_tools_improvement() -> None:
    """Several cars and households with a longer search: no cannot_share household ever shares a car."""
    hs = [household(f"H{k}", needs=("cannot_share",) if k % 3 == 0 else ()) for k in range(12)]
    p = make_problem(households=hs, drivers=["D1", "D2", "D3"], shelters=["S1"], default_minutes=6)
    plan = solve(p, SolveParams(time_limit_seconds=2))
    assert_plan_valid(p, plan)  # the checker reports shared_ride


def test_stretcher_is_not_routed_call_an_ambulance() -> None:
    p = make_problem(households=[household("H1", needs=("stretcher",)), "H2"], drivers=["D1"], shelters=["S1"])
    plan = _solve(p)
    assert _unserved(plan)["H1"] == ("needs_stretcher", "needs a stretcher: call an ambulance (a volunteer car "
                                                        "cannot carry a stretcher)")


# --- urgency and language ----------------------------------------------------------------------------------------

#: One car, one seat: the priority-3 household far from the shelter, the priority-1 one near it. Clearance
#: alone takes the far one first (63 min) and picks the urgent one up at minute 55; its 30-minute target
#: makes the urgent one go first (picked up at 5), at the cost of a later clearance (98).
URGENT_MINUTES = {("D1", "H1"): 5, ("D1", "H3"): 5, ("H1", "S1"): 5, ("H3", "S1"): 40, ("H1", "H3"): 40}


def _urgent(rules: Rules) -> Problem:
    return make_problem(households=[household("H1", priority=1), household("H3", priority=3)],
                        drivers=[driver("D1", seats=1)], shelters=["S1"], minutes=URGENT_MINUTES, deadline=200,
                        rules=rules)


def test_priority_target_comes_before_clearance() -> None:
    plan = _solve(_urgent(Rules()))
    assert plan.metrics.latest_pickup_by_priority == {"1": 5, "3": pytest.approx(55)}
    assert (plan.metrics.pickup_targets_met, plan.metrics.pickup_targets_total) == (1, 1)
    assert plan.metrics.clearance_minute == pytest.approx(98)


def test_without_targets_clearance_decides() -> None:
    plan = _solve(_urgent(Rules(pickup_targets=())))
    assert plan.metrics.latest_pickup_by_priority["1"] == pytest.approx(55)
    assert plan.metrics.clearance_minute == pytest.approx(63)


#: One car, one seat. The priority-1 household is 35 minutes away: its 30-minute target cannot be met. The
#: priority-2 one is 5 minutes away and can meet its 60-minute target, but only if it goes first (then the
#: urgent household waits until minute 55). Without targets clearance takes the urgent one first (93 < 98).
MISSED_MINUTES = {("D1", "H1"): 35, ("D1", "H2"): 5, ("H1", "S1"): 40, ("H2", "S1"): 5, ("H1", "H2"): 40}


def _missed(rules: Rules) -> Problem:
    return make_problem(households=[household("H1", priority=1), household("H2", priority=2)],
                        drivers=[driver("D1", seats=1)], shelters=["S1"], minutes=MISSED_MINUTES, deadline=200,
                        rules=rules)


def test_a_target_that_cannot_be_met_still_puts_priority_1_first() -> None:
    """A missed priority-1 target keeps its household's urgency: picked up at 35 (5 beyond the target) rather
    than left behind a priority-2 household whose target can be kept, and no later than without targets."""
    with_targets, without = _solve(_missed(Rules())), _solve(_missed(Rules(pickup_targets=())))
    assert with_targets.metrics.latest_pickup_by_priority["1"] == pytest.approx(35)
    assert without.metrics.latest_pickup_by_priority["1"] == pytest.approx(35)
    assert (with_targets.metrics.pickup_targets_met, with_targets.metrics.pickup_targets_total) == (0, 2)
    assert with_targets.metrics.clearance_minute == pytest.approx(93)


def test_a_driver_who_speaks_the_language_is_preferred_and_the_share_reported() -> None:
    """Two cars at the same distance: the one whose driver speaks Swedish takes the Swedish-speaking household."""
    p = make_problem(households=[household("H1", language="sv")],
                     drivers=[driver("D1", languages=("fi",)), driver("D2", languages=("fi", "sv"))],
                     shelters=["S1"], minutes={("D1", "H1"): 5, ("D2", "H1"): 5})
    plan = _solve(p)
    assert _driver_of(plan, "H1") == "D2"
    assert (plan.metrics.language_households, plan.metrics.language_matched) == (1, 1)
    assert plan.to_dict()["metrics"]["language_match_share"] == 1.0


# --- real maps ---------------------------------------------------------------------------------------------------

#: The shared real maps, next to the repository (CI has them; a worktree elsewhere may point EVAC_SHARED_MAPS there).
MAPS = Path(os.environ.get("EVAC_SHARED_MAPS") or Path(__file__).resolve().parents[3] / ".." / "shared" / "maps")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["heidelberg.test.pbf", "monaco.osm.pbf"])
def test_needs_mix_on_real_maps_passes_the_checker(name: str, tmp_path: Path) -> None:
    """150 households with the realistic needs mix, a closed street and a flood zone on a real map: every rule
    holds on the roads (checker with the road graph), meeting points included."""
    path = MAPS / name
    if not path.is_file():
        pytest.skip(f"real map {path} not present (expected in ../shared/maps next to the repository)")
    graph = load_road_graph(path, cache_dir=tmp_path)
    scenario = random_instance(graph, 150, seed=3, map_path=path, needs=True)
    h = scenario["households"][0]
    scenario["alert"]["flood_zones"] = [circle(h["lat"], h["lon"], 150)]
    problem, closures = problem_on_graph(scenario, graph)
    plan = solve(problem, SolveParams(time_limit_seconds=2.0))
    assert_plan_valid(problem, plan, road_graph=graph, closed_mask=closures.mask)
    assert plan.metrics.households_served > 100
    codes = {u.code for u in plan.unserved}
    assert "needs_stretcher" in codes or not any(x.has_stretcher for x in problem.households)


def test_language_matrix_is_speaks_for_every_pair() -> None:
    """The matrix built per distinct language equals the per-pair rule (regions ignored, no language: False)."""
    from matcher.needs import speaks
    from matcher.solver.instance import _language_matrix

    households = [household("H1", language="sv"), household("H2"), household("H3", language="en-GB"),
                  household("H4", language="sv"), household("H5", language="fi")]
    drivers = [driver("D1", languages=("fi",)), driver("D2", languages=("fi", "sv")), driver("D3", languages=("en",)),
               driver("D4")]
    p = make_problem(households=households, drivers=drivers, shelters=[shelter("S1")])
    matrix = _language_matrix(p, list(p.households))
    expected = [[bool(h.language) and speaks(d.languages, h.language) for h in p.households] for d in p.drivers]
    assert matrix.tolist() == expected
    assert matrix.any() and not matrix.all()
