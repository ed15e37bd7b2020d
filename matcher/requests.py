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
    #: Pets travelling in this part, and the seats they take (``Rules.seats_per_pet`` each).
    pets: int = 0
    pet_seats: int = 0

    @property
    def seated(self) -> int:
        return self.people - self.wheelchair_users

    @property
    def seats(self) -> int:
        """Ordinary seats this part takes: seated people and pets."""
        return self.seated + self.pet_seats

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


def _spread(total: int, sizes: list[int]) -> list[int]:
    """``total`` spread over bins of ``sizes`` as evenly as the sizes allow (the sizes hold it all)."""
    out = [0] * len(sizes)
    for _ in range(total):
        open_ = [k for k in range(len(sizes)) if out[k] < sizes[k]]
        k = min(open_, key=lambda k: (out[k], k))
        out[k] += 1
    return out


def split_household(household: Household, drivers: tuple[Driver, ...], seats_per_pet: int = 1) -> list[Request]:
    """The parts a household travels in: one when some car can take it whole.

    Pets take ``seats_per_pet`` seats each and travel in the last parts (after the people who sit),
    so they ride with the household's own seated members whenever the seats allow.

    Otherwise wheelchair users go in chunks the widest wheelchair car can take, with as many
    companions as that car has seats, and the rest of the people in even chunks of the largest
    car's seats. Even chunks leave more cars able to take each part than full-then-remainder would.
    When no car has a wheelchair space at all the household stays whole (and goes unserved with
    that reason): splitting cannot help it.
    """
    pet_seats = household.pets * seats_per_pet
    whole = [Request(household.id, 1, 1, household.people, household.wheelchair_users, household.pets, pet_seats)]
    seated, wheelchair = household.seated + pet_seats, household.wheelchair_users
    if not drivers or any(_fits(d, seated, wheelchair) for d in drivers):
        return whole
    max_wc = max(d.wheelchair_spaces for d in drivers)
    max_seats = max(d.seats for d in drivers)
    if (wheelchair > 0 and max_wc == 0) or (seated > 0 and max_seats == 0) or (pet_seats and seats_per_pet > max_seats):
        return whole
    chunks: list[tuple[int, int]] = []  # (seated, wheelchair)
    remaining_seated = seated
    for wc in _even_chunks(wheelchair, max_wc):
        companions = max((d.seats for d in drivers if d.wheelchair_spaces >= wc), default=0)
        take = min(companions, remaining_seated)
        chunks.append((take, wc))
        remaining_seated -= take
    chunks.extend((s, 0) for s in _even_chunks(remaining_seated, max_seats))
    n = len(chunks)
    # Seated people spread evenly over the seated chunks, pets fill the seats left: each part keeps
    # people with its pets where the counts allow.
    seated_chunks = [i for i, (s, _) in enumerate(chunks) if s > 0]
    spread = dict(zip(seated_chunks, _spread(household.seated, [chunks[i][0] for i in seated_chunks]), strict=True))
    pets_left, out = household.pets, []
    for i, (s, w) in enumerate(chunks):
        persons = spread.get(i, 0)
        pets = pets_left if seats_per_pet == 0 and i == n - 1 else \
            min(pets_left, (s - persons) // max(seats_per_pet, 1)) if seats_per_pet else 0
        pets_left -= pets
        out.append(Request(household.id, i + 1, n, persons + w, w, pets, pets * seats_per_pet))
    return out


def requests_for(
    households: tuple[Household, ...], drivers: tuple[Driver, ...], seats_per_pet: int = 1
) -> list[Request]:
    """Every household's requests, households in the given order."""
    return [r for h in households for r in split_household(h, drivers, seats_per_pet)]
