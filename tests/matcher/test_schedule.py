"""build_plan: timing visits as early as the rules allow, merging drop-offs, and the plan's metrics."""

from __future__ import annotations

import pytest

from matcher.check import assert_plan_valid
from matcher.plan import Unserved
from matcher.requests import Request
from matcher.schedule import Dropoff, Pickup, build_plan
from tests.factories import driver, household, make_problem


def _whole(hid: str, people: int = 1, wheelchair: int = 0) -> Request:
    return Request(hid, 1, 1, people, wheelchair)


def _problem(**kw):  # type: ignore[no-untyped-def]
    args = {
        "households": [household("H1", people=2), household("H2", ready_from_minute=15), household("H3")],
        "drivers": [driver("D1", seats=4), driver("D2", available_from_minute=20)],
        "shelters": ["S1", "S2"],
        "minutes": {("D1", "H1"): 5, ("H1", "H2"): 4, ("H2", "S1"): 10, ("H1", "S1"): 12, ("D2", "H3"): 7,
                    ("H3", "S2"): 8},
        "deadline": 90,
    }
    args.update(kw)
    return make_problem(**args)


def test_pickup_waits_for_ready_time_and_driver_leaves_at_availability() -> None:
    """Arrivals add the leg to the previous departure; a pickup before ready time waits; drivers start late."""
    p = _problem()
    h1, h2, h3 = (_whole("H1", 2), _whole("H2"), _whole("H3"))
    plan = build_plan(
        p,
        {"D1": [Pickup(h1), Pickup(h2), Dropoff("S1", (h1, h2))], "D2": [Pickup(h3), Dropoff("S2", (h3,))]},
        [],
    )
    assert_plan_valid(p, plan)
    d1 = plan.route("D1")
    assert d1 is not None
    times = [(s.type, s.arrive_minute, s.depart_minute) for s in d1.stops]
    # 0 + 5 = 5, +3 pickup = 8; 8 + 4 = 12, waits to 15, +3 = 18; 18 + 10 = 28, +2 = 30.
    assert times == [("pickup", 5, 8), ("pickup", 12, 18), ("dropoff", 28, 30)]
    d2 = plan.route("D2")
    assert d2 is not None
    # D2 is available from minute 20: 20 + 7 = 27, +3 = 30; 30 + 8 = 38.
    assert [(s.arrive_minute, s.depart_minute) for s in d2.stops] == [(27, 30), (38, 40)]
    assert [leg.minutes for leg in d1.legs] == [5, 4, 10]
    assert all(leg.meters is None and leg.coordinates == () for leg in d1.legs)


def test_consecutive_dropoffs_at_one_shelter_merge_into_one_stop() -> None:
    """Two drop-offs in a row at the same shelter are one stop that unloads both households."""
    p = _problem()
    h1, h2 = _whole("H1", 2), _whole("H2")
    plan = build_plan(
        p, {"D1": [Pickup(h1), Pickup(h2), Dropoff("S1", (h1,)), Dropoff("S1", (h2,))]}, [Unserved("H3", "test")]
    )
    assert_plan_valid(p, plan)
    (route,) = plan.routes
    assert [s.type for s in route.stops] == ["pickup", "pickup", "dropoff"]
    drop = route.stops[-1]
    assert drop.household_ids == ("H1", "H2")
    assert drop.people == 3
    assert drop.arrive_minute == 28
    assert len(route.legs) == 3


def test_dropoffs_at_different_shelters_stay_separate() -> None:
    """Drop-offs at two shelters are two stops, the second reached by the shelter-to-shelter leg."""
    p = _problem(households=[household("H1", people=2, max_ride_minutes=60), household("H2", ready_from_minute=15),
                             household("H3")])
    h1, h2 = _whole("H1", 2), _whole("H2")
    plan = build_plan(
        p, {"D1": [Pickup(h1), Pickup(h2), Dropoff("S1", (h2,)), Dropoff("S2", (h1,))]}, [Unserved("H3", "test")]
    )
    assert_plan_valid(p, plan)
    (route,) = plan.routes
    assert [(s.type, s.shelter_id) for s in route.stops][2:] == [("dropoff", "S1"), ("dropoff", "S2")]
    # S1 reached at 28, left at 30; S1 -> S2 is the default 10 minutes.
    assert route.stops[3].arrive_minute == 40


def test_metrics_clearance_is_the_last_dropoff_arrival() -> None:
    """Clearance is the latest drop-off arrival (not departure); counts and driving add up."""
    p = _problem()
    h1, h2, h3 = (_whole("H1", 2), _whole("H2"), _whole("H3"))
    plan = build_plan(
        p,
        {"D1": [Pickup(h1), Pickup(h2), Dropoff("S1", (h1, h2))], "D2": [Pickup(h3), Dropoff("S2", (h3,))]},
        [],
        solve_seconds=1.5,
        first_plan_seconds=0.25,
    )
    assert_plan_valid(p, plan)
    m = plan.metrics
    assert m.clearance_minute == 38  # D2's drop-off arrives at 38 (departs 40); D1's at 28
    assert (m.households_served, m.households_unserved, m.people_served) == (3, 0, 4)
    assert m.drive_minutes == pytest.approx(5 + 4 + 10 + 7 + 8)
    assert (m.solve_seconds, m.first_plan_seconds) == (1.5, 0.25)


def test_split_household_parts_and_idle_drivers() -> None:
    """Parts keep their numbers on the pickups; drivers without visits get no route; no visits, clearance 0."""
    p = _problem(households=[household("H1", people=6)], minutes=None)
    a, b = Request("H1", 1, 2, 3, 0), Request("H1", 2, 2, 3, 0)
    plan = build_plan(p, {"D1": [Pickup(a), Dropoff("S1", (a,))], "D2": [Pickup(b), Dropoff("S1", (b,))]}, [])
    assert_plan_valid(p, plan)
    assert [(s.part, s.parts) for r in plan.routes for s in r.stops if s.type == "pickup"] == [(1, 2), (2, 2)]
    assert plan.metrics.households_served == 1
    assert plan.metrics.people_served == 6

    empty = build_plan(p, {}, [Unserved("H1", "nobody drives")])
    assert empty.routes == ()
    assert empty.metrics.clearance_minute == 0
    assert_plan_valid(p, empty)
