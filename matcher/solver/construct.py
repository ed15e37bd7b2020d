"""Fast first plans: cars take pooled trips as they come free, under a bound on the finishing time.

Bisection on that bound balances the cars' finishing times, which is what brings the clearance
down; a global span cost in OR-Tools does not (see shared/SOLVER-NOTES.md).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from matcher.solver.instance import Instance

#: See ``targets_key``.
TargetsKey = tuple[float, ...]


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
    #: Figures worked out once per solution (the trips are not changed after construction).
    memo: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    targets: TargetsKey | None = field(default=None, repr=False, compare=False)

    @property
    def clearance(self) -> float:
        used = [c for c, t in enumerate(self.trips) if t]
        return float(max((self.finish[c] for c in used), default=0.0))

    def served_weight(self, inst: Instance) -> float:
        return float(priority_weight(inst)[self.assigned].sum())

    def targets_key(self, inst: Instance) -> TargetsKey:
        """How well the pickup targets are kept (``targets_key``; larger is better), computed once."""
        if self.targets is None:
            self.targets = targets_key(inst, self.trips)
        return self.targets

    def language_matches(self, inst: Instance) -> int:
        """Requests whose driver speaks their household's language (computed once)."""
        if "language" not in self.memo:
            self.memo["language"] = sum(int(inst.speaks[c, r]) for c, trips in enumerate(self.trips)
                                        for t in trips for r in t.pickups)
        return int(self.memo["language"])


#: Minutes of approach a car gives up to seed a trip with a household whose language its driver speaks:
#: small, so language only decides between trips that are about as good.
LANGUAGE_BONUS_MINUTES = 2.0


def pickup_minutes(inst: Instance, car: int, trips: list[Trip]) -> list[tuple[int, float]]:
    """``(request, minute its boarding starts)`` for each pickup of a car's trips, in driving order."""
    t_at, home, ready = inst.T.item, inst.home.item, inst.ready.item
    at, clock = inst.car_start.item(car), inst.car_from.item(car)
    out: list[tuple[int, float]] = []
    for trip in trips:
        for r in trip.pickups:
            h = home(r)
            start = max(clock + t_at(at, h), ready(r))
            out.append((r, float(start)))
            clock, at = start + inst.pickup_minutes, h
        dest = inst.shelter_loc.item(trip.shelter)
        clock += t_at(at, dest) + inst.dropoff_minutes
        at = dest
    return out


def pickup_times(inst: Instance, trips: list[list[Trip]]) -> np.ndarray:
    """Per request: the minute its boarding starts (NaN when unassigned)."""
    at = np.full(inst.n_requests, np.nan)
    for car, car_trips in enumerate(trips):
        for r, minute in pickup_minutes(inst, car, car_trips):
            at[r] = minute
    return at


def targets_met(inst: Instance, trips: list[list[Trip]]) -> np.ndarray:
    """Per request: picked up by its target minute (False when unassigned or without a target)."""
    return pickup_times(inst, trips) <= inst.target + 1e-6


def targets_key(inst: Instance, trips: list[list[Trip]]) -> TargetsKey:
    """The pickup-target level of the objective as a tuple compared lexicographically (larger is better).

    Per priority that has a target, most urgent first: targets met, then minus the latest lateness beyond the
    target, then minus the total lateness (minutes, rounded to a second so that summing order does not decide).
    Everything about a priority-1 household ranks above anything about priority 2, as in ``priority_weight``;
    and a target that cannot be met still pulls its household early instead of counting as one flat miss (a
    missed priority-1 target otherwise weighs nothing against a priority-2 target kept, and drifts late).
    """
    at = pickup_times(inst, trips)
    served = ~np.isnan(at)
    # Lateness only where there is a target; a pickup behind a drive the table lacks (``inf``, a regional table)
    # stays ``inf``: the worst, as meant. (``nan_to_num`` made it 1.8e308, and summing two of those printed numpy's
    # "overflow encountered in reduce" in `evac plan`.)
    late = np.zeros(inst.n_requests)
    timed = served & np.isfinite(inst.target)
    late[timed] = np.maximum(at[timed] - inst.target[timed], 0.0)
    key: list[float] = []
    for p in np.unique(inst.priority[np.isfinite(inst.target)]):
        mine = served & (inst.priority == p) & np.isfinite(inst.target)
        key += [float((late[mine] <= 1e-6).sum()), -round(float(late[mine].max(initial=0.0)), 2),
                -round(float(late[mine].sum()), 2)]
    return tuple(key)


