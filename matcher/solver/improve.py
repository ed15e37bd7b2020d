"""Large-neighbourhood search: OR-Tools re-routes the car that finishes last together with a few others.

A whole-town OR-Tools model is too slow at 1,000 households (see shared/SOLVER-NOTES.md); a group of
six to ten cars solves in a fraction of a second, and moving work off the latest car is what lowers
the clearance. The work is counted in model nodes, not seconds, so a seed gives the same plan on
any machine; the clock is only a safety stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from matcher.solver.construct import Solution, Trip, drive_car
from matcher.solver.instance import Instance
from matcher.solver.model import GroupResult, improve_group

#: Work budget per second of time limit, in model nodes solved (pickup and delivery-alternative
#: nodes summed over OR-Tools calls): measured on a 2-core machine so that the search ends near
#: 80% of the limit on the benchmark instances. Nodes, not seconds, so a seed repeats exactly.
NODES_PER_SECOND = 250.0
GROUP_CARS = 8
#: A probe asks for a finish this much below the current worst (the larger of the two).
PROBE_STEP_MINUTES = 0.5
PROBE_STEP_SHARE = 0.02
#: OR-Tools descends to a local optimum; these cap the solutions of one call (a count, not seconds).
GROUP_SOLUTIONS = 15
#: A probe stops at its first complete solution; this bounds a probe that finds none.
PROBE_SOLUTIONS = 30

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


def _cut(inst: Instance, car: int, trips: list[Trip], bound: float) -> list[Trip]:
    """The longest prefix of a car's trips that finishes by ``bound`` and leaves nobody on board."""
    for n in range(len(trips), 0, -1):
        prefix = trips[:n]
        finish, ok = drive_car(inst, car, prefix)
        if ok and finish <= bound:
            return prefix
    return []


def work_for(time_limit_seconds: float) -> int:
    """The work budget (model nodes) of a time limit: a function of the limit alone."""
    return int(time_limit_seconds * NODES_PER_SECOND)


def improve(
    inst: Instance,
    sol: Solution,
    shelter: np.ndarray,
    work: int,
    deadline: float,
    seed: int,
    progress: Callable[[str], None],
    previous_car: dict[int, int] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    repeatable: bool = False,
) -> Solution:
    """Lower the clearance by re-routing groups of cars until ``work`` model nodes have been solved.

    ``deadline`` (on ``clock``) is only a safety stop, set well past the time limit: the work is counted in
    model nodes and each OR-Tools call ends at a local optimum, so a run repeats exactly; a run that reaches
    the safety stop (a much slower or overloaded machine) is the one case where it may not. Without
    ``repeatable`` OR-Tools also cuts each LNS move at 0.1 s of wall clock, which a busy machine can reach; a
    drill sets it, so that only the safety stop cuts anything.

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
    done = 0
    round_no = 0
    while done < work and clock() < deadline:
        round_no += 1
        active = [c for c in range(inst.n_cars) if trips[c]]
        if not active:
            break
        ranked = sorted(active, key=lambda c: (-finish[c], c))
        critical = next((c for c in ranked if tabu.get(c, -1) < round_no), ranked[0])
        cars = _group(inst, Solution(trips, finish, sol.assigned), critical, rng)
        old = [finish[c] if trips[c] else inst.car_from[c] for c in cars]
        group = [r for c in cars for t in trips[c] for r in t.pickups]
        outside = assigned.copy()
        outside[group] = False
        room = inst.shelter_capacity - np.bincount(shelter[outside], weights=people[outside],
                                                   minlength=inst.n_shelters).astype(np.int64)
        group_trips = [trips[c] for c in cars]
        # A small fleet (the group is every car) first gets a probe: cut every car at a finish below
        # the current worst and ask OR-Tools to fit what was cut back in. On large fleets probes
        # rarely succeeded in measurements, so they go straight to minimising the latest finish.
        whole_fleet = len(cars) == inst.n_cars
        result = GroupResult(None)
        if whole_fleet:
            target = max(old) - max(PROBE_STEP_MINUTES, PROBE_STEP_SHARE * max(old))
            cut = [_cut(inst, c, t, target) for c, t in zip(cars, group_trips, strict=True)]
            result = improve_group(inst, shelter, room, cars, group_trips, bound=target,
                                   seconds=deadline - clock(),
                                   solutions=PROBE_SOLUTIONS, previous_car=previous_car, start=cut,
                                   repeatable=repeatable)
            done += max(result.nodes, 1)
        if result.trips is None:
            result = improve_group(inst, shelter, room, cars, group_trips, bound=max(old),
                                   seconds=deadline - clock(),
                                   solutions=GROUP_SOLUTIONS, previous_car=previous_car, repeatable=repeatable)
            done += max(result.nodes, 1)
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
    progress(f"improvement: clearance {start_clearance:.1f} -> {improved.clearance:.1f} min in {round_no} rounds")
    return improved
