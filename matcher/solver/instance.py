"""The solver's compact, array-based view of a problem (indices stay inside the solver package)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.problem import Problem
from matcher.requests import Request, requests_for

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Instance:
    """Arrays over requests (r), cars (c) and shelters (s); ``T`` are travel minutes between matrix places.

    ``home[r]``, ``car_start[c]`` and ``shelter_loc[s]`` index into ``T``. ``max_ride[r, s]`` is the
    longest ride allowed to shelter s. Everything is in minutes.
    """

    problem: Problem
    requests: tuple[Request, ...]
    T: FloatArray
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
        seats_ok = self.car_seats[car] >= self.seated[request]
        return bool(seats_ok and self.car_wheelchair[car] >= self.wheelchair[request])


def build_instance(problem: Problem) -> Instance:
    """Index the problem: split households into requests and gather every figure into arrays."""
    travel = problem.travel
    requests = tuple(requests_for(problem.households, problem.drivers))
    households = [problem.household(r.household_id) for r in requests]
    shelters = problem.shelters
    home = np.array([travel.index("household", h.id) for h in households], dtype=np.int64)
    shelter_loc = np.array([travel.index("shelter", s.id) for s in shelters], dtype=np.int64)
    max_ride = np.empty((len(requests), len(shelters)))
    for i, h in enumerate(households):
        for j, s in enumerate(shelters):
            max_ride[i, j] = problem.max_ride_minutes(h, s.id)
    drivers = problem.drivers
    return Instance(
        problem=problem,
        requests=requests,
        T=np.asarray(travel.minutes, dtype=np.float64),
        home=home,
        seated=np.array([r.seated for r in requests], dtype=np.int64),
        wheelchair=np.array([r.wheelchair_users for r in requests], dtype=np.int64),
        ready=np.array([h.ready_from_minute for h in households], dtype=np.float64),
        priority=np.array([h.priority for h in households], dtype=np.int64),
        max_ride=max_ride,
        car_start=np.array([travel.index("driver", d.id) for d in drivers], dtype=np.int64),
        car_from=np.array([d.available_from_minute for d in drivers], dtype=np.float64),
        car_end=np.array([problem.latest_arrival(d) for d in drivers], dtype=np.float64),
        car_seats=np.array([d.seats for d in drivers], dtype=np.int64),
        car_wheelchair=np.array([d.wheelchair_spaces for d in drivers], dtype=np.int64),
        shelter_loc=shelter_loc,
        shelter_capacity=np.array([s.capacity for s in shelters], dtype=np.int64),
        shelter_accessible=np.array([s.wheelchair_accessible for s in shelters], dtype=bool),
        pickup_minutes=problem.service.pickup,
        dropoff_minutes=problem.service.dropoff,
        deadline=problem.deadline,
    )