def priority_weight(inst: Instance) -> np.ndarray:
    """Weight of leaving a request unserved: a priority-1 household outweighs any number of priority-2 ones.

    Per person would favour large households over urgent ones; the weight grows steeply by priority class.
    """
    levels = inst.priority.max(initial=1)
    n = max(inst.n_requests, 1)
    return np.power(float(n + 1), (levels - inst.priority).astype(np.float64)) * inst.n_requests


def drive_car(inst: Instance, car: int, trips: list[Trip]) -> tuple[float, bool]:
    """Finish minute of a car's trips and whether every rule (window, deadline, ride time) holds.

    Figures are read one at a time as Python numbers (``item``): the same doubles added in the same order as
    numpy's scalars, several times faster; the searches call this tens of thousands of times.
    """
    t_at, home, ready, ride = inst.T.item, inst.home.item, inst.ready.item, inst.max_ride.item
    at = inst.car_start.item(car)
    clock = inst.car_from.item(car)
    limit = inst.car_end.item(car)
    pickup, dropoff = inst.pickup_minutes, inst.dropoff_minutes
    ok = True
    finish = clock
    on_board: dict[int, float] = {}
    for trip in trips:
        for r in trip.pickups:
            h = home(r)
            clock = max(clock + t_at(at, h), ready(r)) + pickup
            at = h
            on_board[r] = clock
        dest = inst.shelter_loc.item(trip.shelter)
        arrive = clock + t_at(at, dest)
        for r in list(on_board) if trip.unload is None else trip.unload:
            if arrive - on_board.pop(r) > ride(r, trip.shelter) + 1e-6:
                ok = False
        if arrive > limit + 1e-6:
            ok = False
        finish = arrive
        clock = arrive + dropoff
        at = dest
    return finish, ok and not on_board


def trips_keep_rules(inst: Instance, car: int, trips: list[Trip]) -> bool:
    """The needs rules of a car's trips: each rider fits the car (seats, pets) and its shelter, and a
    ``cannot_share`` household rides with nobody else (checked on board, carry-overs included)."""
    on_board: set[int] = set()
    for trip in trips:
        for r in trip.pickups:
            if not inst.car_fits[car, r]:
                return False
            on_board.add(r)
            if len(on_board) > 1 and inst.alone[list(on_board)].any():
                return False
        unload = on_board.copy() if trip.unload is None else set(trip.unload)
        if not all(inst.shelter_takes[r, trip.shelter] for r in unload):
            return False
        on_board -= unload
    return True


@dataclass
class _Build:
    """The state of one construction pass: per-request arrays fixed for the pass, and what is assigned so far."""

    inst: Instance
    shelter: np.ndarray
    open_: np.ndarray  # request has a shelter
    direct: np.ndarray  # home -> own shelter, minutes
    ride_limit: np.ndarray  # longest ride to its own shelter
    rideable: np.ndarray  # the direct ride is within the limit
    assigned: np.ndarray

    @classmethod
    def start(cls, inst: Instance, shelter: np.ndarray) -> _Build:
        n_r = inst.n_requests
        own = np.maximum(shelter, 0)
        direct = inst.T[inst.home, inst.shelter_loc[own]]
        ride_limit = inst.max_ride[np.arange(n_r), own]
        return cls(inst, shelter, shelter >= 0, direct, ride_limit, direct <= ride_limit + 1e-9,
                   np.zeros(n_r, dtype=bool))

    def open_requests(self) -> np.ndarray:
        return self.open_ & self.rideable & ~self.assigned


