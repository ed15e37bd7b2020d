"""Ruin and recreate around the cars that finish last: an iterated local search in plain Python.

OR-Tools (``improve.py``) re-routes a group of cars to a local optimum of its latest finish; on small fleets
(the bus-evacuation instances) the group is the whole fleet and comes back to the same optimum every round,
and on the random towns the clearance is set by the few cars with a wheelchair space. This search works on
the trips themselves: it takes households off the car that finishes last and off cars related to it (near
its households, or the wheelchair fleet when that car carries wheelchair users), puts each back where the car
that takes it finishes earliest (a new trip at any place in a car's day, to any shelter it may use with room
left, or joining a trip that already goes to a shelter it may use), and keeps the result when the finishing
times of the cars it touched improve (the latest first, then the next latest, ...). When a number of
attempts in a row bring nothing, the current plan is perturbed: a ruin is kept even when it is a little
worse, and the best plan seen is what comes back.

Every step is counted (candidate places looked at, cars re-driven), not timed: the same seed and budget
give the same plan on any machine. Cars whose trips carry riders across shelters (OR-Tools can build those)
are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from matcher.solver.construct import (
    Solution,
    Trip,
    drive_car,
    pickup_minutes,
    pickup_times,
    targets_key,
    trips_keep_rules,
)
from matcher.solver.instance import Instance

#: Cars in one ruin: the latest car and the cars related to it.
NEIGHBOURHOOD_CARS = 10
#: Most households taken off the latest car in one ruin, and off each related car.
RUIN_LATEST = 4
RUIN_OTHERS = 2
#: Places verified by re-driving the car (the best estimates first) before a household counts as not fitting.
VERIFY = 6
#: Wheelchair cars in a re-plan's ruin around a car carrying wheelchair users (the earliest to finish).
REPLAN_WHEEL_CARS = NEIGHBOURHOOD_CARS - 1
#: Wheelchair cars in the ruin around a car carrying wheelchair users after OR-Tools (``leftover_phase``): the
#: earliest and the latest to finish. The latest alone (five) keep its wheelchair users among cars as late as it:
#: Baltimore far 1,000, the 150 nodes OR-Tools leaves: 88.8 -> 88.5 with the latest only, 86.9 with both ends.
#: Before OR-Tools the latest alone stay: with both ends there too the clearance fell further (Baltimore far
#: 1,000 84.8 min) but the OR-Tools rounds that followed, on other plans, took about a third more CPU for the same
#: nodes on it and on Heidelberg 1,000 (the solve past its 8 s limit: docs/solver.md).
WHEEL_EARLY = 3
WHEEL_LATE = 3
#: Attempts in a row without a better plan before the current one is perturbed.
STALL_ATTEMPTS = 40
#: A perturbation may leave the latest finish this share above the best one found.
PERTURB_SHARE = 0.03
PERTURB_MINUTES = 1.0
#: Work units of one re-drive of a car (a candidate estimate counts one), and of an attempt's own bookkeeping
#: (copying the plan, choosing the cars): measured so that a unit takes about the same time whatever the size.
DRIVE_COST = 4
ATTEMPT_COST = 40
EPS = 1e-6
#: Work units of this search per model node of the OR-Tools search's budget (``improve.NODES_PER_SECOND``):
#: measured so that a unit of either takes about the same CPU time on the project's machine.
UNITS_PER_NODE = 400
#: Share of the improvement budget spent here before OR-Tools, by fleet size (cars, share). A fleet small
#: enough to be one OR-Tools group stalls there in one local optimum, which ruin and recreate leaves: most of
#: the budget. A town of 40 cars gained from a fifth (Baltimore 200: 68.7 -> 57.7 min). At 200 cars a fifth
#: cost OR-Tools' groups more than it gained (106.2 -> 108.7 on Heidelberg 1,000 without pickup targets), a
#: tenth unlocked them under the targets (121.5 -> 106.8; Baltimore 75.5 -> 74.9, far shelters 217.8 -> 213.2).
FLEET_SHARES = ((12, 0.9), (60, 0.2), (10**9, 0.1))


#: Fleets up to this many cars (the bus-evacuation instances) also get a search that frees shelter room, with
#: this share of the budget on top of the plain one.
EJECT_MAX_CARS = 12
EJECT_SHARE = 0.5


@dataclass
class RuinResult:
    """The improved trips and finishes, each request's shelter, the work spent and the attempts made."""

    trips: list[list[Trip]]
    finish: np.ndarray
    shelter: np.ndarray
    work: int
    attempts: int
    improved: int


