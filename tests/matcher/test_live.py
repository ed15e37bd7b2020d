"""The live state from stop reports: what is done, who is on board, who was missed (``matcher.live.derive_state``)."""

from __future__ import annotations

from typing import Any

import pytest

from matcher.codes import MISSED_REASONS, StopStatus
from matcher.live import (
    Closures,
    LiveEvent,
    LiveState,
    Residual,
    StopReport,
    derive_state,
    leading_done,
    missed_households,
    residual_problem,
)
from matcher.plan import Plan
from matcher.problem import Problem
from tests.factories import EXAMPLE_MINUTES, example_plan, example_problem, household

P, D, N, C, W = (StopStatus.PICKED_UP, StopStatus.DROPPED_OFF, StopStatus.NO_SHOW, StopStatus.CANNOT_REACH,
                 StopStatus.ON_THE_WAY)


def _reports(driver: str, statuses: list[StopStatus], version: int = 0) -> list[StopReport]:
    """Reports on the driver's first stops of ``example_plan()``, in order, on plan ``version``."""
    stops = example_plan().stops_of(driver)
    return [StopReport(driver, i, s, stops[i].household_id, version) for i, s in enumerate(statuses)]


def test_nothing_reported_is_an_untouched_plan() -> None:
    state = derive_state(example_plan(), [], 3.0)
    assert state.minute == 3.0 and state.completed == {} and state.on_board == {}
    assert state.no_shows == frozenset() and state.cannot_reach == frozenset()


@pytest.mark.parametrize(("statuses", "done", "on_board"), [
    ([P], 1, ("H1",)),  # the first pickup done: H1 rides
    ([P, P], 2, ("H1", "H2")),  # both picked up, not yet dropped
    ([P, P, D], 3, ()),  # dropped off at S1: the car is empty
    ([P, W], 1, ("H1",)),  # on the way is not done
    ([P, N], 2, ("H1",)),  # nobody at H2: the stop is done, nobody boards
    ([P, P, D, P], 4, ("H4",)),  # part 1 of the split household rides
])
def test_completed_stops_and_riders_on_board(statuses: list[StopStatus], done: int, on_board: tuple[str, ...]) -> None:
    """Completed is the count of leading done stops; riders are picked up in it and not yet dropped off."""
    state = derive_state(example_plan(), _reports("D1", statuses), 20.0)
    assert state.completed == {"D1": done}
    assert state.on_board.get("D1", ()) == on_board


def test_a_done_stop_after_a_waiting_one_is_not_history() -> None:
    """Stops are done in driving order: a report after a gap does not count as completed."""
    reports = [StopReport("D1", 1, P, "H2")]
    assert derive_state(example_plan(), reports, 10.0).completed == {}
    assert leading_done(example_plan(), {("D1", 0): "picked_up", ("D1", 2): "dropped_off"}) == {"D1": 1}


@pytest.mark.parametrize(("reports", "no_shows", "cannot_reach"), [
    # nobody at the door
    ([StopReport("D1", 1, N, "H2")], {"H2"}, set()),
    # the driver could not get there: missed, with its own reason
    ([StopReport("D1", 1, C, "H2")], {"H2"}, {"H2"}),
    # a split household with one part picked up is on its way, whatever happened at its other stop
    ([StopReport("D1", 3, N, "H4"), StopReport("D2", 0, P, "H4")], set(), set()),
    # missed on version 1, picked up on version 2 (a re-plan sent another car): the newest version counts
    ([StopReport("D1", 1, N, "H2", 1), StopReport("D2", 0, P, "H2", 2)], set(), set()),
    # picked up on version 1, reported missed on the newer version 2: missed
    ([StopReport("D1", 1, P, "H2", 1), StopReport("D2", 0, N, "H2", 2)], {"H2"}, set()),
    # both reports on one stop's household: a no-show wins over cannot-reach for the reason
    ([StopReport("D1", 1, C, "H2"), StopReport("D2", 0, N, "H2")], {"H2"}, set()),
    # an undone report (back to waiting: no report left) puts the household back
    ([], set(), set()),
])
def test_missed_households_by_their_newest_version(reports: list[StopReport], no_shows: set[str],
                                                   cannot_reach: set[str]) -> None:
    assert missed_households(reports) == (no_shows, cannot_reach)


