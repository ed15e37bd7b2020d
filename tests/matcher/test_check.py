"""Tests for the plan checker: a hand-checked plan passes, and each broken copy fails with the right code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from matcher.check import CODES, PlanInvalid, Violation, assert_plan_valid, check_plan
from matcher.errors import EvacError
from matcher.plan import Leg, Metrics, Plan, Route, Stop, Unserved
from matcher.problem import Problem
from tests.factories import driver, example_plan, example_problem, household, make_problem, shelter


def _codes(problem: Problem, plan: Plan, **kw: Any) -> set[str]:
    return {v.code for v in check_plan(problem, plan, **kw)}


def _route(plan: Plan, driver_id: str) -> tuple[int, Route]:
    return next((i, r) for i, r in enumerate(plan.routes) if r.driver_id == driver_id)


def with_route(
    plan: Plan,
    route_of: str,
    stops: Sequence[Stop] | None = None,
    legs: Sequence[Leg] | None = None,
    **changes: Any,
) -> Plan:
    """A copy of ``plan`` with the route of driver ``route_of`` given new stops/legs (or other fields)."""
    i, route = _route(plan, route_of)
    if stops is not None:
        changes["stops"] = tuple(stops)
    if legs is not None:
        changes["legs"] = tuple(legs)
    routes = list(plan.routes)
    routes[i] = dataclasses.replace(route, **changes)
    return dataclasses.replace(plan, routes=tuple(routes))


def with_stop(plan: Plan, driver_id: str, index: int, **changes: Any) -> Plan:
    """A copy of ``plan`` with one stop's fields changed."""
    stops = list(_route(plan, driver_id)[1].stops)
    stops[index] = dataclasses.replace(stops[index], **changes)
    return with_route(plan, driver_id, stops=stops)


def with_leg(plan: Plan, driver_id: str, index: int, **changes: Any) -> Plan:
    legs = list(_route(plan, driver_id)[1].legs)
    legs[index] = dataclasses.replace(legs[index], **changes)
    return with_route(plan, driver_id, legs=legs)


def with_metrics(plan: Plan, **changes: Any) -> Plan:
    return dataclasses.replace(plan, metrics=dataclasses.replace(plan.metrics, **changes))


def with_driver(**fields: Any) -> Problem:
    """The example problem with driver D1 changed."""
    d1 = driver("D1", **{"seats": 4, "wheelchair_spaces": 1, **fields})
    return example_problem(drivers=[d1, example_problem().driver("D2")])


# --- the valid plans ---------------------------------------------------------------------------------------


def test_hand_checked_example_plan_is_valid() -> None:
    """The worked example (waiting for a late household, a split household, an unserved one) passes."""
    problem = example_problem()
    assert check_plan(problem, example_plan(problem)) == []
    assert_plan_valid(problem, example_plan(problem))


def test_plan_survives_json_round_trip() -> None:
    """Rounding in the JSON form (0.01 min) stays inside the checker's tolerance."""
    problem = example_problem()
    shifted = with_stop(example_plan(problem), "D1", 0, arrive_minute=5.004, depart_minute=8.004)
    assert check_plan(problem, Plan.from_dict(shifted.to_dict())) == []


def test_plan_that_moves_nobody_is_valid_when_all_are_unserved() -> None:
    """No routes, everyone unserved with a reason, clearance 0: nothing to complain about."""
    problem = make_problem(households=["H1", "H2"], drivers=["D1"], shelters=["S1"])
    plan = Plan(
        scenario="test",
        metrics=Metrics(clearance_minute=0, households_served=0, households_unserved=2, people_served=0),
        routes=(Route("D1", (), ()),),
        unserved=(Unserved("H1", "cut off", "cut_off"), Unserved("H2", "cut off", "cut_off")),
    )
    assert check_plan(problem, plan) == []


@pytest.mark.parametrize(("minutes", "words"), [(float("inf"), "cannot be reached"),
                                               (float("nan"), "no travel time was computed")])
