"""Large-neighbourhood search: OR-Tools re-routes the car that finishes last together with a few others.

A whole-town OR-Tools model is too slow at 1,000 households (see shared/SOLVER-NOTES.md); a group of
six to ten cars solves in a fraction of a second, and moving work off the latest car is what lowers
the clearance. The work is counted in rounds, not seconds, so a seed gives the same plan on any
machine; the time limit is only a safety stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from matcher.solver.construct import Solution, drive_car
from matcher.solver.instance import Instance
from matcher.solver.model import improve_group

#: Rounds of group re-routing per second of time limit, measured on a 2-core machine.
ROUNDS_PER_SECOND = 2.0
GROUP_CARS = 8
#: OR-Tools stops a group after about this many solutions per request in it, within the bounds
#: below: a count, not seconds, so runs repeat exactly. Small groups get a deeper search.
GROUP_SOLUTION_WORK = 3000
GROUP_SOLUTIONS = (30, 1000)
#: Safety stop for one group, far above what a group needs; hitting it makes a run time-dependent.
GROUP_SECONDS_CAP = 1.5


def _group(inst: Instance, sol: Solution, critical: int, rng: np.random.Generator) -> list[int]:
    """The latest car, the cars that finish earliest, and cars that start near its households."""
    n = inst.n_cars
    others = np.array([c for c in range(n) if c != critical])
    if others.size == 0:
        return [critical]
    homes = [inst.home[r] for t in sol.trips[critical] for r in t.pickups] or [inst.car_start[critical]]
    near = inst.T[np.ix_(inst.car_start[others], homes)].min(axis=1)
    jitter = rng.random(others.size)
    picked: list[int] = []
    k = min(GROUP_CARS - 1, others.size)
    by_finish = others[np.lexsort((jitter, sol.finish[others]))]
    by_near = others[np.lexsort((jitter, near))]
    needs_wheel = any(inst.wheelchair[r] for t in sol.trips[critical] for r in t.pickups)
    if needs_wheel:
        wheel = [int(c) for c in by_finish if inst.car_wheelchair[c] > 0][: max(1, k // 2)]
        picked.extend(wheel)
    for a, b in zip(by_finish, by_near, strict=True):
        for c in (int(b), int(a)):
            if len(picked) < k and c not in picked:
                picked.append(c)
        if len(picked) >= k:
            break
    return [critical, *picked]


def rounds_for(time_limit_seconds: float) -> int:
    """The round budget of a time limit: a function of the limit alone, so a seed repeats exactly."""
    return int(time_limit_seconds * ROUNDS_PER_SECOND)


def improve(
    inst: Instance,
    sol: Solution,
    shelter: np.ndarray,
    rounds: int,
    deadline: float,
    seed: int,
    progress: Callable[[str], None],
    previous_car: dict[int, int] | None = None,
) -> Solution:
    """Lower the clearance by re-routing groups of cars for ``rounds`` rounds (``deadline`` is a safety stop).

    With ``previous_car`` (a re-plan) moving a household to another car has a cost, and a group
    result is kept only when it lowers the latest finish: stability before tidiness.
    """
    rng = np.random.default_rng(seed)
    trips = [list(t) for t in sol.trips]
    finish = sol.finish.copy()
    people = inst.seated + inst.wheelchair
    assigned = sol.assigned
    start_clearance = sol.clearance
    tabu: dict[int, int] = {}
    for round_no in range(rounds):
        if time.perf_counter() > deadline:
            break
        active = [c for c in range(inst.n_cars) if trips[c]]
        if not active:
            break
        ranked = sorted(active, key=lambda c: (-finish[c], c))
        critical = next((c for c in ranked if tabu.get(c, -1) < round_no), ranked[0])
        cars = _group(inst, Solution(trips, finish, sol.assigned), critical, rng)
        old = [finish[c] if trips[c] else inst.car_from[c] for c in cars]
        group = [r for c in cars for t in trips[c] for r in t.pickups]
        solutions = int(np.clip(GROUP_SOLUTION_WORK / max(len(group), 1), *GROUP_SOLUTIONS))
        outside = assigned.copy()
        outside[group] = False
        room = inst.shelter_capacity - np.bincount(shelter[outside], weights=people[outside],
                                                   minlength=inst.n_shelters).astype(np.int64)
        result = improve_group(inst, shelter, room, cars, [trips[c] for c in cars], bound=max(old),
                               seconds=min(GROUP_SECONDS_CAP, deadline - time.perf_counter()),
                               solutions=solutions, previous_car=previous_car)
        if result.trips is None:
            tabu[critical] = round_no + 3
            continue
        new = []
        feasible = True
        for c, t in zip(cars, result.trips, strict=True):
            f, ok = drive_car(inst, c, t)
            feasible &= ok
            new.append(f if t else float(inst.car_from[c]))
        tidier = previous_car is None and max(new) <= max(old) + 1e-9 and sum(new) < sum(old) - 1e-6
        if feasible and (max(new) < max(old) - 1e-6 or tidier):
            for c, t, f in zip(cars, result.trips, new, strict=True):
                trips[c] = t
                finish[c] = f
            for r, s in (result.shelter or {}).items():
                shelter[r] = s
        else:
            tabu[critical] = round_no + 3
    improved = Solution(trips, finish, sol.assigned)
    progress(f"improvement: clearance {start_clearance:.1f} -> {improved.clearance:.1f} min in {rounds} rounds")
    return improved