@dataclass(frozen=True)
class _Lists:
    """The instance's per-request and per-shelter figures as Python lists: read one at a time in the inner loops."""

    home: list[int]
    seated: list[int]
    wheelchair: list[int]
    alone: list[bool]
    shelter_loc: list[int]

    @staticmethod
    def of(inst: Instance) -> _Lists:
        return _Lists(inst.home.tolist(), inst.seated.tolist(), inst.wheelchair.tolist(), inst.alone.tolist(),
                      inst.shelter_loc.tolist())


@dataclass
class _Plan:
    """The search's current plan: trips per car, finishes, shelters, and the room left at each shelter."""

    inst: Instance
    trips: list[list[Trip]]
    finish: np.ndarray
    shelter: np.ndarray
    room: np.ndarray  # people each shelter can still take
    pet_room: np.ndarray
    work: int = 0
    #: Per request, the most minutes past its pickup target a step may leave it (its lateness in the plan the
    #: attempt started from); ``None`` when no request has a target.
    late: np.ndarray | None = None
    #: Per request, the car carrying it (-1 while it is off every car during a ruin).
    car_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lists: _Lists | None = None

    def copy(self) -> _Plan:
        return _Plan(self.inst, [list(t) for t in self.trips], self.finish.copy(), self.shelter.copy(),
                     self.room.copy(), self.pet_room.copy(), self.work, self.late, self.car_of.copy(), self.lists)

    def keeps_targets(self, car: int, trips: list[Trip]) -> bool:
        """No household of these trips is picked up later past its target than before the attempt.

        Pickup targets rank above clearance: checking each place as it is chosen (not only the whole result)
        lets the recreate find the places that leave every target as it was.
        """
        if self.late is None:
            return True
        target = self.inst.target
        return all(minute - target[q] <= self.late[q] + 1e-6 for q, minute in pickup_minutes(self.inst, car, trips))

    def end(self, car: int) -> float:
        return float(self.finish[car]) if self.trips[car] else float(self.inst.car_from[car])

    def clearance(self) -> float:
        return max((float(self.finish[c]) for c, t in enumerate(self.trips) if t), default=0.0)

    def take_off(self, car: int, requests: set[int]) -> None:
        """Remove ``requests`` from the car's trips (their shelter room comes back)."""
        inst = self.inst
        kept = []
        for t in self.trips[car]:
            left = tuple(r for r in t.pickups if r not in requests)
            if left:
                kept.append(Trip(left, t.shelter) if len(left) < len(t.pickups) else t)
        for r in requests:
            s = int(self.shelter[r])
            self.room[s] += inst.people[r]
            self.pet_room[s] += inst.pets[r]
        self.trips[car] = kept
        self.finish[car] = drive_car(inst, car, kept)[0] if kept else inst.car_from[car]
        self.car_of[list(requests)] = -1
        self.work += DRIVE_COST


def _simple(trips: list[Trip]) -> bool:
    """Trips that each unload their own pickups at one shelter (what this search can edit)."""
    return all(t.unload is None and t.pickups for t in trips)


def _shelters_for(inst: Instance, r: int, current: int) -> list[int]:
    """Shelters request ``r`` may use: it takes the household, the direct ride keeps the ride limit; a split
    household's parts keep their shelter (they must meet there)."""
    if inst.requests[r].parts > 1:
        return [current]
    direct = inst.T[inst.home[r], inst.shelter_loc]
    ok = inst.shelter_takes[r] & np.isfinite(direct) & (direct <= inst.max_ride[r] + 1e-9)
    return [int(s) for s in np.flatnonzero(ok)] or [current]


#: A place for a request in a car's day: ``(trip index, position in the trip or -1 for a new trip, shelter)``.
Place = tuple[int, int, int]