def test_unreachable_or_pending_leg_is_reported(minutes: float, words: str) -> None:
    """A leg the matrix marks unreachable (inf) or pending (nan: a re-plan's update did not compute it) can never
    be right, and the two are told apart."""
    problem = make_problem(
        households=["H1"], drivers=["D1"], shelters=["S1"], minutes={("D1", "H1"): minutes, ("H1", "S1"): 5}
    )
    h, s = problem.household("H1"), problem.shelter("S1")
    plan = Plan(
        scenario="test",
        metrics=Metrics(clearance_minute=18, households_served=1, households_unserved=0, people_served=1),
        routes=(
            Route(
                "D1",
                (
                    Stop("pickup", h.lat, h.lon, 10, 13, household_id="H1", people=1),
                    Stop("dropoff", s.lat, s.lon, 18, 20, shelter_id="S1", household_ids=("H1",), people=1),
                ),
                (Leg(10, None), Leg(5, None)),
            ),
        ),
    )
    violations = check_plan(problem, plan)
    assert {v.code for v in violations} == {"leg_minutes"}
    assert any(words in v.message for v in violations)


# --- one fault per row ---------------------------------------------------------------------------------------

Fault = Callable[[Problem, Plan], tuple[Problem, Plan]]


def _plan(change: Callable[[Plan], Plan]) -> Fault:
    return lambda problem, plan: (problem, change(plan))


def _problem(make: Callable[[], Problem]) -> Fault:
    def fault(problem: Problem, plan: Plan) -> tuple[Problem, Plan]:
        new = make()
        return new, example_plan(new)

    return fault


def _d2_dropoff_first(plan: Plan) -> Plan:
    """D2 drives to the shelter first (10 min), then picks up H4's part 2 and ends the route with it."""
    pickup, dropoff = _route(plan, "D2")[1].stops
    stops = [
        dataclasses.replace(dropoff, arrive_minute=15, depart_minute=17),
        dataclasses.replace(pickup, arrive_minute=23, depart_minute=26),
    ]
    return with_route(plan, "D2", stops=stops, legs=[Leg(10, None), Leg(6, None)])


def _d1_never_drops_h4(plan: Plan) -> Plan:
    route = _route(plan, "D1")[1]
    return with_metrics(with_route(plan, "D1", stops=route.stops[:4], legs=route.legs[:4]), clearance_minute=28)


def _d1_waits_at_shelter(plan: Plan) -> Plan:
    """D1 stays 5 extra minutes at S1; everything after it is shifted consistently."""
    plan = with_stop(plan, "D1", 2, depart_minute=35)
    plan = with_stop(plan, "D1", 3, arrive_minute=41, depart_minute=44)
    plan = with_stop(plan, "D1", 4, arrive_minute=50, depart_minute=52)
    return with_metrics(plan, clearance_minute=50)


def _d2_part_to_s2(plan: Plan) -> Plan:
    """H4's part 2 goes to S2 (10 min from H4 by default), part 1 to S1."""
    s2 = example_problem().shelter("S2")
    plan = with_stop(plan, "D2", 1, shelter_id="S2", lat=s2.lat, lon=s2.lon, arrive_minute=25, depart_minute=27)
    return with_leg(plan, "D2", 1, minutes=10)


def _rename_d2(driver_id: str) -> Callable[[Plan], Plan]:
    return lambda plan: with_route(plan, "D2", driver_id=driver_id)


def _add_unserved(unserved: Unserved, count: int) -> Callable[[Plan], Plan]:
    return lambda plan: with_metrics(
        dataclasses.replace(plan, unserved=(*plan.unserved, unserved)), households_unserved=count
    )


