"""Reading Bus Evacuation Problem instances into our Problem, and the greedy's value on a tiny one."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.bep import BEP_DIR, bep_problem, read_bep, reference_values
from benchmarks.peers.greedy import solve_greedy
from matcher.check import check_plan

needs_data = pytest.mark.skipif(not BEP_DIR.is_dir(), reason=f"the shared BEP instances are not at {BEP_DIR}")

# 1 depot with 2 buses of 2 seats; AP1 has 4 people (two bus-loads), AP2 has 2; shelters S1, S2 hold 4 each.
TINY = """\
2 2
1 2
2 6 4 2
2 8 4 4

1 3 1

1 5 2
2 4 6
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "BEP-1-2-2-2-tiny.txt"
    path.write_text(TINY)
    return path


def test_reads_counts_and_distances(tiny: Path) -> None:
    """Every header figure and distance row lands where the format says."""
    inst = read_bep(tiny)
    assert (inst.bus_capacity, inst.buses_per_depot, inst.demand, inst.shelter_capacity) == (2, (2,), (4, 2), (4, 4))
    assert inst.depot_to_ap_minutes.tolist() == [[3, 1]]
    assert inst.ap_to_shelter_minutes.tolist() == [[5, 2], [4, 6]]


def test_inconsistent_totals_are_refused(tmp_path: Path) -> None:
    """A header total that disagrees with the listed demands is an error naming the file."""
    path = tmp_path / "bad.txt"
    path.write_text(TINY.replace("2 6 4 2", "2 7 4 2"))
    with pytest.raises(ValueError, match=r"bad\.txt: AP demands"):
        read_bep(path)


def test_problem_has_one_household_per_bus_load(tiny: Path) -> None:
    """Buses become 2-seat drivers at the depot, APs one household per bus-load; missing legs are inf."""
    problem = bep_problem(read_bep(tiny))
    assert [d.seats for d in problem.drivers] == [2, 2]
    assert [(h.id, h.people) for h in problem.households] == [("AP1.1", 2), ("AP1.2", 2), ("AP2.1", 2)]
    assert problem.minutes("driver", "B1.2", "household", "AP2.1") == 1
    assert problem.minutes("shelter", "S1", "household", "AP1.2") == 5  # back from a shelter: symmetric
    assert problem.minutes("household", "AP1.1", "household", "AP1.2") == 0  # same AP
    assert math.isinf(problem.minutes("household", "AP1.1", "household", "AP2.1"))
    assert math.isinf(problem.minutes("driver", "B1.1", "shelter", "S1"))
    assert (problem.service.pickup, problem.service.dropoff) == (0, 0)


def test_greedy_on_tiny_instance_matches_hand_computation(tiny: Path) -> None:
    """Hand-computed greedy evacuation time: 9.

    Shelters, farthest first: AP2 (4 from S1) -> S1; AP1's loads (2 from S2) -> S2. Dispatch: AP2 by bus 1
    (1 + 4 = 5); AP1 load 1 by bus 2 (3 + 2 = 5); AP1 load 2 by bus 2 again, from S2 (5 + 2 + 2 = 9),
    which beats bus 1 from S1 (5 + 5 + 2 = 12). 9 is also optimal here.
    """
    for per_bus_load in (True, False):  # the split-household reading gives the same trips
        problem = bep_problem(read_bep(tiny), per_bus_load=per_bus_load)
        plan = solve_greedy(problem)
        assert check_plan(problem, plan) == []
        assert plan.unserved == ()
        assert plan.metrics.clearance_minute == 9


@needs_data
def test_reads_a_real_instance() -> None:
    """Valparaíso, 10 buses: sizes and totals as in its file name and header."""
    inst = read_bep(BEP_DIR / "real" / "BEP-5-52-12-10.txt")
    assert (inst.buses, inst.bus_capacity, len(inst.buses_per_depot)) == (10, 30, 5)
    assert (len(inst.demand), sum(inst.demand)) == (52, 2250)
    assert (len(inst.shelter_capacity), sum(inst.shelter_capacity)) == (12, 2250)
    assert inst.depot_to_ap_minutes.shape == (5, 52) and inst.ap_to_shelter_minutes.shape == (52, 12)
    assert inst.depot_to_ap_minutes[0, 0] == 4804
    problem = bep_problem(inst)
    assert len(problem.households) == 2250 // 30 and len(problem.drivers) == 10


@needs_data
def test_greedy_plan_on_a_random_instance_is_valid_and_not_below_the_optimum() -> None:
    """BEP-1-2-2-2-i1 has the proven optimum 46; the greedy's plan is valid and cannot beat it."""
    reference = reference_values()
    assert reference["BEP-1-2-2-2-i1"] == 46
    problem = bep_problem(read_bep(BEP_DIR / "rand" / "BEP-1-2-2-2-i1.txt"))
    plan = solve_greedy(problem)
    assert check_plan(problem, plan) == []
    assert plan.unserved == () and plan.metrics.clearance_minute >= 46
