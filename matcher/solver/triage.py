"""Before routing: who can be served at all, which shelter each household goes to, and why not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from matcher.codes import UnservedCode
from matcher.needs import Need
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
    in_time: np.ndarray  # (r, s): ``_in_time_all``


@dataclass(frozen=True)
class _Candidate:
    """A household triage lets through, with the shelters it may use (``inf`` where it may not)."""

    order: tuple[int, int, float, str]  # preferred first, priority, largest regret, id
    household_id: str
    requests: list[int]
    times: np.ndarray


def _in_time_one(inst: Instance, reach: _Reach, r: int) -> np.ndarray:
    """The per-request rule: per shelter, can a car that fits r reach its home and that shelter before its limit?"""
    fits = inst.car_fits[:, r]
    if not fits.any():
        return np.zeros(inst.n_shelters, dtype=bool)
    start = np.maximum(inst.car_from[fits] + reach.from_cars[fits, r], inst.ready[r]) + inst.pickup_minutes
    finish = start[:, None] + reach.to_shelter[r][None, :]
    limit = inst.car_end[fits][:, None]
    ride_ok = reach.to_shelter[r] <= inst.max_ride[r] + 1e-9
    return ((finish <= limit + 1e-9) & ride_ok[None, :]).any(axis=0)  # type: ignore[no-any-return]


# Margin (minutes) around the best car's slack inside which the exact per-car rule decides: far above the
# rounding of a sum of minutes (about 1e-13 at 1,000 minutes), so outside it the answer cannot differ.
_SLACK_MARGIN = 1e-6
_CHUNK = 512  # requests per block: (cars x 512) floats, bounded memory whatever the region's size


def _in_time_all(inst: Instance, reach: _Reach) -> np.ndarray:
    """``_in_time_one`` for every request at once, ``(r, s)``, with the same answers.

    A car c that fits r gets to shelter s in time when ``start[c, r] + to_shelter[r, s] <= car_end[c] + 1e-9``;
    the sum grows with ``to_shelter``, so some car makes it when that time is within the largest slack
    ``car_end + 1e-9 - start`` over the cars that fit. Computed as (cars x requests) instead of (cars x shelters)
    per request in Python (0.26 s at 2,590 requests); times within ``_SLACK_MARGIN`` of the slack (or a NaN
    slack) are decided by the per-request rule itself, so rounding cannot change an answer.
    """
    n_req, n_sh = inst.n_requests, inst.n_shelters
    slack = np.empty(n_req, dtype=np.float64)
    end = inst.car_end[:, None] + 1e-9
    for lo in range(0, n_req, _CHUNK):
        hi = min(lo + _CHUNK, n_req)
        start = np.maximum(inst.car_from[:, None] + reach.from_cars[:, lo:hi], inst.ready[None, lo:hi]) \
            + inst.pickup_minutes
        with np.errstate(invalid="ignore"):
            s = np.where(inst.car_fits[:, lo:hi], end - start, -np.inf)
        slack[lo:hi] = s.max(axis=0) if len(s) else -np.inf
    ride_ok = reach.to_shelter <= inst.max_ride + 1e-9
    with np.errstate(invalid="ignore"):
        gap = reach.to_shelter - slack[:, None]
    ok = (gap < -_SLACK_MARGIN) & ride_ok
    unsure = ~((gap < -_SLACK_MARGIN) | (gap > _SLACK_MARGIN))  # NaN falls here too
    for r in np.flatnonzero(unsure.any(axis=1)).tolist():
        ok[r] = _in_time_one(inst, reach, r)
    return ok.reshape(n_req, n_sh)


def _reach(inst: Instance, road_word: str) -> _Reach:
    """The travel minutes triage looks at, and who can be taken to each shelter in time."""
    bare = _Reach(inst.T[np.ix_(inst.home, inst.shelter_loc)], inst.T[np.ix_(inst.car_start, inst.home)],
                  road_word, np.zeros((0, 0), dtype=bool))
    return replace(bare, in_time=_in_time_all(inst, bare))


def _pets(n: int) -> str:
    return f"{n} pet" if n == 1 else f"{n} pets"


def _need_words(inst: Instance, hid: str) -> str:
    """``uses oxygen`` / ``is power-dependent`` / ``is on dialysis``: the medical needs in words."""
    words = {Need.OXYGEN: "uses oxygen", Need.POWER_DEPENDENT: "depends on a powered medical device",
             Need.DIALYSIS: "is on dialysis"}
    medical = inst.problem.household(hid).medical
    return " and ".join(words[n] for n in sorted(medical, key=list(words).index))


def _before_roads(inst: Instance, hid: str, rs: list[int]) -> Unserved | None:
    """Needs no volunteer car can meet, whatever the roads: a stretcher, pets with no car that takes them."""
    household = inst.problem.household(hid)
    if household.has(Need.STRETCHER):
        return Unserved(hid, "needs a stretcher: call an ambulance (a volunteer car cannot carry a stretcher)",
                        UnservedCode.NEEDS_STRETCHER)
    if household.pets and not inst.car_fits[:, rs].any(axis=0).all():
            return Unserved(hid, f"has {_pets(household.pets)}; no volunteer car that takes pets has room for them: "
                            "find a driver who takes pets, or ask a family member to take the pets",
                            UnservedCode.NO_PET_CAR)
    return None


def _shelter_reason(inst: Instance, reach: _Reach, hid: str, rs: list[int], allowed: np.ndarray) -> Unserved:
    """Why no shelter that can be reached fits the household's needs."""
    household = inst.problem.household(hid)
    r0 = rs[0]
    if household.medical:
        medical = allowed & inst.shelter_medical
        limit = inst.problem.rules.medical_max_ride_minutes
        if not medical.any():
            return Unserved(hid, f"{_need_words(inst, hid)}; no shelter with medical support can be reached: open "
                            "one (power and staff) or call the ambulance service", UnservedCode.NO_MEDICAL_SHELTER)
        if not (reach.to_shelter[r0][medical] <= inst.max_ride[r0][medical] + 1e-9).any():
            return Unserved(hid, f"{_need_words(inst, hid)}; no shelter with medical support can be reached in "
                            f"{limit:g} minutes: call the ambulance service", UnservedCode.NO_MEDICAL_SHELTER)
    if household.pets and not (allowed & (inst.shelter_pet_room > 0)).any():
        return Unserved(hid, f"has {_pets(household.pets)}; no pet-friendly shelter can be reached: open a "
                        "pet-friendly shelter or ask a family member to take the pets", UnservedCode.NO_PET_SHELTER)
    return Unserved(hid, "needs a wheelchair-accessible shelter; none can be reached",
                    UnservedCode.NO_ACCESSIBLE_SHELTER)


