"""Lower bounds on the clearance: no plan that serves every household triage lets through clears earlier.

Three relaxations, the largest wins:

* **single trip**: the latest of the households' fastest single trips (a car that fits, from its start);
* **fleet work**: all the work spread evenly over all cars. Every household costs its pickup service and
  at least its cheapest way in (from any place); every trip costs a drop-off and a drive to a shelter at
  least as long as its last rider's shortest ride (there are at least people / car size trips, with distinct
  last riders);
* **wheelchair fleet**: the same over wheelchair users and the cars with wheelchair spaces only, where a
  car with one wheelchair space comes to each wheelchair home from a shelter or its start. They are the
  scarce capacity: on many instances the few wheelchair cars, not the whole fleet, set the clearance.

A car's work ends with the unloading of its last drop-off, which the clearance does not include: each
work bound takes one drop-off off, and starts at the earliest start of its cars. Minutes after the alert
start. The bounds hold for plans that serve every household given; a plan that leaves some unserved
may clear earlier.

**Tables that hold only some drives** (a regional one, ``matcher.travel_bounded``): a drive the table did not
compute reads ``inf``, and a minimum over a set whose true minimum was not computed would come out too large,
so the bound too large: not a bound. ``floors`` (given by the table's owner) replaces every drive the table
lacks by a lower bound on it (e.g. how far the search from its origin looked), so every minimum the bound
takes is at most the true one; where the computed drives are below the floors, the minimum is exact anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from matcher.solver.instance import Instance


@dataclass(frozen=True)
class ClearanceBound:
    """The bound and the relaxation that gave it (``single trip``, ``fleet work`` or ``wheelchair fleet``)."""

    minute: float
    kind: str


#: Rows or requests per block where a bound reads a whole row or column of the table (512 x 12,040 x 8 bytes: 49 MB).
BLOCK = 512


class Floors(Protocol):
    """Lower bounds for the drives a table lacks: ``block`` is ``T[rows, columns]``; returns it with every such
    ``inf`` replaced by a lower bound on that drive (``inf`` where it is known unreachable)."""

    def __call__(self, rows: np.ndarray, columns: np.ndarray, block: np.ndarray) -> np.ndarray: ...


def _block(inst: Instance, rows: np.ndarray, columns: np.ndarray, floors: Floors | None) -> np.ndarray:
    """``T[rows, columns]`` in ``float64``, a drive the table lacks read as its lower bound."""
    out = np.array(inst.T[np.ix_(rows, columns)], dtype=np.float64)
    return out if floors is None else floors(rows, columns, out)


def _min_in(inst: Instance, requests: np.ndarray, floors: Floors | None = None) -> np.ndarray:
    """Per request: the quickest drive into its home from any other place (0 when another place shares it)."""
    homes = inst.home[requests]
    out = np.full(len(homes), np.inf)
    # By blocks of rows (contiguous in the table): a regional table has 12,040 rows, too many for one block.
    for start in range(0, inst.T.shape[0], BLOCK):
        rows = np.arange(start, min(start + BLOCK, inst.T.shape[0]))
        into = np.array(inst.T[start : start + len(rows)], dtype=np.float64)[:, homes]  # contiguous rows
        if floors is not None:
            into = floors(rows, homes, into)
        mine = (homes >= start) & (homes < start + len(rows))
        into[homes[mine] - start, np.flatnonzero(mine)] = np.inf  # not from itself ...
        out = np.minimum(out, into.min(axis=0))
    shared = np.bincount(inst.home, minlength=inst.T.shape[0])[homes] > 1
    out[shared] = 0.0  # ... unless another request waits at the same place: the car is already there
    return np.where(np.isfinite(out), out, 0.0)


def _min_ride(inst: Instance, requests: np.ndarray, floors: Floors | None = None) -> np.ndarray:
    """Per request: the shortest drive from its home to a shelter it may use (access, pets, medical support)."""
    ride = _block(inst, inst.home[requests], inst.shelter_loc, floors)
    ride[~inst.shelter_takes[requests]] = np.inf
    out = ride.min(axis=1)
    return np.where(np.isfinite(out), out, 0.0)


def _wheel_approach(inst: Instance, requests: np.ndarray, cars: np.ndarray,
                    floors: Floors | None = None) -> tuple[np.ndarray, float]:
    """Per wheelchair request, the quickest way in from where a wheelchair car can come from after its first
    wheelchair pickup; and a bound on what the cars' first wheelchair pickups can save on that.

    Between two wheelchair pickups a car with one wheelchair space unloads the first wheelchair user at a
    shelter that takes wheelchair users, so (shortest times obey the triangle inequality) it comes from such a
    shelter, whatever seated households it collects on the way; with more spaces also from another wheelchair
    home. Only a car's first wheelchair pickup may come from elsewhere: it takes at least the drive from the car's
    start, whatever the car did before. At most one request per car saves the difference, which is bounded both
    per car and by the largest savings over distinct requests.
    """
    homes = inst.home[requests]
    accessible = inst.shelter_takes[requests].any(axis=0)
    sources = [inst.shelter_loc[accessible]]
    several = int(inst.car_wheelchair[cars].max()) > 1
    if several:
        sources.append(homes)
    into = _block(inst, np.concatenate(sources), homes, floors)
    if several:
        into[len(into) - len(homes) + np.arange(len(homes)), np.arange(len(homes))] = np.inf
    # A car's first wheelchair pickup: from its start, whatever it did before (seated trips included).
    first = _block(inst, inst.car_start[cars], homes, floors)  # (cars, requests)
    first = np.where(np.isfinite(first), first, 0.0)
    later = into.min(axis=0, initial=np.inf)
    later = np.where(np.isfinite(later), later, first.min(axis=0, initial=np.inf))
    later = np.where(np.isfinite(later), later, 0.0)
    gain = np.maximum(later[None, :] - first, 0.0)
    per_car = float(gain.max(axis=1, initial=0.0).sum())
    largest = float(np.sort(gain.max(axis=0, initial=0.0))[::-1][: len(cars)].sum())
    return later, min(per_car, largest)


def _fleet(inst: Instance, requests: np.ndarray, cars: np.ndarray, load: np.ndarray, capacity: int,
           approach: tuple[np.ndarray, float] | None = None, floors: Floors | None = None) -> float:
    """Work of ``requests`` spread over ``cars``, less the last unloading; ``-inf`` when there is none.

    ``load[r]`` is what request r takes of a car that holds at most ``capacity`` (people, or wheelchair users
    for the wheelchair fleet). A trip that picks up h1 ... hk drives into each home (``into``: at least the
    quickest drive into it from anywhere) and then from hk to its shelter: at least hk's shortest ride. Only
    the last rider's ride counts: h1's own shortest ride runs through h2 ... hk, whose drives in are counted
    already (counting every rider's share of a ride, as this did before, counted those stretches twice and could
    exceed a real plan: a car at h1, h1 -10- h2 -20- shelter, bound 35 against 30). So the rides are at least
    the smallest rides of as many distinct requests as there must be trips, each trip with one unloading.
    """
    if not len(requests) or not len(cars):
        return float("-inf")
    into, saved = (_min_in(inst, requests, floors), 0.0) if approach is None else approach
    ride = _min_ride(inst, requests, floors)
    trips = min(int(np.ceil(float(np.sum(load)) / max(1, capacity))), len(requests))
    rides = float(np.sum(np.sort(ride)[:trips]))
    work = float(np.sum(inst.pickup_minutes + into)) + rides + trips * inst.dropoff_minutes - saved
    # The busiest car does at least the average; an idle car's start time says nothing, so take the earliest.
    return float(inst.car_from[cars].min()) + work / len(cars) - inst.dropoff_minutes


def _single_trip(inst: Instance, open_: np.ndarray, floors: Floors | None = None) -> float:
    """The latest of the fastest single trips: a fitting car from its start, to the nearest shelter allowed."""
    reach = np.empty(len(open_))
    for start in range(0, len(open_), BLOCK):
        part = open_[start : start + BLOCK]
        drive = inst.car_from[:, None] + _block(inst, inst.car_start, inst.home[part], floors)
        fits = (inst.car_seats[:, None] >= inst.seated[part]) & (inst.car_wheelchair[:, None] >= inst.wheelchair[part])
        reach[start : start + BLOCK] = np.where(fits, drive, np.inf).min(axis=0, initial=np.inf)
    start = np.maximum(reach, inst.ready[open_]) + inst.pickup_minutes
    trips = start + _min_ride(inst, open_, floors)
    return float(trips[np.isfinite(trips)].max(initial=0.0))


def clearance_bound(inst: Instance, shelter: np.ndarray, floors: Floors | None = None) -> ClearanceBound:
    """The strongest of the relaxations for the requests with a shelter (``shelter[r] >= 0``).

    Only which requests are served matters, not which shelter each got: the bound holds for any plan
    (ours or a peer's) that serves them all. ``floors``: for a table that holds only some drives, lower bounds
    for those it lacks (see the module doc); ``None``: every drive is in the table.
    """
    open_ = np.flatnonzero(shelter >= 0)
    if open_.size == 0 or inst.n_cars == 0:
        return ClearanceBound(0.0, "single trip")
    capacity = int((inst.car_seats + inst.car_wheelchair).max())
    people = (inst.seated + inst.wheelchair)[open_]
    wheel = open_[inst.wheelchair[open_] > 0]
    wheel_cars = np.flatnonzero(inst.car_wheelchair > 0)
    spaces = int(inst.car_wheelchair.max())
    candidates = [
        ClearanceBound(_single_trip(inst, open_, floors), "single trip"),
        ClearanceBound(_fleet(inst, open_, np.arange(inst.n_cars), people, capacity, floors=floors),
                       "fleet work"),
        ClearanceBound(_fleet(inst, wheel, wheel_cars, inst.wheelchair[wheel], spaces,
                              _wheel_approach(inst, wheel, wheel_cars, floors) if len(wheel_cars) else None,
                              floors),
                       "wheelchair fleet"),
    ]
    return max(candidates, key=lambda b: b.minute)
