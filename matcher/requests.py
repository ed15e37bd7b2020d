"""Ride requests: a household, or a part of one when it is larger than any car (split across cars)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from matcher.problem import Driver, Household


@dataclass(frozen=True)
class Request:
    """What one car picks up at one home: a whole household, or part ``part`` of ``parts``."""

    household_id: str
    part: int
    parts: int
    people: int
    wheelchair_users: int

    @property
    def seated(self) -> int:
        return self.people - self.wheelchair_users

    @property
    def key(self) -> tuple[str, int]:
        return (self.household_id, self.part)


def _fits(driver: Driver, seated: int, wheelchair: int) -> bool:
    return driver.seats >= seated and driver.wheelchair_spaces >= wheelchair


def _even_chunks(total: int, size: int) -> list[int]:
    """``total`` split into as few chunks of at most ``size`` as possible, as even as possible."""
    if total <= 0:
        return []
    n = math.ceil(total / size)
    base, extra = divmod(total, n)
    return [base + 1 if i < extra else base for i in range(n)]


def split_household(household: Household, drivers: tuple[Driver, ...]) -> list[Request]:
    """The parts a household travels in: one when some car can take it whole.

    Otherwise wheelchair users go in chunks the widest wheelchair car can take, with as many
    companions as that car has seats, and the rest of the people in even chunks of the largest
    car's seats. Even chunks leave more cars able to take each part than full-then-remainder would.
    When no car has a wheelchair space at all the household stays whole (and goes unserved with
    that reason): splitting cannot help it.
    """
    seated, wheelchair = household.seated, household.wheelchair_users
    if not drivers or any(_fits(d, seated, wheelchair) for d in drivers):
        return [Request(household.id, 1, 1, household.people, wheelchair)]
    max_wc = max(d.wheelchair_spaces for d in drivers)
    max_seats = max(d.seats for d in drivers)
    if (wheelchair > 0 and max_wc == 0) or (seated > 0 and max_seats == 0):
        return [Request(household.id, 1, 1, household.people, wheelchair)]
    chunks: list[tuple[int, int]] = []  # (seated, wheelchair)
    remaining_seated = seated
    for wc in _even_chunks(wheelchair, max_wc):
        companions = max((d.seats for d in drivers if d.wheelchair_spaces >= wc), default=0)
        take = min(companions, remaining_seated)
        chunks.append((take, wc))
        remaining_seated -= take
    chunks.extend((s, 0) for s in _even_chunks(remaining_seated, max_seats))
    n = len(chunks)
    return [Request(household.id, i + 1, n, s + w, w) for i, (s, w) in enumerate(chunks)]


def requests_for(households: tuple[Household, ...], drivers: tuple[Driver, ...]) -> list[Request]:
    """Every household's requests, households in the given order."""
    return [r for h in households for r in split_household(h, drivers)]