@dataclass
class _Seed:
    """The first household of a trip: the request, when it leaves its home, when the trip would end."""

    request: int
    depart: float
    finish: float
    scarce: bool  # a wheelchair car serving wheelchair users: seated riders do not join


def _kept_trips(inst: Instance, b: _Build, trips: list[list[Trip]], finish: np.ndarray) -> list[tuple[float, int, int]]:
    """The heap of (free at, car, place): kept trips (a re-plan repairs around them) come first."""
    heap = []
    for c in range(inst.n_cars):
        # The car goes on from its last shelter once it has unloaded there.
        at, clock = int(inst.car_start[c]), float(inst.car_from[c])
        if trips[c]:
            finish[c], _ = drive_car(inst, c, trips[c])
            at, clock = int(inst.shelter_loc[trips[c][-1].shelter]), float(finish[c]) + inst.dropoff_minutes
            for t in trips[c]:
                b.assigned[list(t.pickups)] = True
        heap.append((clock, c, at))
    heapq.heapify(heap)
    return heap


def _most_urgent(inst: Instance, cand: np.ndarray, dep: np.ndarray) -> np.ndarray | None:
    """Which candidates may seed the trip when some have a pickup target (``None``: no target among them).

    The most urgent priority with a target comes first (``targets_key`` ranks all of priority 1 above priority
    2); within it, those who can still be picked up by their target, and when none can, those already late,
    earliest target first: a missed target keeps its household's rank instead of dropping it behind everyone.
    """
    targeted = np.isfinite(inst.target[cand])
    if not targeted.any():
        return None
    top = inst.priority[cand][targeted].min()
    mine = targeted & (inst.priority[cand] == top)
    meet = mine & (dep - inst.pickup_minutes <= inst.target[cand] + 1e-9)
    if meet.any():
        return meet
    # Earliest target first (the longest wait) keeps the latest lateness low, as on one machine.
    return mine & (inst.target[cand] <= inst.target[cand][mine].min() + 1e-9)


def _pick_seed(b: _Build, car: int, clock: float, at: int, limit: float, far_weight: float,
               by_priority: bool) -> _Seed | None:
    """The request a free car starts a trip with, or ``None`` when it can take nobody by ``limit``.

    Households with a pickup target come first, most urgent first (``_most_urgent``): targets rank above
    clearance in the objective.
    """
    inst = b.inst
    wheel = int(inst.car_wheelchair[car])
    cand = np.flatnonzero(b.open_requests() & inst.car_fits[car])
    if cand.size == 0:
        return None
    approach = inst.T[at, inst.home[cand]]
    dep = np.maximum(clock + approach, inst.ready[cand]) + inst.pickup_minutes
    fin = dep + b.direct[cand]
    feasible = fin <= limit + 1e-9
    if not feasible.any():
        return None
    cand, dep, fin = cand[feasible], dep[feasible], fin[feasible]
    keep = _most_urgent(inst, cand, dep)
    if keep is not None:
        cand, dep, fin = cand[keep], dep[keep], fin[keep]
    scarce = False
    if wheel:
        needs = inst.wheelchair[cand] > 0
        if needs.any():
            cand, dep, fin = cand[needs], dep[needs], fin[needs]
            # While wheelchair users wait, a wheelchair car's time is the scarce resource:
            # a detour for seated riders that ordinary cars can take would only delay them.
            scarce = True
    score = (dep - clock) - far_weight * b.direct[cand] - LANGUAGE_BONUS_MINUTES * inst.speaks[car, cand]
    if by_priority:
        score = score + 1e6 * inst.priority[cand].astype(np.float64)
    k = int(np.argmin(score))
    return _Seed(int(cand[k]), float(dep[k]), float(fin[k]), scarce)