def _candidates(p: _Plan, car: int, r: int, shelters: list[int]) -> list[tuple[float, Place]]:
    """Estimated new finish and place (see ``placed``) for each place ``r`` could take in ``car``'s day.

    The estimate adds the detour to the car's finish (waiting for ready times is ignored); the caller
    re-drives the best ones exactly. Times are read as Python floats (``item``), the same doubles in the
    same order of addition as numpy's, much faster one by one; the trips are built only for the places verified.
    """
    inst = p.inst
    t_at = inst.T.item
    h = int(inst.home[r])
    pu, drop = inst.pickup_minutes, inst.dropoff_minutes
    trips = p.trips[car]
    base = p.end(car)
    out: list[tuple[float, Place]] = []
    people, pets = inst.people[r], inst.pets[r]
    fits_room = [s for s in shelters if p.room[s] >= people and p.pet_room[s] >= pets]
    fast = p.lists or _Lists.of(inst)
    loc_of, home = fast.shelter_loc, fast.home
    prev = int(inst.car_start[car])
    for i in range(len(trips) + 1):
        nxt = int(home[trips[i].pickups[0]]) if i < len(trips) else -1
        to_h = t_at(prev, h)
        for s in fits_room:
            loc = loc_of[s]
            add = to_h + pu + t_at(h, loc)
            if nxt >= 0:
                add += drop + t_at(loc, nxt) - t_at(prev, nxt)
            elif trips:
                add += drop
            out.append((base + add, (i, -1, s)))
        if i < len(trips):
            prev = loc_of[trips[i].shelter]
    if inst.alone[r]:
        return out
    seats, wheel = int(inst.car_seats[car]), int(inst.car_wheelchair[car])
    seated, wheelchair, alone = fast.seated, fast.wheelchair, fast.alone
    seated_r, wheel_r = seated[r], wheelchair[r]
    prev = int(inst.car_start[car])
    for i, t in enumerate(trips):
        s = t.shelter
        pk = t.pickups
        joinable = (s in fits_room and not any(alone[q] for q in pk)
                    and sum(seated[q] for q in pk) + seated_r <= seats
                    and sum(wheelchair[q] for q in pk) + wheel_r <= wheel)
        if joinable:
            a = prev
            for k in range(len(pk) + 1):
                b = int(home[pk[k]]) if k < len(pk) else loc_of[s]
                add = t_at(a, h) + pu + t_at(h, b) - t_at(a, b)
                out.append((base + add, (i, k, s)))
                a = b
        prev = loc_of[s]
    return out


def placed(trips: list[Trip], r: int, place: Place) -> list[Trip]:
    """A car's trips with request ``r`` put at ``place``: a new trip before trip ``i``, or joining trip ``i``."""
    i, k, s = place
    if k < 0:
        return [*trips[:i], Trip((r,), s), *trips[i:]]
    pk = trips[i].pickups
    return [*trips[:i], Trip((*pk[:k], r, *pk[k:]), s), *trips[i + 1:]]


def _insert(p: _Plan, r: int, cars: list[int], rng: np.random.Generator, noise: float, eject: bool = False) -> bool:
    """Put ``r`` where the car taking it finishes earliest (exactly, after re-driving); False if nowhere fits.

    With ``eject``, a place at a shelter without room for ``r`` counts too when sending one trip that unloads
    there to another shelter makes room (``_eject_insert``)."""
    inst = p.inst
    shelters = _shelters_for(inst, r, int(p.shelter[r]))
    options: list[tuple[float, int, int, Place]] = []
    for c in cars:
        if not inst.car_fits[c, r]:
            continue
        for est, place in _candidates(p, c, r, shelters):
            options.append((est * (1.0 + noise * rng.random()) if noise else est, len(options), c, place))
    p.work += len(options)
    if not options:
        return False
    options.sort(key=lambda o: (o[0], o[1]))
    best: tuple[float, int, list[Trip], int] | None = None
    for est, _, c, place in options[:VERIFY if p.late is None else 3 * VERIFY]:
        if best is not None and est > best[0] + EPS and not noise:
            break
        trips = placed(p.trips[c], r, place)
        fin, ok = drive_car(inst, c, trips)
        p.work += DRIVE_COST
        if ok and (best is None or fin < best[0] - EPS) and trips_keep_rules(inst, c, trips) \
                and p.keeps_targets(c, trips):
            best = (fin, c, trips, place[2])
    if eject and any(p.room[s] < inst.people[r] or p.pet_room[s] < inst.pets[r] for s in shelters) \
            and _eject_insert(p, r, cars, shelters, best[0] if best is not None else float("inf")):
        return True
    if best is None:
        return False
    fin, c, trips, s = best
    _put(p, r, c, s, trips, fin)
    return True


def _put(p: _Plan, r: int, c: int, s: int, trips: list[Trip], finish: float) -> None:
    """Request ``r`` on car ``c`` (now driving ``trips``, finishing at ``finish``), to shelter ``s``."""
    inst = p.inst
    p.trips[c] = trips
    p.finish[c] = finish
    p.shelter[r] = s
    p.car_of[r] = c
    p.room[s] -= inst.people[r]
    p.pet_room[s] -= inst.pets[r]


