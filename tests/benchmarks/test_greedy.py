"""The greedy dispatcher peer: valid plans, pooling, multi-trip, wheelchair rules and unserved reasons."""

from __future__ import annotations

from benchmarks.peers.greedy import assign_shelters, solve_greedy
from matcher.check import check_plan
from matcher.plan import Plan
from matcher.problem import Problem
from tests.factories import driver, example_problem, household, make_problem, shelter


def _valid(problem: Problem, plan: Plan) -> Plan:
    violations = check_plan(problem, plan)
    assert violations == [], "\n".join(map(str, violations))
    return plan


def _visits(plan: Plan, driver_id: str) -> list[tuple[str, str]]:
    route = plan.route(driver_id)
    assert route is not None
    return [(s.type, s.household_id or ",".join(s.household_ids)) for s in route.stops]


def test_pools_two_neighbours_into_one_trip() -> None:
    """Two households 2 minutes apart, bound for the same shelter, ride together in the one car."""
    problem = make_problem(
        households=[household("H1", people=2), household("H2", people=2)],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("D1", "H2"): 6, ("H1", "H2"): 2, ("H1", "S1"): 10, ("H2", "S1"): 10},
    )
    plan = _valid(problem, solve_greedy(problem))
    assert _visits(plan, "D1") == [("pickup", "H1"), ("pickup", "H2"), ("dropoff", "H1,H2")]
    # 5 to H1, board 3 (8), 2 to H2 (10), board 3 (13), 10 to the shelter.
    assert plan.metrics.clearance_minute == 23


def test_no_pooling_past_seats_so_the_car_returns() -> None:
    """3 + 2 people do not fit 4 seats: the car makes a second trip from the shelter."""
    problem = make_problem(
        households=[household("H1", people=3), household("H2", people=2)],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("H1", "H2"): 2, ("H1", "S1"): 12, ("H2", "S1"): 10, ("S1", "H2"): 7},
    )
    plan = _valid(problem, solve_greedy(problem))
    # H1 is farther from the shelter, so it goes first.
    assert _visits(plan, "D1") == [("pickup", "H1"), ("dropoff", "H1"), ("pickup", "H2"), ("dropoff", "H2")]
    route = plan.route("D1")
    assert route is not None and route.legs[2].minutes == 7  # from the shelter, not from the start
    # 5 + 3 + 12 = 20, unload 2, 7 to H2 (29), board 3, 10 to the shelter.
    assert plan.metrics.clearance_minute == 42


def test_max_ride_time_stops_pooling() -> None:
    """H1 may ride at most 11 minutes: a detour via H2 would break that, so H2 gets its own trip."""
    problem = make_problem(
        households=[household("H1", people=1, max_ride_minutes=11), household("H2", people=1)],
        drivers=["D1"],
        shelters=["S1"],
        minutes={("D1", "H1"): 5, ("H1", "H2"): 2, ("H1", "S1"): 10, ("H2", "S1"): 9, ("S1", "H2"): 9},
    )
    plan = _valid(problem, solve_greedy(problem))
    assert _visits(plan, "D1") == [("pickup", "H1"), ("dropoff", "H1"), ("pickup", "H2"), ("dropoff", "H2")]


def test_trip_goes_to_the_car_that_finishes_first() -> None:
    """D2 starts next door, D1 far away: D2 takes the household."""
    problem = make_problem(
        households=["H1"],
        drivers=["D1", "D2"],
        shelters=["S1"],
        minutes={("D1", "H1"): 30, ("D2", "H1"): 2, ("H1", "S1"): 10},
    )
    plan = _valid(problem, solve_greedy(problem))
    assert plan.route("D1") is None
    assert _visits(plan, "D2") == [("pickup", "H1"), ("dropoff", "H1")]


