"""Codes and their words: every unserved code has its text, and the set more cars can fix comes from the texts."""

from __future__ import annotations

import json

from matcher.codes import (
    ALLOWED,
    CAR_FIXABLE,
    DONE,
    MISSED,
    MISSED_REASONS,
    UNSERVED_TEXTS,
    StopStatus,
    UnservedCode,
    remedy,
    summary,
)
from matcher.plan import Plan, Unserved


def test_every_unserved_code_has_its_words() -> None:
    """Adding a code without a text fails here, so a coordinator never sees a bare code."""
    assert set(UNSERVED_TEXTS) == set(UnservedCode)
    for code in UnservedCode:
        assert summary(code) and remedy(code), code
        assert summary(code) != str(code)


def test_more_cars_fix_only_a_shortage_of_cars() -> None:
    """A car at the door does not help a household the roads cut off or the deadline rules out."""
    # A zone with no car in or near it (regional plans) is a shortage of cars there.
    assert {UnservedCode.NOT_ENOUGH_CARS, UnservedCode.NO_WHEELCHAIR_CAR, UnservedCode.NO_CAR_NEAR} == CAR_FIXABLE


def test_unknown_codes_are_shown_as_they_are() -> None:
    assert summary("made_up") == "made_up" and remedy("made_up") == "made_up"


def test_stop_statuses_fit_their_stop_types() -> None:
    """A drop-off is never missed (its riders are on board); every missed status is a done status."""
    assert MISSED <= DONE
    assert not ALLOWED["dropoff"] & MISSED
    assert ALLOWED["pickup"] | ALLOWED["dropoff"] == set(StopStatus)
    assert set(MISSED_REASONS) == MISSED


def test_codes_are_plain_strings_in_the_plan_json() -> None:
    """The enum is a ``str``: the plan JSON keeps the bare code, and reading it back gives the enum."""
    entry = Unserved("H1", "why", UnservedCode.CUT_OFF)
    text = json.dumps(entry.to_dict())
    assert '"code": "cut_off"' in text
    assert Unserved.from_dict(json.loads(text)).code is UnservedCode.CUT_OFF
    assert isinstance(Plan.from_dict({"metrics": {"clearance_minute": 0, "households_served": 0,
                                                  "households_unserved": 0, "people_served": 0},
                                      "routes": [], "unserved": [entry.to_dict()]}).unserved[0].code, UnservedCode)