def test_reports_of_later_versions_do_not_count() -> None:
    """A state of version 1 ignores version 2's reports (a re-plan being checked against its base)."""
    reports = [StopReport("D1", 0, P, "H1", 1), StopReport("D1", 1, N, "H2", 2)]
    state = derive_state(example_plan(), reports, 9.0, plan_version=1)
    assert state.completed == {"D1": 1} and state.no_shows == frozenset()


def test_missed_reason_says_which_miss() -> None:
    state = derive_state(example_plan(), [*_reports("D1", [P, C])], 12.0)
    assert state.no_shows == {"H2"} and state.cannot_reach == {"H2"}
    assert state.missed_reason("H2") == MISSED_REASONS[C]
    assert derive_state(example_plan(), _reports("D1", [P, N]), 12.0).missed_reason("H2") == MISSED_REASONS[N]


def test_the_rest_of_the_picture_is_carried_as_given() -> None:
    """Drop-outs, new requests, closures and events come from the translator (rows or simulation events)."""
    state = derive_state(example_plan(), [], 5.0, dropped_drivers=frozenset({"D2"}),
                         new_requests=frozenset({"H9"}), closures=Closures((12,), 1),
                         events=frozenset({LiveEvent.DROPOUT}))
    assert state.dropped_drivers == {"D2"} and state.new_requests == {"H9"}
    assert state.closures == Closures((12,), 1) and state.events == {LiveEvent.DROPOUT}
    assert state.same_history(derive_state(example_plan(), [], 7.0))
    assert not state.same_history(derive_state(example_plan(), _reports("D1", [P]), 7.0))



def _on_the_way_to_h4(minute: float, problem: Problem | None = None, **changes: Any) -> tuple[Residual, Plan]:
    """The example plan with D1's first trip (H1, H2, S1: left S1 at 30 for H4, there at 36) and D2's route done."""
    problem = problem or example_problem()
    plan = example_plan(problem)
    state = LiveState(minute, {"D1": 3, "D2": 2}, **changes)
    return residual_problem(problem, plan, state), plan


def test_a_driver_on_the_way_keeps_the_stop_it_drives_to() -> None:
    """At minute 33 D1 is on the road from S1 (left at 30) to H4 (there at 36). It is re-planned from there, not
    from S1 at 33: H4's part is picked up at 36 as planned and taken to S1 (45, free at 47). Standing D1 at S1
    from 33 would drive again the 3 minutes already driven (H4 reached at 39)."""
    res, plan = _on_the_way_to_h4(33.0)
    d1 = res.frozen["D1"]
    assert [s.type for s in d1.stops] == ["pickup", "pickup", "dropoff", "pickup", "dropoff"]
    assert d1.stops[3] == plan.routes[0].stops[3]
    assert d1.clock == pytest.approx(47.0)
    (d1_left,) = [d for d in res.problem.drivers if d.id == "D1"]
    assert d1_left.available_from_minute == pytest.approx(47.0)
    assert "H4" not in {h.id for h in res.problem.households}


@pytest.mark.parametrize("minute, changes", [
    (29.0, {}),  # still unloading at S1 (leaves at 30)
    (33.0, {"dropped_drivers": frozenset({"D1"})}),  # dropped out: only riders on board are delivered
    (33.0, {"no_shows": frozenset({"H4"})}),  # H4 was missed (an earlier version): nobody to fetch
])
def test_a_driver_not_on_the_way_stands_where_they_last_reported(minute: float, changes: dict[str, Any]) -> None:
    d1 = _on_the_way_to_h4(minute, **changes)[0].frozen["D1"]
    assert len(d1.stops) == 3
    assert d1.clock == pytest.approx(max(minute, 30.0))


def test_a_leg_todays_roads_changed_is_not_kept() -> None:
    """After a closure the drive from S1 to H4 takes 9 minutes, not the plan's 6: the car may be turning round."""
    closed = example_problem(minutes={**EXAMPLE_MINUTES, ("S1", "H4"): 9})
    assert len(_on_the_way_to_h4(33.0, closed)[0].frozen["D1"].stops) == 3


def test_a_pickup_now_ready_later_than_the_car_comes_is_not_kept() -> None:
    """H4 now says it is ready at 40; the car planned to board it at 36: the planned times no longer hold."""
    later = example_problem(households=[
        household("H1", people=2, wheelchair_users=1), household("H2", people=2, ready_from_minute=15),
        household("H3", people=2, wheelchair_users=1), household("H4", people=5, ready_from_minute=40)])
    assert len(_on_the_way_to_h4(33.0, later)[0].frozen["D1"].stops) == 3
