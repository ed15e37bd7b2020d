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


def triage(inst: Instance, preferred: Mapping[str, int] | None = None) -> Triage:
    """Decide shelters within capacity and access, and exclude what no plan could serve.

    Households are placed most urgent first, then those with the least choice (largest regret between
    their nearest and second-nearest shelter), each at the nearest shelter that still has room, so a
    full shelter costs the households that have good alternatives. ``preferred`` (household id to
    shelter index, from a previous plan) is honoured first where access and room allow, so a
    re-plan does not send people to a different shelter than they were told.
    """
    preferred = preferred or {}
    T = inst.T
    problem = inst.problem
    closures = bool(problem.alert.closed_ways or problem.alert.flood_zones)
    n_s = inst.n_shelters
    shelter = np.full(inst.n_requests, -1, dtype=np.int64)
    unserved: dict[str, Unserved] = {}
    by_household: dict[str, list[int]] = defaultdict(list)
    for r, req in enumerate(inst.requests):
        by_household[req.household_id].append(r)

    if inst.n_shelters == 0 or inst.n_cars == 0:
        missing = ("no shelter is open: open a shelter", UnservedCode.NO_SHELTER_ROOM) if inst.n_shelters == 0 \
            else ("no volunteer driver is available: find drivers", UnservedCode.NOT_ENOUGH_CARS)
        return Triage(shelter, {hid: Unserved(hid, *missing) for hid in by_household})
    to_shelter = T[np.ix_(inst.home, inst.shelter_loc)]  # (r, s)
    from_cars = T[np.ix_(inst.car_start, inst.home)]  # (c, r)
    road_word = "closed roads" if closures else "the road network"

    candidates: list[tuple[int, int, float, str, list[int], np.ndarray]] = []
    for hid, rs in by_household.items():
        r0 = rs[0]
        wheelchair = int(inst.wheelchair[rs].max())
        if not np.isfinite(from_cars[:, r0]).any():
            unserved[hid] = Unserved(hid, f"cut off by {road_word}: no volunteer car can drive to this address",
                                     UnservedCode.CUT_OFF)
            continue
        reachable = np.isfinite(to_shelter[r0])
        if not reachable.any():
            unserved[hid] = Unserved(hid, f"cut off by {road_word}: no shelter can be reached from this address",
                                     UnservedCode.CUT_OFF)
            continue
        if wheelchair and not (inst.car_wheelchair >= wheelchair).any():
            unserved[hid] = Unserved(
                hid, f"needs {wheelchair} wheelchair space(s); no volunteer car has that many: find a wheelchair van",
                UnservedCode.NO_WHEELCHAIR_CAR)
            continue
        allowed = reachable & (inst.shelter_accessible if wheelchair else np.ones(n_s, dtype=bool))
        if not allowed.any():
            unserved[hid] = Unserved(hid, "needs a wheelchair-accessible shelter; none can be reached",
                                     UnservedCode.NO_ACCESSIBLE_SHELTER)
            continue
        # Can any car that fits every part reach the home and a shelter before the deadline?
        ok = np.zeros(n_s, dtype=bool)
        for r in rs:
            fits = (inst.car_seats >= inst.seated[r]) & (inst.car_wheelchair >= inst.wheelchair[r])
            start = np.maximum(inst.car_from[fits] + from_cars[fits, r], inst.ready[r]) + inst.pickup_minutes
            finish = start[:, None] + to_shelter[r][None, :]
            limit = inst.car_end[fits][:, None]
            ride_ok = to_shelter[r] <= inst.max_ride[r] + 1e-9
            ok_r = ((finish <= limit + 1e-9) & ride_ok[None, :]).any(axis=0) if fits.any() else np.zeros(n_s, bool)
            ok = ok_r if r == rs[0] else ok & ok_r
        allowed &= ok
        if not allowed.any():
            kind = "wheelchair-capable car" if wheelchair else "car"
            unserved[hid] = Unserved(
                hid, f"no {kind} can reach this address and a shelter before the deadline"
                + (f" (ready only at minute {inst.ready[r0]:g})" if inst.ready[r0] > 0 else ""),
                UnservedCode.TOO_LATE)
            continue
        times = np.where(allowed, to_shelter[r0], np.inf)
        order = np.sort(times)
        regret = float(order[1] - order[0]) if n_s > 1 and np.isfinite(order[1]) else float("inf")
        if hid in preferred and allowed[preferred[hid]]:
            times = times.copy()
            times[preferred[hid]] = -1.0  # tried first
        candidates.append((0 if hid in preferred else 1, int(inst.priority[r0]), -regret, hid, rs, times))

    room = inst.shelter_capacity.astype(np.int64).copy()
    accessible = inst.shelter_accessible
    ordered = sorted(candidates, key=lambda c: c[:4])

    def needs_access(rs: list[int]) -> bool:
        return bool(inst.wheelchair[rs].max() > 0)

    # Room in accessible shelters is kept for the wheelchair households still to be placed: a
    # household that can go anywhere takes it only when nothing else is left for them.
    reserve = sum(int(sum(inst.requests[r].people for r in c[4])) for c in ordered if needs_access(c[4]))
    for *_order, hid, rs, times in ordered:
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
            wheelchair = int(inst.wheelchair[rs].max())
            what = "no wheelchair-accessible shelter it can reach has room" if wheelchair else \
                "no shelter it can reach has room"
            unserved[hid] = Unserved(hid, f"{what} left: open another shelter or raise a capacity",
                                     UnservedCode.NO_SHELTER_ROOM)
    return Triage(shelter, unserved)
