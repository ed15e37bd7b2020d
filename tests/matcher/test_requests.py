"""Splitting households that no single car can take into parts that cars can."""

from __future__ import annotations

from matcher.requests import Request, requests_for, split_household
from tests.factories import driver, household


def _fits_some(request: Request, drivers: tuple) -> bool:  # type: ignore[type-arg]
    return any(d.seats >= request.seated and d.wheelchair_spaces >= request.wheelchair_users for d in drivers)


def test_household_of_seven_with_four_seat_cars_splits_into_four_and_three() -> None:
    """Seven people and 4-seat cars make two even parts, 4 and 3, numbered 1 and 2 of 2."""
    drivers = (driver("D1", seats=4), driver("D2", seats=3))
    parts = split_household(household("H1", people=7), drivers)
    assert [(r.household_id, r.part, r.parts, r.people, r.wheelchair_users) for r in parts] == [
        ("H1", 1, 2, 4, 0),
        ("H1", 2, 2, 3, 0),
    ]


def test_parts_are_even_not_full_then_remainder() -> None:
    """Nine people with 4-seat cars go 3+3+3 (not 4+4+1), so every part fits a 3-seat car too."""
    parts = split_household(household("H1", people=9), (driver("D1", seats=4),))
    assert [r.people for r in parts] == [3, 3, 3]
    assert {r.parts for r in parts} == {3}
    assert [r.part for r in parts] == [1, 2, 3]


def test_wheelchair_users_go_into_parts_a_wheelchair_car_can_take() -> None:
    """Two wheelchair users, one space per car: each goes in its own part with companions the van can seat."""
    drivers = (driver("D1", seats=4), driver("V1", seats=2, wheelchair_spaces=1))
    parts = split_household(household("H1", people=5, wheelchair_users=2), drivers)
    assert sum(r.people for r in parts) == 5
    assert sum(r.wheelchair_users for r in parts) == 2
    with_wheelchair = [r for r in parts if r.wheelchair_users]
    assert [r.wheelchair_users for r in with_wheelchair] == [1, 1]
    for r in parts:
        assert _fits_some(r, drivers), r
    for r in with_wheelchair:
        # Only the van has a wheelchair space: the part must fit the van itself.
        assert r.seated <= 2
    assert [r.part for r in parts] == list(range(1, len(parts) + 1))
    assert {r.parts for r in parts} == {len(parts)}


def test_wheelchair_household_with_seated_rest_split_across_van_and_cars() -> None:
    """One wheelchair user and six others: the van takes the user and its seats' worth, cars take the rest."""
    drivers = (driver("D1", seats=4), driver("V1", seats=1, wheelchair_spaces=1))
    parts = split_household(household("H1", people=7, wheelchair_users=1), drivers)
    assert [(r.people, r.wheelchair_users) for r in parts] == [(2, 1), (3, 0), (2, 0)]
    assert all(_fits_some(r, drivers) for r in parts)


def test_household_that_fits_one_car_stays_whole() -> None:
    """Four people and a 4-seat car: one request, part 1 of 1."""
    van = driver("D1", seats=3, wheelchair_spaces=1)
    parts = split_household(household("H1", people=4, wheelchair_users=1), (van,))
    assert parts == [Request("H1", 1, 1, 4, 1)]


def test_household_stays_whole_when_only_the_largest_car_fits() -> None:
    """One big car is enough: the household is not split just because other cars are small."""
    drivers = (driver("D1", seats=2), driver("D2", seats=6))
    assert split_household(household("H1", people=6), drivers) == [Request("H1", 1, 1, 6, 0)]


def test_no_wheelchair_car_keeps_household_whole() -> None:
    """With no wheelchair space anywhere, splitting cannot help: the household stays one request."""
    drivers = (driver("D1", seats=4), driver("D2", seats=4))
    parts = split_household(household("H1", people=6, wheelchair_users=1), drivers)
    assert parts == [Request("H1", 1, 1, 6, 1)]


def test_requests_for_keeps_household_order() -> None:
    """requests_for lists each household's parts in household order."""
    drivers = (driver("D1", seats=4),)
    reqs = requests_for((household("H2", people=2), household("H1", people=5), household("H3")), drivers)
    assert [r.key for r in reqs] == [("H2", 1), ("H1", 1), ("H1", 2), ("H3", 1)]
    assert [r.people for r in reqs] == [2, 3, 2, 1]