def _allowed_shelters(inst: Instance, reach: _Reach, hid: str, rs: list[int]) -> np.ndarray | Unserved:
    """The shelters a household may be taken to, or why no plan could serve it."""
    r0 = rs[0]
    wheelchair = int(inst.wheelchair[rs].max())
    early = _before_roads(inst, hid, rs)
    if early is not None:
        return early
    if hid in inst.problem.unreachable:
        return Unserved(hid, inst.problem.unreachable[hid], UnservedCode.CUT_OFF)
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
    allowed = reachable & inst.shelter_takes[r0]
    ride_ok = reach.to_shelter[r0] <= inst.max_ride[r0] + 1e-9
    if not (allowed & ride_ok).any():
        return _shelter_reason(inst, reach, hid, rs, reachable & (inst.shelter_accessible | (wheelchair == 0)))
    allowed &= reach.in_time[rs].all(axis=0)
    if not allowed.any():
        kind = "wheelchair-capable car" if wheelchair else "car"
        if inst.pets[rs].any():
            kind = "car that takes pets"
        return Unserved(
            hid, f"no {kind} can reach this address and a shelter before the deadline"
            + (f" (ready only at minute {inst.ready[r0]:g})" if inst.ready[r0] > 0 else "") + ": add drivers",
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


def _scarce_kinds(inst: Instance, ordered: list[_Candidate]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Scarce shelter room kept for the households that need it: (shelters, who needs them, people still to place).

    Wheelchair users need accessible shelters, medical needs shelters with medical support, pets
    pet-friendly ones. A household that can go anywhere takes such room only when nothing else is left.
    """
    kinds = []
    need_access = np.array([inst.wheelchair[c.requests].max() > 0 for c in ordered], dtype=bool)
    need_medical = np.array([bool(inst.problem.household(c.household_id).medical) for c in ordered], dtype=bool)
    need_pets = np.array([inst.pets[c.requests].sum() > 0 for c in ordered], dtype=bool)
    people = np.array([int(inst.people[c.requests].sum()) for c in ordered], dtype=np.int64)
    for mask, needs in ((inst.shelter_accessible, need_access), (inst.shelter_medical, need_medical),
                        (inst.shelter_pet_room > 0, need_pets)):
        kinds.append((mask, needs, int(people[needs].sum())))
    return kinds


def _room_reason(inst: Instance, c: _Candidate, pets: int, pet_room: np.ndarray) -> Unserved:
    """Why a household found no shelter with room (people or pets left) among those it may use."""
    household = inst.problem.household(c.household_id)
    hid = c.household_id
    if pets and all(pet_room[s] < pets for s in np.flatnonzero(np.isfinite(c.times))):
        return Unserved(hid, f"has {_pets(pets)}; no pet-friendly shelter has room for them: open a pet-friendly "
                        "shelter or ask a family member to take the pets", UnservedCode.NO_PET_SHELTER)
    if household.medical:
        return Unserved(hid, f"{_need_words(inst, hid)}; no shelter with medical support it can reach has room "
                        "left: open one (power and staff) or call the ambulance service",
                        UnservedCode.NO_MEDICAL_SHELTER)
    what = "no wheelchair-accessible shelter it can reach has room" if household.wheelchair_users else \
        "no shelter it can reach has room"
    return Unserved(hid, f"{what} left: open another shelter or raise a capacity", UnservedCode.NO_SHELTER_ROOM)


def _place_in_shelters(inst: Instance, candidates: list[_Candidate], shelter: np.ndarray,
                       unserved: dict[str, Unserved]) -> None:
    """Each candidate in order at its nearest shelter with room (people and pets), keeping scarce room."""
    room = inst.shelter_capacity.astype(np.int64).copy()
    pet_room = inst.shelter_pet_room.copy()
    ordered = sorted(candidates, key=lambda c: c.order)
    kinds = _scarce_kinds(inst, ordered)
    for i, c in enumerate(ordered):
        rs, times = c.requests, c.times
        people = int(inst.people[rs].sum())
        pets = int(inst.pets[rs].sum())
        by_time = np.argsort(times, kind="stable")
        fitting = by_time[np.isfinite(times[by_time]) & (room[by_time] >= people)
                          & (pet_room[by_time] >= pets)].tolist()
        for k, (mask, needs, reserve) in enumerate(kinds):
            if needs[i]:
                kinds[k] = (mask, needs, reserve - people)
            elif len(fitting) > 1:
                spare = int(room[mask].sum()) - reserve
                keep_free = [s for s in fitting if not (mask[s] and spare - people < 0)]
                fitting = keep_free or fitting
        if fitting:
            room[fitting[0]] -= people
            pet_room[fitting[0]] -= pets
            shelter[rs] = fitting[0]
        else:
            unserved[c.household_id] = _room_reason(inst, c, pets, pet_room)


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
    reach = _reach(inst, "closed roads" if closures else "the road network")
    candidates: list[_Candidate] = []
    for hid, rs in by_household.items():
        allowed = _allowed_shelters(inst, reach, hid, rs)
        if isinstance(allowed, Unserved):
            unserved[hid] = allowed
        else:
            candidates.append(_candidate(inst, reach, hid, rs, allowed, preferred))
    _place_in_shelters(inst, candidates, shelter, unserved)
    return Triage(shelter, unserved)