def _pool(b: _Build, car: int, seed: _Seed, limit: float) -> tuple[list[int], float]:
    """Add the nearest households bound for the seed's shelter while that beats a separate trip.

    Every rider's ride time must hold and the trip must finish by ``limit``. Returns the pickups and
    the trip's finish.
    """
    inst = b.inst
    s = int(b.shelter[seed.request])
    pickups = [seed.request]
    b.assigned[seed.request] = True
    last, last_dep, trip_fin = inst.home[seed.request], seed.depart, seed.finish
    seats_left = int(inst.car_seats[car]) - int(inst.seated[seed.request])
    wheel_left = int(inst.car_wheelchair[car]) - int(inst.wheelchair[seed.request])
    latest = last_dep + b.ride_limit[seed.request]  # the trip must reach the shelter by every rider's limit
    dest = inst.shelter_loc[s]
    if inst.alone[seed.request]:  # cannot_share: this trip carries no other household
        seats_left = wheel_left = 0
    while seats_left > 0 or wheel_left > 0:
        pool = np.flatnonzero(
            (b.shelter == s) & ~b.assigned & b.rideable & ~inst.alone
            & (inst.seated <= seats_left) & (inst.wheelchair <= wheel_left)
            & (inst.car_takes_pets[car] | (inst.pets == 0))
            & ((inst.wheelchair > 0) | (not seed.scarce))
        )
        if pool.size == 0:
            break
        q_dep = np.maximum(last_dep + inst.T[last, inst.home[pool]], inst.ready[pool]) + inst.pickup_minutes
        q_fin = q_dep + b.direct[pool]
        added = q_fin - trip_fin
        alone = inst.T[dest, inst.home[pool]] + b.direct[pool] + inst.pickup_minutes + inst.dropoff_minutes
        with np.errstate(invalid="ignore"):  # behind a drive the table lacks, inf - inf: nan compares false, as meant
            ride_ok = q_fin - q_dep <= b.ride_limit[pool] + 1e-9
        ok = (q_fin <= min(limit, latest) + 1e-9) & (added < alone) & ride_ok
        if not ok.any():
            break
        j = int(np.argmin(np.where(ok, added, np.inf)))
        q = int(pool[j])
        pickups.append(q)
        b.assigned[q] = True
        last, last_dep, trip_fin = inst.home[q], float(q_dep[j]), float(q_fin[j])
        latest = min(latest, last_dep + b.ride_limit[q])
        seats_left -= int(inst.seated[q])
        wheel_left -= int(inst.wheelchair[q])
    return pickups, trip_fin


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
    trips: list[list[Trip]] = [list(t) for t in keep] if keep else [[] for _ in range(inst.n_cars)]
    if not (shelter >= 0).any():
        return Solution(trips, inst.car_from.copy(), np.zeros(inst.n_requests, dtype=bool))
    b = _Build.start(inst, shelter)
    finish = inst.car_from.copy()
    heap = _kept_trips(inst, b, trips, finish)
    remaining = int(b.open_requests().sum())
    while heap and remaining:
        clock, car, at = heapq.heappop(heap)
        limit = min(bound, float(inst.car_end[car]))
        seed = _pick_seed(b, car, clock, at, limit, far_weight, by_priority)
        if seed is None:
            continue
        pickups, trip_fin = _pool(b, car, seed, limit)
        s = int(shelter[seed.request])
        trips[car].append(Trip(tuple(pickups), s))
        remaining -= len(pickups)
        finish[car] = trip_fin
        heapq.heappush(heap, (trip_fin + inst.dropoff_minutes, car, int(inst.shelter_loc[s])))
    _keep_households_whole(inst, trips, b.assigned)
    return Solution(trips, finish, b.assigned)


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
    fits = inst.car_fits[:, open_]
    reach = np.where(fits, reach, np.inf).min(axis=0)
    start = np.maximum(reach, inst.ready[open_]) + inst.pickup_minutes
    return float((start + T[inst.home[open_], inst.shelter_loc[shelter[open_]]]).max())
