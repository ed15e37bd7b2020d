"""Stable codes and their words: why a household is unserved, what a driver reports at a stop.

Programs compare codes; people read the texts. Both live here once and every module imports them.
Adding an unserved code is one enum member plus one ``UNSERVED_TEXTS`` entry (a test checks that every code
has its text).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnservedCode(StrEnum):
    """Why the plan does not bring a household out (the ``code`` of a plan's ``unserved`` entry)."""

    CUT_OFF = "cut_off"
    NO_WHEELCHAIR_CAR = "no_wheelchair_car"
    NO_SHELTER_ROOM = "no_shelter_room"
    NO_ACCESSIBLE_SHELTER = "no_accessible_shelter"
    TOO_LATE = "too_late"
    NOT_ENOUGH_CARS = "not_enough_cars"
    NO_SHOW = "no_show"
    #: A regional plan: the household's zone has no car, and no zone near it had one to lend.
    NO_CAR_NEAR = "no_car_near"


@dataclass(frozen=True)
class CodeText:
    """The words for a code: ``summary`` says what happened, ``remedy`` what a coordinator can do about it.

    ``more_cars_help``: more (or better equipped) cars could serve the household; the shortfall advice of a
    drill adds cars for these codes only, and a re-plan that leaves only these households out is not worth
    improving (no re-routing finds a car that is not there).
    """

    summary: str
    remedy: str
    more_cars_help: bool = False


UNSERVED_TEXTS: dict[UnservedCode, CodeText] = {
    UnservedCode.CUT_OFF: CodeText(
        "no open road reaches the address once the roads close",
        "no open road reaches them (closed roads, flood): fetch them first, before the water comes, "
        "or arrange a boat or a high vehicle"),
    UnservedCode.NO_WHEELCHAIR_CAR: CodeText(
        "needs a wheelchair space; no car that is free has one",
        "find a car with wheelchair spaces", more_cars_help=True),
    UnservedCode.NO_SHELTER_ROOM: CodeText(
        "no shelter has room left", "no shelter room left: find more shelter places"),
    UnservedCode.NO_ACCESSIBLE_SHELTER: CodeText(
        "needs a wheelchair-accessible shelter with room",
        "needs a wheelchair-accessible shelter with room: find one"),
    UnservedCode.TOO_LATE: CodeText(
        "too far, or ready too late, to reach a shelter by the deadline",
        "too far, or ready too late, for the deadline: ask them to be ready earlier"),
    UnservedCode.NOT_ENOUGH_CARS: CodeText(
        "not enough cars before the deadline", "add drivers", more_cars_help=True),
    UnservedCode.NO_CAR_NEAR: CodeText(
        "no volunteer car in or near this zone",
        "no volunteer car in or near this zone: find drivers here or in a neighbouring zone", more_cars_help=True),
    UnservedCode.NO_SHOW: CodeText(
        "not at home when the driver came", "call them; undo the report if they are there after all"),
}

#: The codes more cars can fix (``too_late`` and ``cut_off`` cannot: a car at the door would not make it).
CAR_FIXABLE: frozenset[UnservedCode] = frozenset(c for c, t in UNSERVED_TEXTS.items() if t.more_cars_help)


def summary(code: str) -> str:
    """The summary text of an unserved code; an unknown code is shown as it is."""
    try:
        return UNSERVED_TEXTS[UnservedCode(code)].summary
    except ValueError:
        return code


def remedy(code: str) -> str:
    """What a coordinator can do about an unserved code; an unknown code is shown as it is."""
    try:
        return UNSERVED_TEXTS[UnservedCode(code)].remedy
    except ValueError:
        return code


class StopStatus(StrEnum):
    """What a driver reports at a stop of their route."""

    ON_THE_WAY = "on_the_way"
    PICKED_UP = "picked_up"
    DROPPED_OFF = "dropped_off"
    NO_SHOW = "no_show"
    CANNOT_REACH = "cannot_reach"


#: A stop with one of these statuses has happened: the driver has been there (or given up on it) and left.
DONE: frozenset[StopStatus] = frozenset(
    {StopStatus.PICKED_UP, StopStatus.DROPPED_OFF, StopStatus.NO_SHOW, StopStatus.CANNOT_REACH})
#: A pickup with one of these statuses brought nobody on board.
MISSED: frozenset[StopStatus] = frozenset({StopStatus.NO_SHOW, StopStatus.CANNOT_REACH})
#: Which statuses fit which stop type (a drop-off is never a no-show: its riders are on board).
ALLOWED: dict[str, frozenset[StopStatus]] = {
    "pickup": frozenset({StopStatus.ON_THE_WAY, StopStatus.PICKED_UP, StopStatus.NO_SHOW, StopStatus.CANNOT_REACH}),
    "dropoff": frozenset({StopStatus.ON_THE_WAY, StopStatus.DROPPED_OFF}),
}
#: The reason a missed household leaves the plan with (its code is ``no_show`` either way).
MISSED_REASONS: dict[StopStatus, str] = {
    StopStatus.NO_SHOW: "no-show: not at the address when the driver came; call them",
    StopStatus.CANNOT_REACH: "cannot reach: the driver could not get to the address; call them, and report a "
                             "closure if a road is blocked",
}