BROKEN: list[tuple[str, Fault, set[str]]] = [
    # D1 has 2 seats: H1's seated person plus H2's two people make 3
    ("over seats", _problem(lambda: with_driver(seats=2)), {"over_seats"}),
    # D1 has no wheelchair space for H1's wheelchair user
    ("over wheelchair spaces", _problem(lambda: with_driver(wheelchair_spaces=0)), {"over_wheelchair_spaces"}),
    # D2 unloads at S1 before it has picked anyone up, then keeps H4's part 2 on board
    ("dropoff before pickup", _plan(_d2_dropoff_first), {"not_on_board", "dropoff_load_mismatch", "left_on_board"}),
    # D1's last drop-off is cut: H4's part 1 stays in the car
    ("never dropped", _plan(_d1_never_drops_h4), {"left_on_board"}),
    # D1 arrives at S1 one minute earlier than 18 + 10 allows (and so leaves at the wrong time too)
    ("arrival too early", _plan(lambda p: with_stop(p, "D1", 2, arrive_minute=27)), {"wrong_times"}),
    # D1 leaves H1 a minute late: a wait nobody asked for
    ("departure too late", _plan(lambda p: with_stop(p, "D1", 0, depart_minute=9)), {"wrong_times"}),
    # D1 does not wait for H2 to be ready at 15: departs at 12 + 3
    ("no wait for ready time", _plan(lambda p: with_stop(p, "D1", 1, depart_minute=15)), {"wrong_times"}),
    # D1 idles 5 minutes at S1, later times shifted to match: waiting is only allowed for a household's ready time
    ("waiting inserted", _plan(_d1_waits_at_shelter), {"wrong_times"}),
    # D1's leg H1 -> H2 claims 5 min where the matrix says 4 (arrival follows the claim; H2 not ready before 15)
    (
        "leg minutes wrong",
        _plan(lambda p: with_stop(with_leg(p, "D1", 1, minutes=5), "D1", 1, arrive_minute=13)),
        {"leg_minutes"},
    ),
    # D1's last drop-off at 45 is after a deadline of 44
    ("past deadline", _problem(lambda: example_problem(deadline=44)), {"past_deadline"}),
    # D2 is available until 20 but drops off at 21
    (
        "past driver's availability",
        _problem(
            lambda: example_problem(
                drivers=[
                    driver("D1", seats=4, wheelchair_spaces=1),
                    driver("D2", seats=2, available_from_minute=5, available_until_minute=20),
                ]
            )
        ),
        {"past_driver_end"},
    ),
    # D2 is available until 22 and arrives at 21, but unloading (2 min) ends at 23: "until" means done by then
    (
        "unloading past driver's availability",
        _problem(
            lambda: example_problem(
                drivers=[
                    driver("D1", seats=4, wheelchair_spaces=1),
                    driver("D2", seats=2, available_from_minute=5, available_until_minute=22),
                ]
            )
        ),
        {"past_driver_end"},
    ),
    # H2 rides 10 minutes (18 -> 28) but may ride at most 5
    (
        "ride too long",
        _problem(
            lambda: example_problem(
                households=[
                    household("H1", people=2, wheelchair_users=1),
                    household("H2", people=2, ready_from_minute=15, max_ride_minutes=5),
                    household("H3", people=2, wheelchair_users=1),
                    household("H4", people=5),
                ]
            )
        ),
        {"ride_too_long"},
    ),
    # H1's wheelchair user goes to S1, which is made not wheelchair accessible
    (
        "wheelchair to non-accessible shelter",
        _problem(
            lambda: example_problem(
                shelters=[shelter("S1", capacity=10, wheelchair_accessible=False), shelter("S2", capacity=3)]
            )
        ),
        {"shelter_not_accessible"},
    ),
    # S1 holds 8 but receives 4 + 3 + 2 = 9
    (
        "shelter over capacity",
        _problem(lambda: example_problem(shelters=[shelter("S1", capacity=8), shelter("S2", capacity=3)])),
        {"shelter_over_capacity"},
    ),
    # H4's part 1 goes to S1 and part 2 to S2
    ("split parts at two shelters", _plan(_d2_part_to_s2), {"split_shelters"}),
    # H3 is dropped from the unserved list: nowhere in the plan
    (
        "household missing from both lists",
        _plan(lambda p: with_metrics(dataclasses.replace(p, unserved=()), households_unserved=0)),
        {"household_missing"},
    ),
    # H1 is served and also listed as unserved
    ("household in both lists", _plan(_add_unserved(Unserved("H1", "forgotten"), 2)), {"household_both"}),
    # H3 is listed as unserved twice
    ("unserved twice", _plan(_add_unserved(Unserved("H3", "again"), 1)), {"duplicate_unserved"}),
    # an unserved household with a blank reason
    (
        "empty reason",
        _plan(lambda p: dataclasses.replace(p, unserved=(Unserved("H3", "  "),))),
        {"empty_reason"},
    ),
    # the unserved list names a household the problem does not have
    ("unknown unserved id", _plan(_add_unserved(Unserved("H99", "who?"), 2)), {"unknown_household"}),
    # a pickup names a household the problem does not have (dropped off again, so no load fault)
    (
        "unknown pickup id",
        _plan(lambda p: with_stop(with_stop(p, "D2", 0, household_id="H99"), "D2", 1, household_ids=("H99",))),
        # H4 is then incomplete (part 1 of 2, 3 of 5 people) and people_served counts only known households
        {"unknown_household", "bad_parts", "incomplete_household", "wrong_metrics"},
    ),
    # D2 picks up H4's part 1 again instead of part 2
    ("same part picked up twice", _plan(lambda p: with_stop(p, "D2", 0, part=1)), {"duplicate_pickup"}),
    # D2's part is numbered 3 of 2
    ("parts misnumbered", _plan(lambda p: with_stop(p, "D2", 0, part=3)), {"bad_parts"}),
    # D2 takes only 1 of H4's remaining 2 people (drop-off and metrics agree with that)
    (
        "household not fully picked up",
        _plan(
            lambda p: with_metrics(
                with_stop(with_stop(p, "D2", 0, people=1), "D2", 1, people=1),
                people_served=8,
            )
        ),
        {"incomplete_household"},
    ),
    # the drop-off at S1 claims 5 people where 4 get out
    ("drop-off people wrong", _plan(lambda p: with_stop(p, "D1", 2, people=5)), {"dropoff_load_mismatch"}),
    # H1's pickup is placed 0.01 degrees off its registered address
    (
        "stop position wrong",
        _plan(lambda p: with_stop(p, "D1", 0, lat=p.routes[0].stops[0].lat + 0.01)),
        {"wrong_position"},
    ),
    # D2's route is given to a driver the problem does not have
    ("unknown driver", _plan(_rename_d2("D9")), {"unknown_driver"}),
    # D2's route is given to D1 as a second route (it starts from D1's place and time, so times break too)
    ("driver routed twice", _plan(_rename_d2("D1")), {"duplicate_driver", "leg_minutes", "wrong_times"}),
    # D2 has one leg fewer than stops
    ("legs missing", _plan(lambda p: with_route(p, "D2", legs=list(p.routes[1].legs[:1]))), {"legs_mismatch"}),
    # D1's last stop has an unknown type: it unloads nothing, so H4's part 1 stays on board and the last
    # drop-off (the clearance) becomes D1's at 28
    (
        "unknown stop type",
        _plan(lambda p: with_stop(p, "D1", 4, type="detour")),
        {"bad_stop", "left_on_board", "wrong_metrics"},
    ),
    # clearance minute says 40, the last drop-off is at 45
    ("clearance wrong", _plan(lambda p: with_metrics(p, clearance_minute=40)), {"wrong_metrics"}),
    # households served says 2, three households are picked up
    ("households served wrong", _plan(lambda p: with_metrics(p, households_served=2)), {"wrong_metrics"}),
    # households unserved says 0, one is listed
    ("households unserved wrong", _plan(lambda p: with_metrics(p, households_unserved=0)), {"wrong_metrics"}),
    # people served says 8, nine are picked up
    ("people served wrong", _plan(lambda p: with_metrics(p, people_served=8)), {"wrong_metrics"}),
]