#: One way to free shelter room: ``(shelter, car, its trips with one trip sent on, that car's finish, the new
#: shelter of that trip, its people, its pets)``.
Ejection = tuple[int, int, list[Trip], float, int, int, int]


def _ejections(p: _Plan, r: int, cars: list[int], shelters: list[int], bar: float) -> Iterator[Ejection]:
    """Each trip of ``cars`` unloading at a shelter ``r`` may use but that lacks room for it, sent on to another
    shelter all its riders may use with room for them, that keeps its car's rules and finishes before ``bar``."""
    inst = p.inst
    people, pets = inst.people[r], inst.pets[r]
    for s in shelters:
        if p.room[s] >= people and p.pet_room[s] >= pets:
            continue
        for e in cars:
            own = p.trips[e]
            for j, t in enumerate(own):
                if t.shelter != s or t.unload is not None:
                    continue
                t_people = int(sum(inst.people[q] for q in t.pickups))
                t_pets = int(sum(inst.pets[q] for q in t.pickups))
                if p.room[s] + t_people < people or p.pet_room[s] + t_pets < pets:
                    continue
                common = set.intersection(*(set(_shelters_for(inst, q, s)) for q in t.pickups)) - {s}
                for s2 in sorted(common):
                    if p.room[s2] < t_people or p.pet_room[s2] < t_pets:
                        continue
                    e_trips = [*own[:j], Trip(t.pickups, s2), *own[j + 1:]]
                    fin_e, ok = drive_car(inst, e, e_trips)
                    p.work += DRIVE_COST
                    if ok and fin_e < bar - EPS and trips_keep_rules(inst, e, e_trips) \
                            and p.keeps_targets(e, e_trips):
                        yield s, e, e_trips, fin_e, s2, t_people, t_pets


def _eject_insert(p: _Plan, r: int, cars: list[int], shelters: list[int], bar: float) -> bool:
    """Put ``r`` at a shelter without room for it by sending one trip that unloads there to another shelter.

    An ejection chain of length one on shelter room: the nearest shelter filled by others' loads would
    otherwise push ``r`` to a far one (BEP-1-4-4-3-i9: two loads at the 3-minute shelter push two loads of the
    1-minute one 6 minutes away). Kept when both cars it changes finish before ``bar`` (the finish of the best
    plain place); no randomness, every re-drive counted as work.
    """
    inst = p.inst
    best: tuple[float, int, list[Trip], float, int, list[Trip], int, int] | None = None
    for s, e, e_trips, fin_e, s2, t_people, t_pets in _ejections(p, r, cars, shelters, bar):
        own, old_fin = p.trips[e], p.finish[e]
        p.trips[e], p.finish[e] = e_trips, fin_e
        p.room[s] += t_people
        p.pet_room[s] += t_pets
        for c in cars:
            if not inst.car_fits[c, r]:
                continue
            options = sorted(_candidates(p, c, r, [s]))
            p.work += len(options)
            for _, place in options[:VERIFY]:
                trips = placed(p.trips[c], r, place)
                fin, ok = drive_car(inst, c, trips)
                p.work += DRIVE_COST
                key = fin if c == e else max(fin, fin_e)
                if ok and key < bar - EPS and (best is None or key < best[0] - EPS) \
                        and trips_keep_rules(inst, c, trips) and p.keeps_targets(c, trips):
                    best = (key, c, trips, fin, e, e_trips, s, s2)
        p.trips[e], p.finish[e] = own, old_fin
        p.room[s] -= t_people
        p.pet_room[s] -= t_pets
    if best is None:
        return False
    _, c, trips, fin, e, e_trips, s, s2 = best
    if c != e:  # the car that gives up its trip's shelter; when it is the one taking ``r``, ``trips`` has both
        moved = next(t for t in e_trips if t.shelter == s2 and t not in p.trips[e])
        p.trips[e] = e_trips
        p.finish[e] = drive_car(inst, e, e_trips)[0]
    else:
        moved = next(t for t in trips if t.shelter == s2 and r not in t.pickups and t not in p.trips[e])
    for q in moved.pickups:
        p.shelter[q] = s2
        p.room[s] += inst.people[q]
        p.pet_room[s] += inst.pets[q]
        p.room[s2] -= inst.people[q]
        p.pet_room[s2] -= inst.pets[q]
    _put(p, r, c, s, trips, fin)
    return True


