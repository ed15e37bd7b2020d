"""The plan's accessors: what readers at the edge ask of a plan instead of walking its JSON."""

from __future__ import annotations

from matcher.plan import Plan, ReplanSummary
from matcher.travel import LocationRef
from tests.factories import example_plan


def test_accessors_answer_from_the_routes() -> None:
    """Stops of a driver, a stop by index, served and picked households, and shelters used."""
    plan = example_plan()
    assert [s.type for s in plan.stops_of("D2")] == ["pickup", "dropoff"]
    assert plan.stops_of("nobody") == ()
    assert plan.stop("D1", 1) is plan.stops_of("D1")[1]
    assert plan.stop("D1", 5) is None and plan.stop("D1", -1) is None
    assert plan.served_ids() == {"H1", "H2", "H4"}
    assert plan.picked_ids() == {"H1", "H2", "H4"}
    assert plan.household_ids_of({"D2"}) == {"H4"}
    assert plan.shelter_ids() == {"S1"}
    assert plan.driver_of()["H4"] == "D1"
    assert len(list(plan.stops())) == 7


def test_place_of_a_stop_is_its_household_or_shelter() -> None:
    """The one place-of-a-stop rule: a pickup is at the household, a drop-off at the shelter."""
    plan = example_plan()
    first, drop = plan.stops_of("D1")[0], plan.stops_of("D1")[2]
    assert Plan.place_of(first) == LocationRef("household", "H1") == first.place
    assert Plan.place_of(drop) == LocationRef("shelter", "S1")
    split_1, split_2 = plan.stops_of("D1")[3], plan.stops_of("D2")[0]
    assert split_1.place == split_2.place and not split_1.same_place(split_2)  # same home, another part
    assert drop.same_place(plan.stops_of("D1")[4])


def test_replan_summary_round_trips_through_json() -> None:
    """A re-plan's figures are typed in the plan and kept as the ``replan`` block of its JSON."""
    plan = example_plan()
    data = Plan(plan.scenario, plan.metrics, plan.routes, plan.unserved,
                replan=ReplanSummary(12.345, 0.98765, 2, 1.23456)).to_dict()
    assert data["replan"] == {"minute": 12.35, "stability": 0.9877, "households_reassigned": 2, "seconds": 1.235}
    back = Plan.from_dict(data)
    assert back.replan == ReplanSummary(12.35, 0.9877, 2, 1.235) and "replan" not in back.extra
    assert "replan" not in plan.to_dict()
