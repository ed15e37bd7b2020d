"""Exact evacuation time of tiny Bus Evacuation Problem instances, by depth-first search with memoised failures.

The model is the BEP as the instance files and the GRASP code of Loyola Vitali et al. define it (and as
``benchmarks.bep.bep_problem`` converts it): each bus starts at its depot, drives to an AP, carries one bus-load
to a shelter with room left, then shelter -> AP -> shelter as often as it likes; the shelter -> AP time is the
AP -> shelter time; a bus does not return; the evacuation time is the longest bus schedule. Demands are whole
bus-loads (the files say so), so a shelter holds ``capacity // bus_capacity`` loads.

Buses never meet (a shelter's room is a count, not a timetable), so a plan is one trip sequence per bus. The
search answers "can every load be out by minute T?" for T = lower bound, lower bound + 1, ...: the first T that
succeeds is the optimum, every smaller one is proven impossible. States are memoised up to bus symmetry
(buses at the same place at the same minute are interchangeable), and two bounds cut branches: how many
loads each bus can still carry by T, and the total bus time left against the least time each load needs.

Run: ``python -m benchmarks.bep_exact BEP-1-3-3-2-i5 [BEP-1-4-4-3-i9 ...]`` (names under the shared ``rand/``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bep import BEP_DIR, BepInstance, bep_problem, read_bep
from matcher.check import check_plan
from matcher.plan import Plan
from matcher.problem import Problem
from matcher.requests import Request, requests_for
from matcher.schedule import Dropoff, Pickup, Visit, build_plan

#: One bus trip: (AP index, shelter index), 0-based.
TripPair = tuple[int, int]


class SearchLimit(Exception):
    """The search visited more states than allowed before it could prove the optimum."""


@dataclass(frozen=True)
class ExactResult:
    """The optimum (proven when ``proven``), one trip sequence per bus, and the search effort."""

    makespan: int
    routes: tuple[tuple[TripPair, ...], ...]  # per bus, in the order of ``bep_problem``'s drivers
    proven: bool
    lower_bound: int  # every T below it was proven impossible
    nodes: int


def bus_minutes(inst: BepInstance, depot: int, trips: tuple[TripPair, ...]) -> float:
    """One bus's schedule length: depot -> AP, then AP -> shelter, shelter -> next AP, ... (no return)."""
    total = 0.0
    at_shelter: int | None = None
    for ap, shelter in trips:
        if at_shelter is None:
            total += inst.depot_to_ap_minutes[depot, ap]
        else:
            total += inst.ap_to_shelter_minutes[ap, at_shelter]
        total += inst.ap_to_shelter_minutes[ap, shelter]
        at_shelter = shelter
    return total


def _depots(inst: BepInstance) -> list[int]:
    return [d for d, count in enumerate(inst.buses_per_depot) for _ in range(count)]


