"""Fast first plans: cars take pooled trips as they come free, under a bound on the finishing time.

Bisection on that bound balances the cars' finishing times, which is what brings the clearance
down; a global span cost in OR-Tools does not (see shared/SOLVER-NOTES.md).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from matcher.solver.instance import Instance


@dataclass(frozen=True)
class Trip:
    """Pick up ``pickups`` in order, then drive to shelter index ``shelter`` and unload.

    ``unload`` lists who gets off there; ``None`` means everyone on board (the usual pooled trip).
    A trip with no pickups only carries riders on from the previous trip's shelter.
    """

    pickups: tuple[int, ...]
    shelter: int
    unload: tuple[int, ...] | None = None

    @property
    def unloads(self) -> tuple[int, ...]:
        """Who gets off, when ``unload`` is None: this trip's own pickups (callers track carry-overs)."""
        return self.pickups if self.unload is None else self.unload


@dataclass
class Solution:
    """Trips per car, in driving order; requests in no trip are unassigned."""

    trips: list[list[Trip]]
    finish: np.ndarray  # minute each car's last drop-off arrives (car_from when it drives nothing)
    assigned: np.ndarray = field(repr=False)  # bool per request

    @property
    def clearance(self) -> float:
        used = [c for c, t in enumerate(self.trips) if t]
        return float(max((self.finish[c] for c in used), default=0.0))

    def served_weight(self, inst: Instance) -> float:
        return float(priority_weight(inst)[self.assigned].sum())


def priority_weight(inst: Instance) -> np.ndarray:
    """Weight of leaving a request unserved: a priority-1 household outweighs any number of priority-2 ones.

    Per person would favour large households over urgent ones; the weight grows steeply by priority class.
    """
    levels = inst.priority.max(initial=1)
    n = max(inst.n_requests, 1)
    return np.power(float(n + 1), (levels - inst.priority).astype(np.float64)) * inst.n_requests


def drive_car(inst: Instance, car: int, trips: list[Trip]) -> tuple[float, bool]:
    """Finish minute of a car's trips and whether every rule (window, deadline, ride time) holds."""
    T = inst.T
    at = inst.car_start[car]
    clock = inst.car_from[car]
    limit = inst.car_end[car]
    ok = True
    finish = clock
    on_board: dict[int, float] = {}
    for trip in trips:
        for r in trip.pickups:
            clock = max(clock + T[at, inst.home[r]], inst.ready[r]) + inst.pickup_minutes
            at = inst.home[r]
            on_board[r] = clock
        dest = inst.shelter_loc[trip.shelter]
        arrive = clock + T[at, dest]
        for r in list(on_board) if trip.unload is None else trip.unload:
            if arrive - on_board.pop(r) > inst.max_ride[r, trip.shelter] + 1e-6:
                ok = False
        if arrive > limit + 1e-6:
            ok = False
        finish = arrive
        clock = arrive + inst.dropoff_minutes
        at = dest
    return finish, ok and not on_board