def test_wheelchair_user_rides_a_wheelchair_car_to_an_accessible_shelter() -> None:
    """The nearer shelter is not accessible and the nearer car has no wheelchair space: neither is used."""
    problem = make_problem(
        households=[household("H1", people=2, wheelchair_users=1)],
        drivers=[driver("D1"), driver("D2", wheelchair_spaces=1)],
        shelters=[shelter("S1", wheelchair_accessible=False), shelter("S2")],
        minutes={("D1", "H1"): 1, ("D2", "H1"): 9, ("H1", "S1"): 3, ("H1", "S2"): 8},
    )
    plan = _valid(problem, solve_greedy(problem))
    assert plan.route("D1") is None
    route = plan.route("D2")
    assert route is not None and route.stops[-1].shelter_id == "S2"


def test_ordinary_trips_leave_wheelchair_cars_free() -> None:
    """The wheelchair car is nearer, but an ordinary car takes the household without wheelchair users."""
    problem = make_problem(
        households=["H1"],
        drivers=[driver("D1", wheelchair_spaces=1), driver("D2")],
        shelters=["S1"],
        minutes={("D1", "H1"): 2, ("D2", "H1"): 6, ("H1", "S1"): 10},
    )
    plan = _valid(problem, solve_greedy(problem))
    assert plan.route("D1") is None and plan.route("D2") is not None


def test_split_household_is_served_whole() -> None:
    """Six people and 4-seat cars: two parts, each picked up once, both to one shelter."""
    problem = make_problem(
        households=[household("H1", people=6)],
        drivers=["D1", "D2"],
        shelters=["S1"],
        minutes={("D1", "H1"): 4, ("D2", "H1"): 5, ("H1", "S1"): 10},
    )
    plan = _valid(problem, solve_greedy(problem))
    parts = sorted((s.part, s.people) for r in plan.routes for s in r.stops if s.type == "pickup")
    assert parts == [(1, 3), (2, 3)]
    assert plan.metrics.clearance_minute == 18  # D2: 5 + 3 + 10


def test_unserved_households_carry_reasons() -> None:
    """No wheelchair car, no shelter room, and too far for the deadline: each named with its code."""
    problem = make_problem(
        households=[
            household("H1", people=1, wheelchair_users=1),
            household("H2", people=3),
            household("H3", people=2),
            household("H4", people=1),
        ],
        drivers=["D1"],
        shelters=[shelter("S1", capacity=4)],
        minutes={("H3", "S1"): 50, ("H2", "S1"): 20, ("H4", "S1"): 5, ("D1", "H4"): 5, ("D1", "H2"): 70},
        deadline=60,
    )
    plan = _valid(problem, solve_greedy(problem))
    codes = {u.household_id: u.code for u in plan.unserved}
    # H3 (farthest) takes 2 of 4 places, H2's 3 people then find no room, H4 fits; H3 is 50 min from
    # the shelter with the car 10 min away: 10 + 3 + 50 > 60.
    assert codes == {"H1": "no_wheelchair_car", "H2": "no_shelter_room", "H3": "too_late"}
    assert _visits(plan, "D1") == [("pickup", "H4"), ("dropoff", "H4")]


def test_example_problem_plan_is_valid() -> None:
    """The shared worked example (ready times, split household, availability windows) gives a valid plan."""
    problem = example_problem()
    plan = _valid(problem, solve_greedy(problem))
    assert plan.metrics.households_served + plan.metrics.households_unserved == len(problem.households)


def test_shelters_nearest_with_room_farthest_first() -> None:
    """The farthest household gets its nearest shelter; the next one, no longer fitting there, the next nearest."""
    problem = make_problem(
        households=[household("H1", people=3), household("H2", people=3)],
        drivers=["D1"],
        shelters=[shelter("S1", capacity=4), shelter("S2")],
        minutes={("H1", "S1"): 5, ("H1", "S2"): 8, ("H2", "S1"): 20, ("H2", "S2"): 30},
    )
    choice = assign_shelters(problem)
    assert choice.shelter_of == {"H2": "S1", "H1": "S2"}
    assert choice.order == ["H2", "H1"]