def _open_carried(p: _Plan, editable: list[int], rng: np.random.Generator,
                  lateness: Callable[[_Plan], np.ndarray | None]) -> tuple[_Plan, list[int]]:
    """The plan with each car that carries riders across shelters made plain (``late`` from ``lateness``), and the
    cars the search may edit now.

    A rider unloaded at a later shelter than its trip's is taken off that car and put back where a car finishes
    earliest (``_insert``: the car itself, its related cars, pickup targets kept); the car keeps its other trips,
    each now unloading its own pickups. A car whose riders find no place is left as it was. Without this such a
    car could not be edited at all, and when it finished last (Baltimore far 1,000: a wheelchair car OR-Tools gave
    a carry-over) no ruin could lower the clearance.
    """
    inst = p.inst
    opened: list[int] = []
    for car, trips in enumerate(p.trips):
        if not trips or _simple(trips):
            continue
        carried = [r for t in trips if t.unload is not None for r in t.pickups if r not in t.unload]
        plain = [Trip(t.pickups, t.shelter) for t in trips if t.pickups]
        trial = p.copy()
        trial.trips[car] = plain
        trial.take_off(car, set(carried))  # their room comes back at the shelter they were carried to
        keeps = drive_car(inst, car, trial.trips[car])[1] and trips_keep_rules(inst, car, trial.trips[car])
        cars = _neighbourhood(trial, car, [*editable, car], rng)
        if keeps and trial.keeps_targets(car, trial.trips[car]) and \
                all(_insert(trial, r, cars, rng, 0.0) for r in carried):
            p = trial
            opened.append(car)
    if opened:
        p.late = lateness(p)
    return p, sorted(editable + opened)


