"""Large-neighbourhood search: OR-Tools re-routes the car that finishes last together with a few others.

A whole-town OR-Tools model is too slow at 1,000 households (see shared/SOLVER-NOTES.md); a group of
six to ten cars solves in a fraction of a second, and moving work off the latest car is what lowers
the clearance. The work is counted in model nodes, not seconds, so a seed gives the same plan on
any machine; the clock is only a safety stop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from matcher.solver.construct import Solution, TargetsKey, Trip, drive_car, targets_key, trips_keep_rules
from matcher.solver.instance import Instance
from matcher.solver.model import GroupResult, improve_group, model_size
from matcher.solver.safety import SafetyStop

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
#: Solutions of a guided-local-search round for a group that stalled (charged in proportion to the descent's).
ESCAPE_SOLUTIONS = 30

def _group(inst: Instance, sol: Solution, critical: int, rng: np.random.Generator, replan: bool = False) -> list[int]:
    """The latest car, the cars that finish earliest, and cars that start near its households.

    In a re-plan (``replan``) a latest car carrying wheelchair users is grouped with the wheelchair cars that finish
    earliest: only they can take its riders, and a repair has appended those who lost their car to busy ones.
    """
    n = inst.n_cars
    others = np.array([c for c in range(n) if c != critical])
    if others.size == 0:
        return [critical]
    if replan and any(inst.wheelchair[r] for t in sol.trips[critical] for r in t.pickups):
        wheel = [int(c) for c in others if inst.car_wheelchair[c] > 0]
        ends = [sol.finish[c] if sol.trips[c] else inst.car_from[c] for c in wheel]
        jitter = rng.random(len(wheel))
        ranked = [wheel[int(i)] for i in np.lexsort((jitter, ends))]
        return [critical, *ranked[: GROUP_CARS - 1]]
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


def _targets(inst: Instance, cars: list[int], trips: list[list[Trip]]) -> TargetsKey:
    """How well a group's trips keep their pickup targets (``targets_key``; larger is better)."""
    every = [[] for _ in range(inst.n_cars)]  # type: list[list[Trip]]
    for c, t in zip(cars, trips, strict=True):
        every[c] = t
    return targets_key(inst, every)


def _speaking(inst: Instance, cars: list[int], trips: list[list[Trip]]) -> int:
    """Households of a group's trips whose driver speaks their language."""
    return sum(int(inst.speaks[c, r]) for c, car_trips in zip(cars, trips, strict=True) for t in car_trips
               for r in t.pickups)


def work_for(time_limit_seconds: float) -> int:
    """The work budget (model nodes) of a time limit: a function of the limit alone."""
    return int(time_limit_seconds * NODES_PER_SECOND)


@dataclass(frozen=True)
class Improved:
    """What ``improve`` returns: the plan, the budget (model nodes) it did not spend, and the rounds it ran."""

    solution: Solution
    work_left: int
    rounds: int