def construct(
    inst: Instance,
    shelter: np.ndarray,
    bound: float,
    *,
    far_weight: float = 1.0,
    by_priority: bool = False,
    keep: list[list[Trip]] | None = None,
) -> Solution:
    """One pass: the earliest-free car takes the best trip that finishes by ``bound``.

    The seed of a trip minimises ``approach - far_weight * (home to shelter)``, so cars spend their
    early time on households far from their shelter and the tail is made of short trips. Then the
    trip pools the nearest households bound for the same shelter while seats allow, as long as that
    is quicker than a separate trip from the shelter and every rider's ride time holds. Cars with
    wheelchair spaces take wheelchair users first: they are the scarce capacity. ``keep`` gives
    trips per car that stay as they are (a re-plan); new trips are added after them.
    """
    T = inst.T
    n_r = inst.n_requests
    open_ = shelter >= 0
    assigned = np.zeros(n_r, dtype=bool)
    if not open_.any():
        return Solution([list(t) for t in keep] if keep else [[] for _ in range(inst.n_cars)],
                        inst.car_from.copy(), assigned)
    home = inst.home
    sloc = inst.shelter_loc[np.maximum(shelter, 0)]
    direct = T[home, sloc]  # home -> own shelter
    ride_limit = inst.max_ride[np.arange(n_r), np.maximum(shelter, 0)]
    rideable = direct <= ride_limit + 1e-9
    weight = inst.priority.astype(np.float64)
    trips: list[list[Trip]] = [list(t) for t in keep] if keep else [[] for _ in range(inst.n_cars)]
    finish = inst.car_from.copy()
    heap = []
    for c in range(inst.n_cars):
        # Kept trips (a re-plan repairs around them) come first; the car goes on from its last shelter.
        at, clock = int(inst.car_start[c]), float(inst.car_from[c])
        if trips[c]:
            finish[c], _ = drive_car(inst, c, trips[c])
            at, clock = int(inst.shelter_loc[trips[c][-1].shelter]), float(finish[c]) + inst.dropoff_minutes
            for t in trips[c]:
                assigned[list(t.pickups)] = True
        heap.append((clock, c, at))
    heapq.heapify(heap)
    remaining = int((open_ & rideable & ~assigned).sum())
    while heap and remaining:
        clock, car, at = heapq.heappop(heap)
        limit = min(bound, float(inst.car_end[car]))
        seats, wheel = int(inst.car_seats[car]), int(inst.car_wheelchair[car])
        cand = np.flatnonzero(open_ & rideable & ~assigned & (inst.seated <= seats) & (inst.wheelchair <= wheel))
        if cand.size == 0:
            continue
        approach = T[at, home[cand]]
        dep = np.maximum(clock + approach, inst.ready[cand]) + inst.pickup_minutes
        fin = dep + direct[cand]
        feasible = fin <= limit + 1e-9
        if not feasible.any():
            continue
        cand, approach, dep, fin = cand[feasible], approach[feasible], dep[feasible], fin[feasible]
        scarce = False
        if wheel:
            needs = inst.wheelchair[cand] > 0
            if needs.any():
                cand, approach, dep, fin = cand[needs], approach[needs], dep[needs], fin[needs]
                # While wheelchair users wait, a wheelchair car's time is the scarce resource:
                # a detour for seated riders that ordinary cars can take would only delay them.
                scarce = True
        score = (dep - clock) - far_weight * direct[cand]
        if by_priority:
            score = score + 1e6 * weight[cand]
        k = int(np.argmin(score))
        seed = int(cand[k])
        s = int(shelter[seed])
        pickups = [seed]
        assigned[seed] = True
        last, last_dep, trip_fin = home[seed], float(dep[k]), float(fin[k])
        seats_left = seats - int(inst.seated[seed])
        wheel_left = wheel - int(inst.wheelchair[seed])
        latest = last_dep + ride_limit[seed]  # the trip must reach the shelter by every rider's limit
        dest = inst.shelter_loc[s]
        while seats_left > 0 or wheel_left > 0:
            pool = np.flatnonzero(
                (shelter == s) & ~assigned & rideable
                & (inst.seated <= seats_left) & (inst.wheelchair <= wheel_left)
                & ((inst.wheelchair > 0) | (not scarce))
            )
            if pool.size == 0:
                break
            q_dep = np.maximum(last_dep + T[last, home[pool]], inst.ready[pool]) + inst.pickup_minutes
            q_fin = q_dep + direct[pool]
            added = q_fin - trip_fin
            alone = T[dest, home[pool]] + direct[pool] + inst.pickup_minutes + inst.dropoff_minutes
            ok = (q_fin <= min(limit, latest) + 1e-9) & (added < alone) & (q_fin - q_dep <= ride_limit[pool] + 1e-9)
            if not ok.any():
                break
            j = int(np.argmin(np.where(ok, added, np.inf)))
            q = int(pool[j])
            pickups.append(q)
            assigned[q] = True
            last, last_dep, trip_fin = home[q], float(q_dep[j]), float(q_fin[j])
            latest = min(latest, last_dep + ride_limit[q])
            seats_left -= int(inst.seated[q])
            wheel_left -= int(inst.wheelchair[q])
        trips[car].append(Trip(tuple(pickups), s))
        remaining -= len(pickups)
        finish[car] = trip_fin
        heapq.heappush(heap, (trip_fin + inst.dropoff_minutes, car, int(dest)))
    _keep_households_whole(inst, trips, assigned)
    return Solution(trips, finish, assigned)


def _keep_households_whole(inst: Instance, trips: list[list[Trip]], assigned: np.ndarray) -> None:
    """A split household is served whole or not at all: drop the parts of a half-served one."""
    parts: dict[str, list[int]] = {}
    for r, req in enumerate(inst.requests):
        if req.parts > 1:
            parts.setdefault(req.household_id, []).append(r)
    drop = {r for rs in parts.values() if assigned[rs].any() and not assigned[rs].all() for r in rs}
    if not drop:
        return
    for car, car_trips in enumerate(trips):
        kept = [Trip(tuple(r for r in t.pickups if r not in drop), t.shelter) for t in car_trips]
        trips[car] = [t for t in kept if t.pickups]
    assigned[list(drop)] = False


def lower_bound(inst: Instance, shelter: np.ndarray) -> float:
    """No plan clears before the latest of the households' fastest single trips."""
    open_ = np.flatnonzero(shelter >= 0)
    if open_.size == 0:
        return 0.0
    T = inst.T
    reach = inst.car_from[:, None] + T[np.ix_(inst.car_start, inst.home[open_])]
    fits = (inst.car_seats[:, None] >= inst.seated[open_]) & (inst.car_wheelchair[:, None] >= inst.wheelchair[open_])
    reach = np.where(fits, reach, np.inf).min(axis=0)
    start = np.maximum(reach, inst.ready[open_]) + inst.pickup_minutes
    return float((start + T[inst.home[open_], inst.shelter_loc[shelter[open_]]]).max())
