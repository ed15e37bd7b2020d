"""The checker verifies every needs rule: hand-built plans that break one rule each, with correct times."""

from __future__ import annotations

import dataclasses

import pytest

from matcher.check import CODES, check_plan
from matcher.plan import MeetingPoint, Plan
from matcher.problem import Problem
from matcher.requests import Request
from matcher.schedule import Dropoff, Pickup, build_plan
from tests.factories import driver, household, make_problem, shelter


def _one_trip(problem: Problem, households: list[str], shelter_id: str = "S1", driver_id: str = "D1") -> Plan:
    """One car picks up ``households`` (whole) and unloads them together: times from the schedule itself."""
    requests = []
    for hid in households:
        h = problem.household(hid)
        requests.append(Request(hid, 1, 1, h.people, h.wheelchair_users, h.pets, problem.pet_seats(h)))
    visits = [*(Pickup(r) for r in requests), Dropoff(shelter_id, tuple(requests))]
    return build_plan(problem, {driver_id: visits}, [])


def _codes(problem: Problem, plan: Plan) -> set[str]:
    return {v.code for v in check_plan(problem, plan)}


CASES = [
    # a cat in the car of an allergic volunteer
    ("car_takes_no_pets", dict(households=[household("H1", pets=1)], drivers=[driver("D1", takes_pets=False)],
                               shelters=[shelter("S1", pets_allowed=True)]), ["H1"]),
    # a dog at a shelter that takes no pets
    ("shelter_takes_no_pets", dict(households=[household("H1", pets=1)], drivers=["D1"], shelters=["S1"]), ["H1"]),
    # three pets where one fits
    ("shelter_over_pet_capacity", dict(households=[household("H1", pets=3)], drivers=["D1"],
                                       shelters=[shelter("S1", pets_allowed=True, pet_capacity=1)]), ["H1"]),
    # oxygen at a shelter without power and staff
    ("no_medical_support", dict(households=[household("H1", needs=("oxygen",))], drivers=["D1"], shelters=["S1"]),
     ["H1"]),
    # a household that cannot share pooled with a neighbour
    ("shared_ride", dict(households=[household("H1", needs=("cannot_share",)), "H2"], drivers=["D1"],
                         shelters=["S1"]), ["H2", "H1"]),
    # a stretcher in a volunteer car
    ("stretcher_routed", dict(households=[household("H1", needs=("stretcher",))], drivers=["D1"], shelters=["S1"]),
     ["H1"]),
    # two people and two dogs in a three-seat car
    ("over_seats", dict(households=[household("H1", people=2, pets=2)], drivers=[driver("D1", seats=3)],
                        shelters=[shelter("S1", pets_allowed=True)]), ["H1"]),
]


@pytest.mark.parametrize(("code", "spec", "households"), CASES, ids=[c[0] for c in CASES])
def test_each_needs_rule_is_checked(code: str, spec: dict[str, object], households: list[str]) -> None:
    """The broken rule, and only needs rules of that kind, are reported."""
    problem = make_problem(**spec)  # type: ignore[arg-type]
    assert code in CODES
    assert code in _codes(problem, _one_trip(problem, households))


def test_a_valid_needs_plan_has_no_violation() -> None:
    problem = make_problem(households=[household("H1", pets=1, needs=("oxygen", "hearing"))], drivers=["D1"],
                           shelters=[shelter("S1", pets_allowed=True, medical_support=True)])
    assert check_plan(problem, _one_trip(problem, ["H1"])) == []


def test_pets_left_behind_are_reported() -> None:
    problem = make_problem(households=[household("H1", pets=2)], drivers=["D1"],
                           shelters=[shelter("S1", pets_allowed=True)])
    plan = _one_trip(problem, ["H1"])
    route = plan.routes[0]
    stops = (dataclasses.replace(route.stops[0], pets=1), dataclasses.replace(route.stops[1], pets=1))
    plan = dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=stops),))
    assert "wrong_pets" in _codes(problem, plan)


def test_meeting_point_must_be_the_households_and_within_its_walk() -> None:
    """A pickup at a meeting point the problem does not know, or beyond the walk limit, is reported."""
    problem = make_problem(households=["H1"], drivers=["D1"], shelters=["S1"])
    h = problem.household("H1")
    far = MeetingPoint(h.lat + 0.01, h.lon, "Far Street / Other Street", 1112.0)  # about 1.1 km north
    plan = _one_trip(problem, ["H1"])
    route = plan.routes[0]
    moved = dataclasses.replace(route.stops[0], lat=far.lat, lon=far.lon, meeting_point=far)
    plan_far = dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=(moved, route.stops[1])),))
    assert "bad_meeting_point" in _codes(problem, plan_far)
    with_point = dataclasses.replace(problem, meeting_points={"H1": far})
    assert "bad_meeting_point" in _codes(with_point, build_plan(with_point, {"D1": [
        Pickup(Request("H1", 1, 1, 1, 0)), Dropoff("S1", (Request("H1", 1, 1, 1, 0),))]}, []))
    near = MeetingPoint(h.lat + 0.001, h.lon, "Near Street / Other Street", 111.2)
    ok = dataclasses.replace(problem, meeting_points={"H1": near})
    plan_ok = build_plan(ok, {"D1": [Pickup(Request("H1", 1, 1, 1, 0)), Dropoff("S1", (Request("H1", 1, 1, 1, 0),))]},
                         [])
    assert plan_ok.routes[0].stops[0].meeting_point == near
    assert check_plan(ok, plan_ok) == []