class _Search:
    """The decision search for one instance; ``feasible(T)`` returns routes or None."""

    def __init__(self, inst: BepInstance, max_nodes: int) -> None:
        q = inst.bus_capacity
        if any(people % q for people in inst.demand):
            raise ValueError(f"{inst.name}: a demand is not a whole number of bus-loads of {q}")
        self.inst = inst
        self.loads = tuple(people // q for people in inst.demand)
        self.rooms = tuple(c // q for c in inst.shelter_capacity)
        self.n_depots = len(inst.buses_per_depot)
        n_aps, n_sh = inst.ap_to_shelter_minutes.shape
        # Place p < n_depots is a depot, p >= n_depots the shelter p - n_depots; approach[p][a] = p -> AP a.
        self.approach = [[int(inst.depot_to_ap_minutes[d, a]) for a in range(n_aps)] for d in range(self.n_depots)]
        self.approach += [[int(inst.ap_to_shelter_minutes[a, s]) for a in range(n_aps)] for s in range(n_sh)]
        self.carry = [[int(inst.ap_to_shelter_minutes[a, s]) for s in range(n_sh)] for a in range(n_aps)]
        self.first = [min(ap[a] + min(self.carry[a]) for a in range(n_aps)) for ap in self.approach]
        self.cycle = min(self.first[self.n_depots:])  # least time of any load after the first
        # Least time any bus can spend on one load of AP a (approach from anywhere, nearest shelter).
        self.per_load = [min(ap[a] for ap in self.approach) + min(self.carry[a]) for a in range(n_aps)]
        self.max_nodes = max_nodes
        self.nodes = 0

    def _loads_possible(self, place: int, minute: int, limit: int) -> int:
        spare = limit - minute - self.first[place]
        if spare < 0:
            return 0
        return 1 + spare // self.cycle if self.cycle > 0 else sum(self.loads)

    def feasible(self, limit: int) -> list[tuple[TripPair, ...]] | None:
        """Trip sequences (in bus order) that bring every load out by ``limit``, or None when none can."""
        failed: set[tuple[tuple[tuple[int, int], ...], tuple[int, ...], tuple[int, ...]]] = set()
        depots = _depots(self.inst)
        buses = [(d, 0) for d in depots]  # (place, minute) per bus
        routes: list[list[TripPair]] = [[] for _ in depots]

        def dfs(active: tuple[int, ...], left: tuple[int, ...], room: tuple[int, ...]) -> bool:
            remaining = sum(left)
            if remaining == 0:
                return True
            if not active:
                return False
            key = (tuple(sorted(buses[b] for b in active)), left, room)
            if key in failed:
                return False
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise SearchLimit
            spare = sum(limit - buses[b][1] for b in active)
            need = sum(n * self.per_load[a] for a, n in enumerate(left))
            if spare < need or sum(self._loads_possible(*buses[b], limit) for b in active) < remaining:
                failed.add(key)
                return False
            # Extend the bus that is earliest (ties: lowest place, then index); any plan is reachable this way.
            bus = min(active, key=lambda b: (buses[b][1], buses[b][0], b))
            place, minute = buses[bus]
            options = sorted(
                (minute + self.approach[place][a] + self.carry[a][s], a, s)
                for a, n in enumerate(left) if n
                for s, r in enumerate(room) if r
            )
            for finish, a, s in options:
                if finish > limit:
                    break
                buses[bus] = (self.n_depots + s, finish)
                routes[bus].append((a, s))
                ok = dfs(active, _minus(left, a), _minus(room, s))
                if ok:
                    return True
                routes[bus].pop()
                buses[bus] = (place, minute)
            # Or the bus stops here for good.
            if dfs(tuple(b for b in active if b != bus), left, room):
                return True
            failed.add(key)
            return False

        if dfs(tuple(range(len(depots))), self.loads, self.rooms):
            return [tuple(r) for r in routes]
        return None


def _minus(values: tuple[int, ...], i: int) -> tuple[int, ...]:
    return (*values[:i], values[i] - 1, *values[i + 1:])


def solve_exact(inst: BepInstance, max_nodes: int = 5_000_000) -> ExactResult:
    """The least evacuation time of ``inst`` and a plan that reaches it.

    Raises ``ValueError`` when the shelters cannot hold every load, or a demand is not whole bus-loads. When
    the search passes ``max_nodes`` states at some T, the result is not ``proven``: ``lower_bound`` is that T
    (every smaller T is impossible) and the routes are empty.
    """
    search = _Search(inst, max_nodes)
    if sum(search.rooms) < sum(search.loads):
        raise ValueError(f"{inst.name}: the shelters hold {sum(search.rooms)} bus-loads, {sum(search.loads)} wait")
    if sum(search.loads) == 0:
        return ExactResult(0, tuple(() for _ in _depots(inst)), True, 0, 0)
    limit = min(search.first[: search.n_depots])
    while True:
        try:
            routes = search.feasible(limit)
        except SearchLimit:
            return ExactResult(limit, (), False, limit, search.nodes)
        if routes is not None:
            return ExactResult(limit, tuple(routes), True, limit, search.nodes)
        limit += 1


def exact_plan(inst: BepInstance, problem: Problem, result: ExactResult) -> Plan:
    """The exact routes as our Plan on ``bep_problem(inst)``, so ``check_plan`` can verify them."""
    requests: dict[int, list[Request]] = {}
    by_household = {r.household_id: r for r in requests_for(problem.households, problem.drivers)}
    for h in problem.households:  # ids "AP<a+1>.<k+1>", one request each (a bus-load)
        requests.setdefault(int(h.id[2:].split(".")[0]) - 1, []).append(by_household[h.id])
    sequences: dict[str, list[Visit]] = {}
    for driver, trips in zip(problem.drivers, result.routes, strict=True):
        visits: list[Visit] = []
        for ap, shelter in trips:
            request = requests[ap].pop()
            visits += [Pickup(request), Dropoff(problem.shelters[shelter].id, (request,))]
        sequences[driver.id] = visits
    return build_plan(problem, sequences, [], with_paths=False)


def _run(names: list[str], max_nodes: int) -> Iterator[str]:
    yield "| instance | buses | loads | exact | proven | states | check | CPU s |"
    yield "|---|---:|---:|---:|---|---:|---|---:|"
    for name in names:
        path = Path(name) if name.endswith(".txt") else BEP_DIR / "rand" / f"{name}.txt"
        inst = read_bep(path)
        cpu = time.process_time()
        result = solve_exact(inst, max_nodes)
        cpu = time.process_time() - cpu
        check = "–"
        if result.proven:
            problem = bep_problem(inst)
            plan = exact_plan(inst, problem, result)
            bad = check_plan(problem, plan)
            same = math.isclose(plan.metrics.clearance_minute, result.makespan)
            check = "valid" if not bad and same and not plan.unserved else f"**{len(bad)} violations**"
        value = result.makespan if result.proven else f"≥ {result.lower_bound}"
        yield (f"| {inst.name} | {inst.buses} | {sum(inst.demand) // inst.bus_capacity} | {value} | "
               f"{'yes' if result.proven else 'no'} | {result.nodes} | {check} | {cpu:.2f} |")
        if result.proven:
            for d, trips in zip(_depots(inst), result.routes, strict=True):
                legs = " ".join(f"AP{a + 1}->S{s + 1}" for a, s in trips)
                yield f"<!-- bus at depot {d + 1}: {legs} ({bus_minutes(inst, d, trips):g} min) -->"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instances", nargs="+", help="instance names under rand/ (or .txt paths)")
    parser.add_argument("--max-nodes", type=int, default=5_000_000, help="search states before giving up")
    args = parser.parse_args(argv)
    for line in _run(args.instances, args.max_nodes):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
