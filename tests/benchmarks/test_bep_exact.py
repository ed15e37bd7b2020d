"""The exact BEP search: known optima of hand-made instances, checked plans, and a brute-force cross-check."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from benchmarks.bep import BEP_DIR, BepInstance, bep_problem, read_bep
from benchmarks.bep_exact import bus_minutes, exact_plan, solve_exact
from matcher.check import check_plan

# 1 depot with 2 buses of 2 seats; AP1 has 4 people (two loads), AP2 has 2 (one load); S1, S2 hold 2 loads each.
# By hand: one bus must carry two loads, the cheapest pair is AP1, AP1 via S2 (3 + 2 + 2 + 2 = 9), and the other
# bus takes AP2 -> S1 (1 + 4 = 5), so the optimum is 9.
TWO_BUSES = """\
2 2
1 2
2 6 4 2
2 8 4 4

1 3 1

1 5 2
2 4 6
"""

# 1 bus of 1 seat, AP1 with 2 people; S1 (1 place) is 1 minute away, S2 (5 places) 4 minutes. The near shelter
# first: 2 + 1, back 1, + 4 = 8; the far one first costs 2 + 4 + 4 + 1 = 11.
ONE_BUS = """\
1 1
1 1
1 2 2
2 6 1 5

1 2

1 1 4
"""

# Shelters too small for the loads.
NO_ROOM = ONE_BUS.replace("2 6 1 5", "2 1 1 0")


def _write(tmp_path: Path, text: str, name: str = "BEP-1-2-2-2-hand") -> BepInstance:
    path = tmp_path / f"{name}.txt"
    path.write_text(text)
    return read_bep(path)


@pytest.mark.parametrize(("text", "optimum"), [(TWO_BUSES, 9), (ONE_BUS, 8)])
def test_hand_made_optimum_and_checked_plan(tmp_path: Path, text: str, optimum: int) -> None:
    """The search finds the optimum worked out by hand, and its routes are a valid plan of that length."""
    inst = _write(tmp_path, text)
    result = solve_exact(inst)
    assert result.proven
    assert result.makespan == optimum
    assert max(bus_minutes(inst, 0, trips) for trips in result.routes) == optimum
    problem = bep_problem(inst)
    plan = exact_plan(inst, problem, result)
    assert check_plan(problem, plan) == []
    assert not plan.unserved
    assert plan.metrics.clearance_minute == optimum


def test_too_little_shelter_room_is_refused(tmp_path: Path) -> None:
    """Shelters that cannot hold every load are an error naming the instance, not a wrong optimum."""
    with pytest.raises(ValueError, match="BEP-1-2-2-2-hand: the shelters hold 1 bus-loads, 2 wait"):
        solve_exact(_write(tmp_path, NO_ROOM))


def _brute_force(inst: BepInstance) -> float:
    """Every way to deal the loads to the buses in every order and every shelter choice: the least makespan."""
    loads = [a for a, people in enumerate(inst.demand) for _ in range(people // inst.bus_capacity)]
    rooms = [c // inst.bus_capacity for c in inst.shelter_capacity]
    n_sh = len(rooms)
    best = float("inf")
    for order in set(itertools.permutations(loads)):
        for cut in range(len(order) + 1):  # two buses: the first takes order[:cut]
            for shelters in itertools.product(range(n_sh), repeat=len(order)):
                if any(shelters.count(s) > rooms[s] for s in range(n_sh)):
                    continue
                trips = list(zip(order, shelters, strict=True))
                best = min(best, max(bus_minutes(inst, 0, tuple(trips[:cut])),
                                     bus_minutes(inst, 0, tuple(trips[cut:]))))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_on_random_tiny_instances(tmp_path: Path, seed: int) -> None:
    """On random 2-bus instances with up to 5 loads, the search's optimum equals full enumeration's."""
    rng = random.Random(seed)
    demand = [rng.randint(0, 3) for _ in range(2)]
    demand[0] += demand[0] + demand[1] == 0
    caps = [rng.randint(1, 4) for _ in range(2)]
    caps[1] += max(0, sum(demand) - sum(caps))
    depot = [rng.randint(1, 9) for _ in range(2)]
    dist = [[rng.randint(1, 9) for _ in range(2)] for _ in range(2)]
    text = (f"2 1\n1 2\n2 {sum(demand)} {demand[0]} {demand[1]}\n2 {sum(caps)} {caps[0]} {caps[1]}\n"
            f"1 {depot[0]} {depot[1]}\n1 {dist[0][0]} {dist[0][1]}\n2 {dist[1][0]} {dist[1][1]}\n")
    inst = _write(tmp_path, text)
    result = solve_exact(inst)
    assert result.proven
    assert result.makespan == _brute_force(inst)


@pytest.mark.skipif(not BEP_DIR.is_dir(), reason=f"the shared BEP instances are not at {BEP_DIR}")
def test_bep_1_3_3_2_i5_is_10_under_the_file_model() -> None:
    """The instance whose CPLEX reference says 8: no plan under the instance's model beats 10 (and 10 is valid)."""
    inst = read_bep(BEP_DIR / "rand" / "BEP-1-3-3-2-i5.txt")
    result = solve_exact(inst)
    assert (result.proven, result.makespan) == (True, 10)
    problem = bep_problem(inst)
    assert check_plan(problem, exact_plan(inst, problem, result)) == []
