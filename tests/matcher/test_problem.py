"""Domain records validate themselves: every bad input raises InputError naming the record and the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from matcher.errors import InputError
from matcher.problem import Alert, ServiceMinutes
from tests.factories import driver, household, make_problem, shelter


def _problem_with(
    households: list[Any] | None = None, drivers: list[Any] | None = None, shelters: list[Any] | None = None
) -> Any:
    """A problem over the given records with a full (all 10 minutes) matrix, so duplicate ids reach Problem."""
    hs = households or [household("H1")]
    ds = drivers or [driver("D1")]
    ss = shelters or [shelter("S1")]
    n = len(hs) + len(ds) + len(ss)
    return make_problem(households=hs, drivers=ds, shelters=ss, minutes=np.full((n, n), 10.0))


BAD_INPUTS: list[tuple[Callable[[], Any], str, str]] = [
    # two households share an id
    (lambda: _problem_with(households=[household("H1"), household("H1", people=2)]), "household H1", "id"),
    # two drivers share an id
    (lambda: _problem_with(drivers=[driver("D1"), driver("D1", seats=2)]), "driver D1", "id"),
    # two shelters share an id
    (lambda: _problem_with(shelters=[shelter("S1"), shelter("S1", capacity=5)]), "shelter S1", "id"),
    # an empty household id
    (lambda: _problem_with(households=[household("")]), "household ''", "id"),
    # a household of nobody
    (lambda: household("H1", people=0), "household H1", "people"),
    # people given as text
    (lambda: household("H1", people="2"), "household H1", "people"),
    # more wheelchair users than people (people includes them)
    (lambda: household("H1", people=1, wheelchair_users=2), "household H1", "wheelchair_users"),
    # negative wheelchair users
    (lambda: household("H1", wheelchair_users=-1), "household H1", "wheelchair_users"),
    # priority 0 (1 is the most urgent)
    (lambda: household("H1", priority=0), "household H1", "priority"),
    # ready before the alert started
    (lambda: household("H1", ready_from_minute=-5), "household H1", "ready_from_minute"),
    # ready time that is not a number
    (lambda: household("H1", ready_from_minute="soon"), "household H1", "ready_from_minute"),
    # a zero maximum ride
    (lambda: household("H1", max_ride_minutes=0), "household H1", "max_ride_minutes"),
    # latitude that is not a number
    (lambda: household("H1", lat="sixty"), "household H1", "lat"),
    # latitude beyond the pole
    (lambda: household("H1", lat=91.0), "household H1", "lat"),
    # latitude NaN
    (lambda: household("H1", lat=math.nan), "household H1", "lat"),
    # longitude out of range
    (lambda: household("H1", lon=-181.0), "household H1", "lon"),
    # negative seats
    (lambda: driver("D1", seats=-1), "driver D1", "seats"),
    # a car with neither seats nor wheelchair spaces
    (lambda: driver("D1", seats=0, wheelchair_spaces=0), "driver D1", "seats"),
    # negative wheelchair spaces
    (lambda: driver("D1", wheelchair_spaces=-1), "driver D1", "wheelchair_spaces"),
    # availability window that ends before it starts
    (lambda: driver("D1", available_from_minute=30, available_until_minute=20), "driver D1", "available_until_minute"),
    # availability window of zero length
    (lambda: driver("D1", available_from_minute=30, available_until_minute=30), "driver D1", "available_until_minute"),
    # available before the alert
    (lambda: driver("D1", available_from_minute=-1), "driver D1", "available_from_minute"),
    # driver latitude out of range
    (lambda: driver("D1", lat=-90.5), "driver D1", "lat"),
    # negative shelter capacity
    (lambda: shelter("S1", capacity=-1), "shelter S1", "capacity"),
    # accessibility given as text instead of true/false
    (lambda: shelter("S1", wheelchair_accessible="yes"), "shelter S1", "wheelchair_accessible"),
    # a deadline of zero
    (lambda: Alert(deadline_minutes=0), "alert", "deadline_minutes"),
    # a negative deadline
    (lambda: Alert(deadline_minutes=-10), "alert", "deadline_minutes"),
    # a deadline given as text
    (lambda: Alert(deadline_minutes="3h"), "alert", "deadline_minutes"),
    # a flood zone that is a point, not a polygon
    (lambda: Alert(60, flood_zones=({"type": "Point", "coordinates": [26.9, 60.5]},)), "alert", "flood_zones"),
    # a flood zone that is not a mapping at all
    (lambda: Alert(60, flood_zones=("Polygon",)), "alert", "flood_zones"),  # type: ignore[arg-type]
    # a closed way id given as text
    (lambda: Alert(60, closed_ways=("main street",)), "alert", "closed_ways"),  # type: ignore[arg-type]
    # negative pickup service time
    (lambda: ServiceMinutes(pickup=-1), "service_minutes", "pickup"),
]


@pytest.mark.parametrize(("build", "record", "field"), BAD_INPUTS)
def test_bad_input_names_record_and_field(build: Callable[[], Any], record: str, field: str) -> None:
    """Each bad input raises InputError whose record and field point at the culprit."""
    with pytest.raises(InputError) as info:
        build()
    assert (info.value.record, info.value.field) == (record, field)
    assert str(info.value).startswith(f"{record}: {field}: ")
    assert info.value.exit_code == 2


def test_household_without_matrix_row_is_an_input_error() -> None:
    """A record the travel-time matrix does not cover is named, not a KeyError."""
    base = make_problem(households=["H1"], drivers=["D1"], shelters=["S1"])
    with pytest.raises(InputError) as info:
        type(base)(
            name="x",
            households=(household("H1"), household("H2")),
            drivers=base.drivers,
            shelters=base.shelters,
            alert=base.alert,
            travel=base.travel,
        )
    assert (info.value.record, info.value.field) == ("household H2", "id")


def test_valid_records_keep_their_values() -> None:
    """Good records construct, and the derived figures follow from them."""
    h = household("H1", people=3, wheelchair_users=1)
    assert h.seated == 2
    assert h.record == "household H1"
    problem = make_problem(
        households=[h, household("H2", max_ride_minutes=25)],
        drivers=[driver("D1", available_until_minute=50), driver("D2")],
        shelters=["S1"],
        minutes={("H1", "S1"): 20},
        deadline=90,
    )
    assert problem.deadline == 90
    assert problem.driver_end(problem.driver("D1")) == 50
    assert problem.driver_end(problem.driver("D2")) == 90
    assert problem.minutes("household", "H1", "shelter", "S1") == 20
    # Default max ride is 1.5 x the direct drive + 15 minutes; an explicit one wins.
    assert problem.max_ride_minutes(h, "S1") == pytest.approx(1.5 * 20 + 15)
    assert problem.max_ride_minutes(problem.household("H2"), "S1") == 25


def test_shelter_takes_table_is_shelter_takes_for_every_pair() -> None:
    """The vectorised table (regional room split) gives exactly the per-pair rule, every combination covered."""
    from matcher.problem import Problem

    households = [household(f"H{i}", people=2, wheelchair_users=w, pets=p, needs=n)
                  for i, (w, p, n) in enumerate((w, p, n) for w in (0, 1) for p in (0, 2)
                                                for n in ((), ("oxygen",), ("hearing",)))]
    shelters = [shelter(f"S{i}", wheelchair_accessible=a, pets_allowed=p, medical_support=m)
                for i, (a, p, m) in enumerate((a, p, m) for a in (False, True) for p in (False, True)
                                              for m in (False, True))]
    problem = _problem_with(households=households, shelters=shelters)
    table = Problem.shelter_takes_table(problem.households, problem.shelters)
    expected = [[problem.shelter_takes(h, s) for s in problem.shelters] for h in problem.households]
    assert table.tolist() == expected
    assert 0 < int(table.sum()) < table.size  # both answers occur


def test_max_ride_table_is_max_ride_minutes_for_every_pair() -> None:
    """The table (a re-plan's solver instance) gives exactly the per-pair rule: own limit, medical cap, direct."""
    households = [household(f"H{i}", max_ride_minutes=m, needs=n)
                  for i, (m, n) in enumerate((m, n) for m in (None, 25.0, 200.0) for n in ((), ("oxygen",)))]
    shelters = [shelter("S0"), shelter("S1"), shelter("S2")]
    problem = _problem_with(households=households, shelters=shelters)
    table = problem.max_ride_table(problem.households, problem.shelters)
    expected = [[problem.max_ride_minutes(h, s.id) for s in problem.shelters] for h in problem.households]
    assert table.tolist() == expected
    assert len(set(table.ravel().tolist())) > 3  # the rules differ across the pairs, else the test shows nothing
