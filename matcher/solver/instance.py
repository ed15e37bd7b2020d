"""The solver's compact, array-based view of a problem (indices stay inside the solver package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.needs import Need, speaks
from matcher.problem import Household, Problem
from matcher.requests import Request, requests_for

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Minutes:
    """The travel-time table as the solver reads it: every read in ``float64``, without a ``float64`` copy.

    A regional table is ``float32`` (``travel_bounded``); copying a zone group's 3,814 places to ``float64``
    took 0.2 s of a 5 s re-plan, and the solver reads a small part of it. A read converts what it reads, so
    the values and the arithmetic on them are the copy's: ``T[i, j]`` is an ``np.float64``, ``T[rows, cols]``
    a ``float64`` array, ``T.item(i, j)`` a Python float.
    """

    __slots__ = ("_table", "item", "shape")

    def __init__(self, table: npt.NDArray[Any]) -> None:
        self._table = table
        self.item = table.item  # a Python float either way; bound once for the construction's inner loops
        self.shape: tuple[int, ...] = table.shape

    def __getitem__(self, key: Any) -> Any:
        return self._table[key].astype(np.float64)


@dataclass(frozen=True, eq=False)
class Instance:
    """Arrays over requests (r), cars (c) and shelters (s); ``T`` are travel minutes between matrix places.

    ``home[r]``, ``car_start[c]`` and ``shelter_loc[s]`` index into ``T``. ``max_ride[r, s]`` is the
    longest ride allowed to shelter s. Everything is in minutes. ``seated[r]`` counts seats: seated
    people and the pets' seats; ``people[r]`` counts people (what a shelter's capacity counts).
    ``car_fits[c, r]`` says whether car c may carry request r (seats, wheelchair spaces, pets);
    ``shelter_takes[r, s]`` whether shelter s fits request r's household (access, pets, medical support).
    """

    problem: Problem
    requests: tuple[Request, ...]
    T: Minutes
    home: IntArray
    seated: IntArray
    wheelchair: IntArray
    ready: FloatArray
    priority: IntArray
    max_ride: FloatArray
    car_start: IntArray
    car_from: FloatArray
    car_end: FloatArray
    car_seats: IntArray
    car_wheelchair: IntArray
    shelter_loc: IntArray
    shelter_capacity: IntArray
    shelter_accessible: npt.NDArray[np.bool_]
    people: IntArray
    pets: IntArray
    alone: npt.NDArray[np.bool_]  # cannot_share: never pooled with another household
    target: FloatArray  # pickup target minute (inf: none)
    car_takes_pets: npt.NDArray[np.bool_]
    car_fits: npt.NDArray[np.bool_]
    shelter_pet_room: FloatArray  # inf: pets allowed without a limit
    shelter_medical: npt.NDArray[np.bool_]
    shelter_takes: npt.NDArray[np.bool_]
    speaks: npt.NDArray[np.bool_]  # (c, r): the driver speaks the household's language (False when none given)
    pickup_minutes: float
    dropoff_minutes: float
    deadline: float

    @property
    def n_requests(self) -> int:
        return len(self.requests)

    @property
    def n_cars(self) -> int:
        return len(self.car_start)

    @property
    def n_shelters(self) -> int:
        return len(self.shelter_loc)

    def fits(self, car: int, request: int) -> bool:
        return bool(self.car_fits[car, request])


def _language_matrix(problem: Problem, households: list[Household]) -> npt.NDArray[np.bool_]:
    """Whether each driver speaks each household's language: one ``speaks`` per driver and distinct language (a
    regional re-plan asked it for every pair, 1.4 s of CPU at 1,400 cars)."""
    out = np.zeros((len(problem.drivers), len(households)), dtype=bool)
    by_language: dict[str, list[int]] = {}
    for k, h in enumerate(households):
        if h.language:
            by_language.setdefault(h.language, []).append(k)
    for language, columns in by_language.items():
        column = np.array([speaks(d.languages, language) for d in problem.drivers], dtype=bool)
        out[:, columns] = column[:, None]
    return out


def build_instance(problem: Problem) -> Instance:
    """Index the problem: split households into requests and gather every figure into arrays."""
    travel = problem.travel
    requests = tuple(requests_for(problem.households, problem.drivers, problem.rules.seats_per_pet))
    households = [problem.household(r.household_id) for r in requests]
    shelters = problem.shelters
    home = np.array([travel.index("household", h.id) for h in households], dtype=np.int64)
    shelter_loc = np.array([travel.index("shelter", s.id) for s in shelters], dtype=np.int64)
    max_ride = problem.max_ride_table(households, shelters)
    drivers = problem.drivers
    seated = np.array([r.seats for r in requests], dtype=np.int64)
    wheelchair = np.array([r.wheelchair_users for r in requests], dtype=np.int64)
    pets = np.array([r.pets for r in requests], dtype=np.int64)
    car_seats = np.array([d.seats for d in drivers], dtype=np.int64)
    car_wheelchair = np.array([d.wheelchair_spaces for d in drivers], dtype=np.int64)
    car_takes_pets = np.array([d.takes_pets for d in drivers], dtype=bool)
    car_fits = ((car_seats[:, None] >= seated[None, :]) & (car_wheelchair[:, None] >= wheelchair[None, :])
                & (car_takes_pets[:, None] | (pets[None, :] == 0)))
    # One numpy pass, not a Python call per (request, shelter) pair (100,000 at a zone group of 2,590 requests).
    takes = np.asarray(problem.shelter_takes_table(households, shelters), dtype=bool).reshape(
        len(requests), len(shelters))
    # Only the parts carrying pets need a pet shelter's pet room, but every part of a household goes
    # to one shelter, so the household's pets decide for all of them (shelter_takes above).
    return Instance(
        problem=problem,
        requests=requests,
        T=Minutes(travel.minutes),
        home=home,
        seated=seated,
        wheelchair=wheelchair,
        ready=np.array([h.ready_from_minute for h in households], dtype=np.float64),
        priority=np.array([h.priority for h in households], dtype=np.int64),
        max_ride=max_ride,
        car_start=np.array([travel.index("driver", d.id) for d in drivers], dtype=np.int64),
        car_from=np.array([d.available_from_minute for d in drivers], dtype=np.float64),
        car_end=np.array([problem.latest_arrival(d) for d in drivers], dtype=np.float64),
        car_seats=car_seats,
        car_wheelchair=car_wheelchair,
        shelter_loc=shelter_loc,
        shelter_capacity=np.array([s.capacity for s in shelters], dtype=np.int64),
        shelter_accessible=np.array([s.wheelchair_accessible for s in shelters], dtype=bool),
        people=np.array([r.people for r in requests], dtype=np.int64),
        pets=pets,
        alone=np.array([h.has(Need.CANNOT_SHARE) for h in households], dtype=bool),
        target=np.array([h.ready_from_minute + problem.rules.pickup_target(h.priority) for h in households],
                        dtype=np.float64),
        car_takes_pets=car_takes_pets,
        car_fits=car_fits,
        shelter_pet_room=np.array([s.pet_room for s in shelters], dtype=np.float64),
        shelter_medical=np.array([s.medical_support for s in shelters], dtype=bool),
        shelter_takes=takes,
        speaks=_language_matrix(problem, households),
        pickup_minutes=problem.service.pickup,
        dropoff_minutes=problem.service.dropoff,
        deadline=problem.deadline,
    )