@dataclass
class _Search:
    """The state of one improvement run: the trips per car, their finishes, and the shelters chosen."""

    inst: Instance
    trips: list[list[Trip]]
    finish: np.ndarray
    shelter: np.ndarray
    assigned: np.ndarray
    previous_car: dict[int, int] | None
    #: The far safety stop (wall clock for the service, the process's CPU seconds for a drill).
    stop: SafetyStop
    #: A re-plan's most requests of ``previous_car`` on another car (a group result past it is not taken).
    max_moved: int | None = None
    #: OR-Tools' exchange-pair moves on (``SolveParams.pair_exchange``).
    pair_exchange: bool = True

    def moved(self, trips: list[list[Trip]]) -> int:
        """Requests of ``previous_car`` that ``trips`` (all cars') put on another car."""
        promised = self.previous_car or {}
        return sum(1 for c, car_trips in enumerate(trips) for t in car_trips for r in t.pickups
                   if promised.get(r, c) != c)

    def room(self, group: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """People, and pets, each shelter can still take from the requests of ``group``'s cars."""
        inst = self.inst
        outside = self.assigned.copy()
        outside[group] = False
        people = inst.shelter_capacity - np.bincount(self.shelter[outside], weights=inst.people[outside],
                                                     minlength=inst.n_shelters).astype(np.int64)
        pets = inst.shelter_pet_room - np.bincount(self.shelter[outside], weights=inst.pets[outside],
                                                   minlength=inst.n_shelters)
        return people, pets

    def solve_group(self, cars: list[int], escape: bool) -> tuple[GroupResult, int]:
        """Re-route ``cars``: a probe first when they are the whole fleet; the result and the work spent."""
        inst = self.inst
        old = [self.finish[c] if self.trips[c] else inst.car_from[c] for c in cars]
        group = [r for c in cars for t in self.trips[c] for r in t.pickups]
        room, pet_room = self.room(group)
        group_trips = [self.trips[c] for c in cars]
        work = 0
        # A small fleet (the group is every car) first gets a probe: cut every car at a finish below
        # the current worst and ask OR-Tools to fit what was cut back in. On large fleets probes
        # rarely succeeded in measurements, so they go straight to minimising the latest finish.
        result = GroupResult(None)
        if len(cars) == inst.n_cars and not escape:
            target = max(old) - max(PROBE_STEP_MINUTES, PROBE_STEP_SHARE * max(old))
            cut = [_cut(inst, c, t, target) for c, t in zip(cars, group_trips, strict=True)]
            result = improve_group(inst, self.shelter, room, cars, group_trips, bound=target, stop=self.stop,
                                   solutions=PROBE_SOLUTIONS, previous_car=self.previous_car, start=cut,
                                   pet_room=pet_room, pair_exchange=self.pair_exchange)
            work += max(result.nodes, 1)
        if result.trips is None:
            solutions = ESCAPE_SOLUTIONS if escape else GROUP_SOLUTIONS
            result = improve_group(inst, self.shelter, room, cars, group_trips, bound=max(old), stop=self.stop,
                                   solutions=solutions, previous_car=self.previous_car, escape=escape,
                                   pet_room=pet_room, pair_exchange=self.pair_exchange)
            work += max(result.nodes, 1) * solutions // GROUP_SOLUTIONS
        return result, work

    def accept(self, cars: list[int], result: GroupResult) -> bool:
        """Take the group's new trips if they are feasible and lower its latest finish (or tidy at equal finish)."""
        assert result.trips is not None
        inst = self.inst
        old = [self.finish[c] if self.trips[c] else inst.car_from[c] for c in cars]
        new = []
        feasible = True
        group_trips = [self.trips[c] for c in cars]
        for c, t in zip(cars, result.trips, strict=True):
            f, ok = drive_car(inst, c, t)
            feasible &= ok and trips_keep_rules(inst, c, t)
            new.append(f if t else float(inst.car_from[c]))
        # Pickup targets rank above clearance: a group result may not keep them worse (fewer met, later beyond).
        feasible &= _targets(inst, cars, result.trips) >= _targets(inst, cars, group_trips)
        if self.max_moved is not None:
            trial = list(self.trips)
            for c, t in zip(cars, result.trips, strict=True):
                trial[c] = t
            feasible &= self.moved(trial) <= max(self.max_moved, self.moved(self.trips))
        tidier = self.previous_car is None and max(new) <= max(old) + 1e-9 and (
            sum(new) < sum(old) - 1e-6 or _speaking(inst, cars, result.trips) > _speaking(inst, cars, group_trips))
        if not (feasible and (max(new) < max(old) - 1e-6 or tidier)):
            return False
        for c, t, f in zip(cars, result.trips, new, strict=True):
            self.trips[c] = t
            self.finish[c] = f
        for r, sh in (result.shelter or {}).items():
            self.shelter[r] = sh
        return True

    def cost(self, cars: list[int]) -> int:
        """The least work a round on ``cars`` is charged (its model's size)."""
        return model_size(self.inst, self.shelter, [r for c in cars for t in self.trips[c] for r in t.pickups])

    @property
    def clearance(self) -> float:
        return Solution(self.trips, self.finish, self.assigned).clearance


def improve(
    inst: Instance,
    sol: Solution,
    shelter: np.ndarray,
    work: int,
    stop: SafetyStop,
    seed: int,
    progress: Callable[[str], None],
    previous_car: dict[int, int] | None = None,
    max_moved: int | None = None,
    pair_exchange: bool = True,
    stall_rounds: int | None = None,
) -> Improved:
    """Lower the clearance by re-routing groups of cars until ``work`` model nodes have been solved.

    Each round re-routes the latest car's group (see ``_group``; the wheelchair cars together when it
    carries wheelchair users). A group that fails to improve is left alone for a few rounds; a small
    fleet is always one group, which would come back unchanged: it is then searched with guided local
    search instead of plain descent, which leaves the local optimum it stalled in. Everything is counted in
    model nodes, so a seed and a budget give the same plan on any machine.

    ``stop`` is only a safety stop, set well past the time limit; a run that reaches it (a much slower or
    overloaded machine) is the one case where a run may not repeat, and ``stop.hit`` then says so. On the wall
    clock (the service) OR-Tools also cuts each LNS move at 0.1 s, which a busy machine can reach; on the CPU
    clock (a drill) only the safety stop cuts anything (see ``model.improve_group``).

    With ``previous_car`` (a re-plan) moving a household to another car has a cost, and a group
    result is kept only when it lowers the latest finish: stability before tidiness; with ``max_moved`` never one
    that leaves more than that many requests on another car. A latest car carrying wheelchair users is then grouped
    with the wheelchair cars that finish earliest.

    Outside a re-plan the search ends with work left when no round fits in it (a round is charged at least its
    model's size) or, with ``stall_rounds``, after that many rounds in a row kept nothing; ``Improved.work_left``
    says how much, for the caller to spend elsewhere (``solve`` gives it to ruin and recreate).
    """
    rng = np.random.default_rng(seed)
    search = _Search(inst, [list(t) for t in sol.trips], sol.finish.copy(), shelter, sol.assigned, previous_car,
                     stop, max_moved, pair_exchange)
    start_clearance = sol.clearance
    tabu: dict[int, int] = {}
    stalled: dict[int, int] = {}
    done = 0
    round_no = 0
    failed_in_row = 0
    while done < work and not stop.reached():
        if stall_rounds is not None and previous_car is None and failed_in_row >= stall_rounds:
            break  # stalled: the rest of the budget buys more elsewhere (``Improved.work_left``)
        round_no += 1
        active = [c for c in range(inst.n_cars) if search.trips[c]]
        if not active:
            break
        ranked = sorted(active, key=lambda c: (-search.finish[c], c))
        critical = next((c for c in ranked if tabu.get(c, -1) < round_no), ranked[0])
        current = Solution(search.trips, search.finish, sol.assigned)
        cars = _group(inst, current, critical, rng, replan=previous_car is not None)
        if previous_car is None and work - done < search.cost(cars):
            # A round is charged at least its model's size: one that does not fit would overrun the budget. (A
            # re-plan's short search is left as it was measured.)
            round_no -= 1
            break
        # Only a whole-fleet group comes back unchanged after a failure; other groups change as cars move.
        escape = len(cars) == inst.n_cars and stalled.get(critical, 0) > 0
        result, spent = search.solve_group(cars, escape=escape)
        done += spent
        if result.trips is not None and search.accept(cars, result):
            stalled.pop(critical, None)
            failed_in_row = 0
        else:
            stalled[critical] = stalled.get(critical, 0) + 1
            tabu[critical] = round_no + 3
            failed_in_row += 1
    improved = Solution(search.trips, search.finish, sol.assigned)
    left = max(work - done, 0)
    progress(f"improvement: clearance {start_clearance:.1f} -> {improved.clearance:.1f} min in {round_no} rounds"
             + (f", {left} of {work} nodes left" if left else ""))
    return Improved(improved, left, round_no)