@pytest.mark.parametrize(("fault", "expected"), [(f, e) for _, f, e in BROKEN], ids=[n for n, _, _ in BROKEN])
def test_broken_plan_reports_exactly_its_fault(fault: Fault, expected: set[str]) -> None:
    """Each broken copy of the example plan fails with exactly the expected violation codes."""
    problem, plan = fault(example_problem(), example_plan())
    violations = check_plan(problem, plan)
    assert {v.code for v in violations} == expected, "\n".join(map(str, violations))
    assert all(v.code in CODES and v.message for v in violations)


def test_violation_names_who_it_concerns() -> None:
    """A violation carries the driver or household id, and reads well as text."""
    problem = with_driver(seats=2)
    violation = check_plan(problem, example_plan(problem))[0]
    assert violation == Violation("over_seats", violation.message, driver_id="D1")
    assert str(violation).startswith("[over_seats] driver D1: stop 1: 3 seated on board")


def test_assert_plan_valid_lists_every_violation() -> None:
    """PlanInvalid is an EvacError and carries all violations, not just the first."""
    problem = example_problem(deadline=44)
    plan = with_metrics(example_plan(problem), people_served=1)
    with pytest.raises(PlanInvalid) as caught:
        assert_plan_valid(problem, plan)
    assert isinstance(caught.value, EvacError)
    assert {v.code for v in caught.value.violations} == {"past_deadline", "wrong_metrics"}
    assert "past_deadline" in str(caught.value) and "wrong_metrics" in str(caught.value)


