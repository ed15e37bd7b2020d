"""Tests for the plain-text plan summary: figures, shelters, unserved by reason, drivers; ids only."""

from __future__ import annotations

import dataclasses

from matcher.plan import Metrics, Plan, Unserved
from matcher.summary import format_summary
from tests.factories import (
    PERSONAL_DATA,
    driver,
    example_plan,
    example_problem,
    example_problem_with_personal_data,
    make_problem,
    shelter,
)

EXPECTED_EXAMPLE = """\
Plan example
  served      3 of 4 households, 9 of 11 people
  unserved    1 household
  clearance   minute 45.0 of deadline 60.0 (15.0 min to spare)
  driving     44.0 min in all; solved in 1.25 s, first plan after 0.10 s

Shelters (people arriving / capacity)
  S1     9 / 10
  S2     0 / 3  (not wheelchair accessible)

Unserved (1 household)
  not_enough_cars (1)
    no car left with a wheelchair space before the deadline: H3

Drivers
  D1  2 trips, 7 people, last drop-off minute 45.0
  D2  1 trip, 2 people, last drop-off minute 21.0
"""


def test_example_summary_text() -> None:
    """The worked example reads exactly as expected (a golden text)."""
    problem = example_problem()
    plan = example_plan(problem)
    plan = dataclasses.replace(
        plan, metrics=dataclasses.replace(plan.metrics, solve_seconds=1.25, first_plan_seconds=0.1)
    )
    assert format_summary(plan, problem) == EXPECTED_EXAMPLE


def test_late_plan_over_capacity_and_idle_drivers() -> None:
    """A clearance after the deadline says LATE; an overfull shelter is flagged; drivers without stops are idle."""
    example = example_problem()
    problem = example_problem(
        deadline=40,
        drivers=[*example.drivers, driver("D3")],
        shelters=[shelter("S1", capacity=8), example.shelter("S2")],
    )
    text = format_summary(example_plan(problem), problem)
    assert "minute 45.0 of deadline 40.0 (LATE by 5.0 min)" in text
    assert "  S1     9 / 8  (OVER CAPACITY)\n" in text
    assert "  idle (1): D3\n" in text


def test_unserved_grouped_by_code_then_reason() -> None:
    """Unserved households are grouped by code, biggest group first, each distinct reason with its ids."""
    problem = make_problem(households=["H1", "H2", "H3", "H4"], drivers=["D1"], shelters=["S1"])
    plan = Plan(
        scenario="",
        metrics=Metrics(clearance_minute=0, households_served=0, households_unserved=4, people_served=0),
        routes=(),
        unserved=(
            Unserved("H1", "cut off by the flood", "cut_off"),
            Unserved("H2", "no car in time", "too_late"),
            Unserved("H3", "cut off by the flood", "cut_off"),
            Unserved("H4", "cut off by closed roads", "cut_off"),
        ),
    )
    text = format_summary(plan, problem)
    assert (
        "Unserved (4 households)\n"
        "  cut_off (3)\n"
        "    cut off by the flood: H1, H3\n"
        "    cut off by closed roads: H4\n"
        "  too_late (1)\n"
        "    no car in time: H2\n"
    ) in text
    assert "Plan test" in text and "nobody moved (deadline minute 120.0)" in text and "idle (1): D1" in text


def test_no_personal_data() -> None:
    """Names and phones of households, drivers (and even shelter names) stay out of the terminal text."""
    problem = example_problem_with_personal_data()
    text = format_summary(example_plan(problem), problem)
    for secret in (*PERSONAL_DATA, "North school"):
        assert secret not in text


def test_contacts_list_only_the_unserved_households_name_and_phone() -> None:
    """With ``contacts`` the coordinator gets a call list: each unserved household's name, phone and size;
    served households' and drivers' personal data stay out all the same."""
    problem = example_problem_with_personal_data()
    text = format_summary(example_plan(problem), problem, contacts=True)
    assert "      H3  Alan Turing  +44 3333  2 people, 1 wheelchair user\n" in text
    for secret in ("Ada Lovelace", "Grace Hopper", "Katherine Johnson", "Volunteer One", "+49 5555"):
        assert secret not in text


def test_clock_times_limit_and_bound_in_the_headline() -> None:
    """An alert with a start time puts clock times beside minutes; the limit and the bound's gap are shown."""
    example = example_problem()
    problem = dataclasses.replace(example, alert=dataclasses.replace(example.alert,
                                                                     start="2026-09-14T18:00:00+02:00"))
    plan = example_plan(problem)
    plan = dataclasses.replace(plan, metrics=dataclasses.replace(plan.metrics, solve_seconds=1.25,
                                                                 clearance_bound_minute=36.0))
    text = format_summary(plan, problem, time_limit=8.0)
    assert "clearance   minute 45.0 (18:45) of deadline 60.0 (19:00) (15.0 min to spare)" in text
    assert "bound       no plan serving all of them clears before minute 36.0 (gap 25%)" in text
    assert "solved in 1.25 s (limit 8 s)" in text
    assert "D1  2 trips, 7 people, last drop-off minute 45.0 (18:45)" in text


def test_many_drivers_are_grouped_by_finishing_time_unless_verbose() -> None:
    """Above twenty driving cars the driver section is a few lines by finishing band plus the last five to
    finish; ``verbose`` gives one line per driver again."""
    example = example_problem()
    plan = example_plan(example)
    route = plan.routes[0]
    routes = tuple(dataclasses.replace(route, driver_id=f"X{i:02d}") for i in range(25))
    problem = make_problem(households=list(example.households), drivers=[driver(f"X{i:02d}") for i in range(25)],
                           shelters=list(example.shelters), deadline=example.deadline)
    many = dataclasses.replace(plan, routes=routes)
    text = format_summary(many, problem)
    assert "Drivers (25 driving; by last drop-off; --verbose for one line each)" in text
    assert "  minute 30-60: 25 drivers, 50 trips, 175 people\n" in text
    assert "  last to finish: X00 minute 45.0, X01 minute 45.0, X02 minute 45.0, X03 minute 45.0, X04 minute 45.0" \
        in text
    assert text.count("last drop-off minute") == 0
    verbose = format_summary(many, problem, verbose=True)
    assert verbose.count("last drop-off minute 45.0") == 25