def _neighbourhood(p: _Plan, latest: int, editable: list[int], rng: np.random.Generator,
                   free_first: bool = False, both_ends: bool = False) -> list[int]:
    """The latest car and related cars: the wheelchair fleet when it carries wheelchair users, else cars that
    start or finish near its households and the cars that finish earliest.

    Of the wheelchair fleet a solve takes the cars that finish latest (moving their seated riders frees them), with
    ``both_ends`` also those that finish earliest (the only ones that can take the latest car's wheelchair users);
    with ``free_first`` (a re-plan) only the ones that finish earliest: a repair appends the wheelchair users who
    lost their car to wheelchair cars already busy, and only one with time left can take them off.
    """
    inst = p.inst
    others = [c for c in editable if c != latest]
    if len(others) < NEIGHBOURHOOD_CARS:
        return [latest, *others]
    mine = [r for t in p.trips[latest] for r in t.pickups]
    chosen: list[int] = [latest]
    if any(inst.wheelchair[r] for r in mine):
        wheel = [c for c in others if inst.car_wheelchair[c] > 0]
        wheel.sort(key=lambda c: (p.end(c), rng.random()))  # earliest to finish first
        if free_first:
            chosen.extend(wheel[:REPLAN_WHEEL_CARS])
        else:
            # With ``both_ends``, both ends of the fleet: only wheelchair cars can take the latest car's wheelchair
            # users, and those with time left are the ones that finish earliest; the latest give up seated riders.
            early = wheel[:WHEEL_EARLY] if both_ends else []
            chosen.extend([*early, *[c for c in reversed(wheel) if c not in early][:WHEEL_LATE if both_ends else
                                                                                 NEIGHBOURHOOD_CARS // 2]])
    homes = inst.home[mine] if mine else inst.car_start[[latest]]
    arr = np.array(others)
    ends = np.array([p.end(c) for c in others])
    near = inst.T[np.ix_(inst.car_start[arr], homes)].min(axis=1)
    jitter = rng.random(arr.size)
    by_near = arr[np.lexsort((jitter, near))]
    by_end = arr[np.lexsort((jitter, ends))]
    for a, b in zip(by_near, by_end, strict=True):
        for c in (int(a), int(b)):
            if len(chosen) < NEIGHBOURHOOD_CARS and c not in chosen:
                chosen.append(c)
        if len(chosen) >= NEIGHBOURHOOD_CARS:
            break
    return chosen


def _ruin(p: _Plan, latest: int, cars: list[int], rng: np.random.Generator) -> list[int]:
    """Take households off the latest car (a random tail or random ones) and a few related ones off the others."""
    inst = p.inst
    mine = [r for t in p.trips[latest] for r in t.pickups]
    if not mine:
        return []
    k = int(rng.integers(1, min(RUIN_LATEST, len(mine)) + 1))
    taken = set(mine[-k:]) if rng.random() < 0.5 else {mine[i] for i in rng.choice(len(mine), k, replace=False)}
    wheel_move = any(inst.wheelchair[r] for r in taken)
    out: list[int] = list(taken)
    p.take_off(latest, taken)
    homes = inst.home[list(taken)]
    for c in cars[1:]:
        theirs = [r for t in p.trips[c] for r in t.pickups]
        if not theirs or rng.random() < 0.4:
            continue
        if wheel_move and inst.car_wheelchair[c] > 0 and rng.random() < 0.5:
            # A wheelchair car's seated riders can ride in any car: moving them frees the scarce car.
            seated = [r for r in theirs if not inst.wheelchair[r]]
            pool = seated or theirs
        else:
            pool = theirs
        dist = inst.T[np.ix_(inst.home[pool], homes)].min(axis=1)
        order = np.lexsort((rng.random(len(pool)), dist))
        pick = {pool[int(i)] for i in order[: int(rng.integers(1, RUIN_OTHERS + 1))]}
        p.take_off(c, pick)
        out.extend(pick)
    return out


def _recreate_order(inst: Instance, removed: list[int], rng: np.random.Generator) -> list[int]:
    """Hard ones first (wheelchair users, then the longest rides), or at random: the two alternate by chance."""
    if rng.random() < 0.5:
        return [removed[int(i)] for i in rng.permutation(len(removed))]
    ride = inst.T[inst.home[removed], inst.shelter_loc[0]] if inst.n_shelters else np.zeros(len(removed))
    return [removed[int(i)] for i in np.lexsort((rng.random(len(removed)), -ride, -inst.wheelchair[removed]))]


def _leximax(values: list[float]) -> list[float]:
    return sorted(values, reverse=True)


def _compare(new: list[float], old: list[float]) -> int:
    """-1, 0 or 1 as ``new`` is better, as good or worse: the finishes, latest first, compared in turn."""
    for a, b in zip(_leximax(new), _leximax(old), strict=True):
        if a < b - EPS:
            return -1
        if a > b + EPS:
            return 1
    return 0


def _better(new: list[float], old: list[float]) -> bool:
    return _compare(new, old) < 0


def _step(verdict: int, more_moved: int, latest: float, latest_before: float) -> bool:
    """A step to take: the touched cars' finishes better (``verdict`` < 0) or as good (a sideways step, crossing
    a plateau), where a step that moves more households off their car (a re-plan's ``more_moved`` > 0) must pay
    for it by an earlier latest finish of the cars it touched, and a sideways step may not move more."""
    if more_moved <= 0:
        return verdict <= 0
    return verdict < 0 and latest < latest_before - EPS


def _tidier(plan: _Plan, best: _Plan, editable: list[int], more_moved: int) -> bool:
    """At the same clearance: fewer households moved off their car (a re-plan), then the finishes latest first."""
    if more_moved != 0:
        return more_moved < 0
    return _better([plan.end(c) for c in editable], [best.end(c) for c in editable])


def _start(inst: Instance, trips: list[list[Trip]], finish: np.ndarray, shelter: np.ndarray,
           assigned: np.ndarray) -> _Plan:
    """The search's plan from the given trips: a copy, with the room left at each shelter and each request's car."""
    used_people = np.bincount(shelter[assigned], weights=inst.people[assigned], minlength=inst.n_shelters)
    used_pets = np.bincount(shelter[assigned], weights=inst.pets[assigned], minlength=inst.n_shelters)
    plan = _Plan(inst, [list(t) for t in trips], finish.astype(np.float64).copy(), shelter.copy(),
                 inst.shelter_capacity - used_people, inst.shelter_pet_room - used_pets,
                 car_of=np.full(inst.n_requests, -1, dtype=np.int64), lists=_Lists.of(inst))
    for c, car_trips in enumerate(plan.trips):
        for t in car_trips:
            plan.car_of[list(t.pickups)] = c
    return plan


def ruin_and_recreate(
    inst: Instance,
    trips: list[list[Trip]],
    finish: np.ndarray,
    shelter: np.ndarray,
    assigned: np.ndarray,
    work: int,
    seed: int,
    *,
    bound: float = 0.0,
    stop: Callable[[], bool] = lambda: False,
    previous_car: np.ndarray | None = None,
    max_moved: int = 0,
    eject: bool = False,
    both_ends: bool = False,
) -> RuinResult:
    """Iterated ruin and recreate until ``work`` units are spent; the best plan found (never a worse one).

    Serves the same requests (a recreate that cannot place everyone is dropped), keeps every rule that
    ``drive_car`` and ``trips_keep_rules`` check, the shelters' room for people and pets, and the pickup
    targets at least as well as the given trips (``targets_key``: met, then lateness beyond them). It ends
    early when the latest finish reaches ``bound`` (a lower bound: nothing better exists) and when ``stop()``
    says so (the clock's safety stop, checked once per attempt; a run that reaches it is the one case where a
    seed may not repeat).

    ``previous_car`` (a re-plan: per request the car the plan being followed gave it, -1 for none) makes it
    stable: no plan moves more than ``max_moved`` of those requests to another car, a sideways step never moves
    more than the step before it, and of two plans that clear at the same minute the one that moves fewer is
    kept. The wheelchair cars around a car carrying wheelchair users are then the ones with time left.

    ``eject``: a perturbing recreate may also free room at a full shelter by sending a trip that unloads there
    to another shelter (``_eject_insert``). ``both_ends``: the ruin around a car carrying wheelchair users takes the
    wheelchair cars that finish earliest too (``_neighbourhood``).
    """
    rng = np.random.default_rng([seed, 7])
    cur = _start(inst, trips, finish, shelter, assigned)
    promised = None if previous_car is None else np.asarray(previous_car, dtype=np.int64)

    def moved(plan: _Plan) -> int:
        """Requests of the plan being followed that another car now carries (0 outside a re-plan)."""
        return 0 if promised is None else int(((plan.car_of != promised) & (promised >= 0)).sum())
    editable = [c for c in range(inst.n_cars) if _simple(cur.trips[c])]
    has_targets = bool(np.isfinite(inst.target[assigned]).any())

    def lateness(plan: _Plan) -> np.ndarray | None:
        return np.maximum(np.nan_to_num(pickup_times(inst, plan.trips), nan=0.0) - inst.target, 0.0) \
            if has_targets else None

    cur.late = lateness(cur)
    best = cur.copy()
    if promised is None:
        # Cars that carry riders from one shelter to the next (OR-Tools builds those) are opened to the search by
        # putting those riders on plain trips; ``best`` stays the plan given until the search beats it.
        cur, editable = _open_carried(cur, editable, rng, lateness)
    cur_targets = targets_key(inst, cur.trips) if has_targets else ()
    attempts = improved = stall = 0
    spent, cur.work = cur.work, 0  # opening the carried riders' cars is counted like any attempt's work
    while spent < work and editable and best.clearance() > bound + EPS and not stop():
        attempts += 1
        active = [c for c in editable if cur.trips[c]]
        if not active:
            break
        latest = max(active, key=lambda c: (cur.end(c), -c))
        if rng.random() < 0.2 and len(active) > 1:  # now and then the next latest, so one car does not hold all
            ranked = sorted(active, key=lambda c: (-cur.end(c), c))
            latest = ranked[int(rng.integers(0, min(3, len(ranked))))]
        cars = _neighbourhood(cur, latest, editable, rng, free_first=promised is not None, both_ends=both_ends)
        trial = cur.copy()
        trial.work = 0
        old = [cur.end(c) for c in cars]
        removed = _ruin(trial, latest, cars, rng)
        perturb = stall >= STALL_ATTEMPTS
        noise = 0.1 if perturb else (0.02 if rng.random() < 0.3 else 0.0)
        # Freeing shelter room is a compound move that can lose as much as it gains: tried when perturbing.
        order = _recreate_order(inst, removed, rng)
        placed = all(_insert(trial, r, cars, rng, noise, eject=eject and perturb) for r in order)
        spent += trial.work + len(cars) + ATTEMPT_COST
        trial_targets = targets_key(inst, trial.trips) if has_targets and placed and removed else ()
        # Pickup targets rank above clearance: no step may keep them worse (fewer met, later beyond them).
        if not (placed and removed) or trial_targets < cur_targets:
            stall += 1
            continue
        trial_moved = moved(trial)
        if trial_moved > max(max_moved, moved(cur)):  # a re-plan's stability: never more moves than allowed
            stall += 1
            continue
        clearance = trial.clearance()
        ends = [trial.end(c) for c in cars]
        verdict = _compare(ends, old)
        if clearance <= cur.clearance() + EPS and _step(verdict, trial_moved - moved(cur), max(ends), max(old)):
            # As good is kept too (a sideways step): finishing minutes are often whole numbers, and the way
            # to a better plan crosses plateaus; ``stall`` still counts it as no progress.
            cur, cur_targets = trial, trial_targets
            cur.late = lateness(cur)
            stall = 0 if verdict < 0 else stall + 1
        elif perturb and clearance <= best.clearance() * (1 + PERTURB_SHARE) + PERTURB_MINUTES:
            cur, cur_targets = trial, trial_targets  # leave the local optimum; ``best`` keeps what it found
            cur.late = lateness(cur)
            stall = 0
        else:
            stall += 1
            continue
        if clearance < best.clearance() - EPS or (clearance <= best.clearance() + EPS and _tidier(
                cur, best, editable, trial_moved - moved(best))):
            best = cur.copy()
            improved += 1
    return RuinResult(best.trips, best.finish, best.shelter, spent, attempts, improved)


def _latest(res: RuinResult) -> float:
    return max((float(res.finish[c]) for c, t in enumerate(res.trips) if t), default=0.0)


def _search(inst: Instance, sol: Solution, shelter: np.ndarray, units: int, seed: int, bound: float,
            stop: Callable[[], bool], both_ends: bool = False) -> RuinResult:
    """Ruin and recreate from ``sol`` on ``units`` work units; on a fleet of up to ``EJECT_MAX_CARS`` cars also a
    second search from the same start that may free shelter room, kept only when it clears strictly earlier."""
    res = ruin_and_recreate(inst, sol.trips, sol.finish, shelter, sol.assigned, units, seed, bound=bound, stop=stop,
                            both_ends=both_ends)
    if inst.n_cars <= EJECT_MAX_CARS and res.finish.size and _latest(res) > bound + EPS:
        # A second search from the same start that may also free shelter room (a compound move that loses
        # about as often as it gains, BEP-1-4-4-3-i9 19 -> 17); the first one's plan stays unless beaten.
        alt = ruin_and_recreate(inst, sol.trips, sol.finish, shelter, sol.assigned, int(units * EJECT_SHARE), seed,
                                bound=bound, stop=stop, eject=True)
        if _latest(alt) < _latest(res) - EPS:
            res = alt
    return res


def ruin_phase(inst: Instance, sol: Solution, shelter: np.ndarray, work: int, seed: int,
               progress: Callable[[str], None], *, bound: float = 0.0,
               stop: Callable[[], bool] = lambda: False, least_round: int = 0) -> tuple[Solution, np.ndarray, int]:
    """Spend a share of the improvement budget ``work`` (model nodes) on ruin and recreate.

    ``bound`` is a lower bound on the clearance (reaching it ends the search), ``stop`` the safety stop.
    ``least_round`` is the least work an OR-Tools round would be charged: when what the share leaves is less,
    this search takes the whole budget (no round would start). Returns the plan, each request's shelter, and the
    budget left for OR-Tools.
    """
    if not sol.assigned.any():
        return sol, shelter, work
    share = next((share for cars, share in FLEET_SHARES if inst.n_cars <= cars), 0.0)
    mine = int(work * share)
    if work - mine < least_round:
        mine = work
    if mine <= 0:
        return sol, shelter, work
    res = _search(inst, sol, shelter, mine * UNITS_PER_NODE, seed, bound, stop)
    out = Solution(res.trips, res.finish, sol.assigned)
    progress(f"ruin and recreate: clearance {sol.clearance:.1f} -> {out.clearance:.1f} min in {res.attempts} "
             f"attempts ({res.improved} kept as best)")
    return out, res.shelter, work - mine


def leftover_phase(inst: Instance, sol: Solution, shelter: np.ndarray, work: int, seed: int,
                   progress: Callable[[str], None], *, bound: float = 0.0,
                   stop: Callable[[], bool] = lambda: False) -> tuple[Solution, np.ndarray]:
    """Spend what OR-Tools left of the budget (``work`` model nodes) on ruin and recreate from its plan.

    OR-Tools ends with work left when no round fits in it or its rounds stall (``improve.Improved``); without this
    that work was never searched and a long limit went unused. The plan that comes back is never worse
    (``ruin_and_recreate`` returns the best it saw). Counted in work units like the rest: a seed repeats.
    """
    if work <= 0 or not sol.assigned.any():
        return sol, shelter
    # After OR-Tools the ruin around a wheelchair car also takes the wheelchair cars that finish earliest (see
    # ``WHEEL_EARLY``: no OR-Tools round follows whose CPU that could change).
    res = _search(inst, sol, shelter, work * UNITS_PER_NODE, seed, bound, stop, both_ends=True)
    out = Solution(res.trips, res.finish, sol.assigned)
    progress(f"ruin and recreate on the {work} nodes left: clearance {sol.clearance:.1f} -> {out.clearance:.1f} min "
             f"in {res.attempts} attempts ({res.improved} kept as best)")
    return out, res.shelter