# --- road geometry -----------------------------------------------------------------------------------------


class FakeRoads:
    """Accepts any path except one through the point (0, 0); records the closed mask it was given."""

    def __init__(self) -> None:
        self.masks: list[object] = []

    def follows_roads(self, coordinates: tuple[tuple[float, float], ...], closed_mask: object = None) -> str | None:
        self.masks.append(closed_mask)
        points = [tuple(p) for p in np.asarray(coordinates, dtype=float).reshape(-1, 2).tolist()]
        return "passes a closed road at (0, 0)" if (0.0, 0.0) in points else None


def _with_geometry(plan: Plan) -> Plan:
    """Give every leg a path from the previous stop (or a made-up start) to its stop, so legs connect."""
    routes = []
    for route in plan.routes:
        start = (1.0, 1.0)
        legs = []
        for stop, leg in zip(route.stops, route.legs, strict=True):
            end = (stop.lon, stop.lat)
            legs.append(dataclasses.replace(leg, coordinates=(start, (start[0] + 0.5, start[1]), end)))
            start = end
        routes.append(dataclasses.replace(route, legs=tuple(legs)))
    return dataclasses.replace(plan, routes=tuple(routes))


def test_roads_followed_and_connected_is_valid() -> None:
    """With a road graph, legs that follow roads and connect pass; the closed mask reaches the graph."""
    problem, roads = example_problem(), FakeRoads()
    mask = object()
    assert check_plan(problem, _with_geometry(example_plan(problem)), road_graph=roads, closed_mask=mask) == []
    assert roads.masks and all(m is mask for m in roads.masks)


def _break_leg(plan: Plan, coordinates: tuple[tuple[float, float], ...]) -> Plan:
    return with_leg(plan, "D1", 2, coordinates=coordinates)


@pytest.mark.parametrize(
    ("coordinates", "expected"),
    [
        # the leg to S1 passes the closed point: off road (it still starts where the previous leg ended)
        ("detour", {"off_road"}),
        # the leg to S1 has no path at all
        ((), {"missing_geometry"}),
        # the leg to S1 starts somewhere else than where the leg to H2 ended; the next leg still connects
        ("jump", {"legs_disconnected"}),
    ],
    ids=["off road", "no coordinates", "disconnected"],
)
def test_broken_geometry(coordinates: Any, expected: set[str]) -> None:
    """Each geometry fault is reported when a road graph is given, and ignored without one."""
    problem = example_problem()
    plan = _with_geometry(example_plan(problem))
    leg = plan.routes[0].legs[2]
    if coordinates == "detour":
        coordinates = (leg.coordinates[0], (0.0, 0.0), leg.coordinates[-1])
    elif coordinates == "jump":
        coordinates = ((9.0, 9.0), leg.coordinates[-1])
    broken = _break_leg(plan, coordinates)
    assert _codes(problem, broken, road_graph=FakeRoads()) == expected
    assert check_plan(problem, broken) == []


def test_table_plan_has_no_geometry_for_a_road_graph() -> None:
    """A plan from a travel-time table (no coordinates) fails the road check: one violation per leg."""
    problem = example_problem()
    violations = check_plan(problem, example_plan(problem), road_graph=FakeRoads())
    assert [v.code for v in violations] == ["missing_geometry"] * 7
