"""Before routing: who can be served at all, which shelter each household goes to, and why not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from matcher.codes import UnservedCode
from matcher.plan import Unserved
from matcher.solver.instance import Instance


@dataclass(frozen=True)
class Triage:
    """``shelter[r]`` is the shelter index for request r, or -1 when r is excluded with a reason."""

    shelter: np.ndarray
    unserved: dict[str, Unserved]


@dataclass(frozen=True)
class _Reach:
    """Travel minutes triage looks at: homes to shelters ``(r, s)`` and car starts to homes ``(c, r)``."""

    to_shelter: np.ndarray
    from_cars: np.ndarray
    road_word: str


@dataclass(frozen=True)
class _Candidate:
    """A household triage lets through, with the shelters it may use (``inf`` where it may not)."""

    order: tuple[int, int, float, str]  # preferred first, priority, largest regret, id
    household_id: str
    requests: list[int]
    times: np.ndarray


def _in_time(inst: Instance, reach: _Reach, rs: list[int]) -> np.ndarray:
    """Per shelter: can a car that fits every part reach the home and that shelter before its limit?"""
    ok = np.zeros(inst.n_shelters, dtype=bool)
    for r in rs:
        fits = (inst.car_seats >= inst.seated[r]) & (inst.car_wheelchair >= inst.wheelchair[r])
        start = np.maximum(inst.car_from[fits] + reach.from_cars[fits, r], inst.ready[r]) + inst.pickup_minutes
        finish = start[:, None] + reach.to_shelter[r][None, :]
        limit = inst.car_end[fits][:, None]
        ride_ok = reach.to_shelter[r] <= inst.max_ride[r] + 1e-9
        ok_r = ((finish <= limit + 1e-9) & ride_ok[None, :]).any(axis=0) if fits.any() else \
            np.zeros(inst.n_shelters, bool)
        ok = ok_r if r == rs[0] else ok & ok_r
    return ok


def _allowed_shelters(inst: Instance, reach: _Reach, hid: str, rs: list[int]) -> np.ndarray | Unserved:
    """The shelters a household may be taken to, or why no plan could serve it."""
    r0 = rs[0]
    wheelchair = int(inst.wheelchair[rs].max())
    if not np.isfinite(reach.from_cars[:, r0]).any():
        return Unserved(hid, f"cut off by {reach.road_word}: no volunteer car can drive to this address",
                        UnservedCode.CUT_OFF)
    reachable = np.isfinite(reach.to_shelter[r0])
    if not reachable.any():
        return Unserved(hid, f"cut off by {reach.road_word}: no shelter can be reached from this address",
                        UnservedCode.CUT_OFF)
    if wheelchair and not (inst.car_wheelchair >= wheelchair).any():
        return Unserved(
            hid, f"needs {wheelchair} wheelchair space(s); no volunteer car has that many: find a wheelchair van",
            UnservedCode.NO_WHEELCHAIR_CAR)
    allowed = reachable & (inst.shelter_accessible if wheelchair else np.ones(inst.n_shelters, dtype=bool))
    if not allowed.any():
        return Unserved(hid, "needs a wheelchair-accessible shelter; none can be reached",
                        UnservedCode.NO_ACCESSIBLE_SHELTER)
    allowed &= _in_time(inst, reach, rs)
    if not allowed.any():
        kind = "wheelchair-capable car" if wheelchair else "car"
        return Unserved(
            hid, f"no {kind} can reach this address and a shelter before the deadline"
            + (f" (ready only at minute {inst.ready[r0]:g})" if inst.ready[r0] > 0 else ""),
            UnservedCode.TOO_LATE)
    return allowed


def _candidate(inst: Instance, reach: _Reach, hid: str, rs: list[int], allowed: np.ndarray,
               preferred: Mapping[str, int]) -> _Candidate:
    """Order key and shelter times of a household that can be served."""
    r0 = rs[0]
    times = np.where(allowed, reach.to_shelter[r0], np.inf)
    order = np.sort(times)
    regret = float(order[1] - order[0]) if inst.n_shelters > 1 and np.isfinite(order[1]) else float("inf")
    if hid in preferred and allowed[preferred[hid]]:
        times = times.copy()
        times[preferred[hid]] = -1.0  # tried first
    return _Candidate((0 if hid in preferred else 1, int(inst.priority[r0]), -regret, hid), hid, rs, times)


def _place_in_shelters(inst: Instance, candidates: list[_Candidate], shelter: np.ndarray,
                       unserved: dict[str, Unserved]) -> None:
    """Each candidate in order at its nearest shelter with room, keeping accessible room for wheelchair users."""
    room = inst.shelter_capacity.astype(np.int64).copy()
    accessible = inst.shelter_accessible
    ordered = sorted(candidates, key=lambda c: c.order)

    def needs_access(rs: list[int]) -> bool:
        return bool(inst.wheelchair[rs].max() > 0)

    # Room in accessible shelters is kept for the wheelchair households still to be placed: a
    # household that can go anywhere takes it only when nothing else is left for them.
    reserve = sum(int(sum(inst.requests[r].people for r in c.requests)) for c in ordered if needs_access(c.requests))
    for c in ordered:
        rs, times = c.requests, c.times
        people = int(sum(inst.requests[r].people for r in rs))
        wheel = needs_access(rs)
        if wheel:
            reserve -= people
        fitting = [s for s in np.argsort(times, kind="stable") if np.isfinite(times[s]) and room[s] >= people]
        if not wheel and len(fitting) > 1:
            spare = int(room[accessible].sum()) - reserve
            keep_free = [s for s in fitting if not (accessible[s] and spare - people < 0)]
            fitting = keep_free or fitting
        if fitting:
            room[fitting[0]] -= people
            shelter[rs] = fitting[0]
        else:
            what = "no wheelchair-accessible shelter it can reach has room" if wheel else \
                "no shelter it can reach has room"
            reason = f"{what} left: open another shelter or raise a capacity"
            unserved[c.household_id] = Unserved(c.household_id, reason, UnservedCode.NO_SHELTER_ROOM)


def triage(inst: Instance, preferred: Mapping[str, int] | None = None) -> Triage:
    """Decide shelters within capacity and access, and exclude what no plan could serve.

    Households are placed most urgent first, then those with the least choice (largest regret between
    their nearest and second-nearest shelter), each at the nearest shelter that still has room, so a
    full shelter costs the households that have good alternatives. ``preferred`` (household id to
    shelter index, from a previous plan) is honoured first where access and room allow, so a
    re-plan does not send people to a different shelter than they were told.
    """
    preferred = preferred or {}
    problem = inst.problem
    closures = bool(problem.alert.closed_ways or problem.alert.flood_zones)
    shelter = np.full(inst.n_requests, -1, dtype=np.int64)
    unserved: dict[str, Unserved] = {}
    by_household: dict[str, list[int]] = defaultdict(list)
    for r, req in enumerate(inst.requests):
        by_household[req.household_id].append(r)

    if inst.n_shelters == 0 or inst.n_cars == 0:
        missing = ("no shelter is open: open a shelter", UnservedCode.NO_SHELTER_ROOM) if inst.n_shelters == 0 else \
            ("no volunteer driver is available: find drivers", UnservedCode.NOT_ENOUGH_CARS)
        return Triage(shelter, {hid: Unserved(hid, *missing) for hid in by_household})
    reach = _Reach(inst.T[np.ix_(inst.home, inst.shelter_loc)], inst.T[np.ix_(inst.car_start, inst.home)],
                   "closed roads" if closures else "the road network")
    candidates: list[_Candidate] = []
    for hid, rs in by_household.items():
        allowed = _allowed_shelters(inst, reach, hid, rs)
        if isinstance(allowed, Unserved):
            unserved[hid] = allowed
        else:
            candidates.append(_candidate(inst, reach, hid, rs, allowed, preferred))
    _place_in_shelters(inst, candidates, shelter, unserved)
    return Triage(shelter, unserved)
