"""Triage's whole-problem "in time" rule gives the per-request rule's answers and the same reasons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matcher.problem import Problem
from matcher.solver.instance import build_instance
from matcher.solver.triage import _in_time_all, _in_time_one, _reach, triage
from tests.factories import driver, household, make_problem, shelter


def _mixed_problem(seed: int) -> Problem:
    """Random places with cut-off homes (no road in or out), homes too far for the deadline, split households."""
    rng = np.random.default_rng(seed)
    n_h, n_d, n_s = 40, 8, 3
    households = [household(f"H{i:02d}", people=int(rng.integers(1, 7)), wheelchair_users=int(rng.random() < 0.15),
                            ready_from_minute=float(rng.choice([0, 0, 20, 50]))) for i in range(n_h)]
    drivers = [driver(f"D{i}", seats=int(rng.integers(2, 5)), wheelchair_spaces=int(i % 3 == 0)) for i in range(n_d)]
    shelters = [shelter(f"S{i}", capacity=500) for i in range(n_s)]
    xy = rng.random((n_d + n_h + n_s, 2)) * 60.0
    minutes = np.round(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)))  # whole minutes: exact ties
    for k in (n_d + 3, n_d + 11):  # cut off: nothing reaches these homes
        minutes[k, :] = minutes[:, k] = math.inf
        minutes[k, k] = 0.0
    minutes[:n_d, n_d + 17] = math.inf  # no car reaches H17, though it reaches the shelters
    return make_problem(households=households, drivers=drivers, shelters=shelters, minutes=minutes, deadline=75)


def _tie_problem() -> Problem:
    """H2 reaches S1 exactly at the deadline (in time), H3 one minute after it (too late)."""
    return make_problem(households=["H1", "H2", "H3"], drivers=["D1"], shelters=["S1"], deadline=60,
                        minutes={("D1", "H2"): 20, ("H2", "S1"): 37, ("D1", "H3"): 21, ("H3", "S1"): 37,
                                 ("H1", "H2"): 30, ("H1", "H3"): 30, ("H2", "H3"): 30})


@pytest.mark.parametrize("problem", [_mixed_problem(0), _mixed_problem(1), _mixed_problem(2), _tie_problem()],
                         ids=["mixed-0", "mixed-1", "mixed-2", "exact-tie"])
def test_whole_problem_in_time_rule_equals_the_per_request_rule(problem: Problem, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """Every (request, shelter) answer equals the per-request rule's, and so do triage's shelters and reasons."""
    inst = build_instance(problem)
    reach = _reach(inst, "the road network")
    per_request = np.array([_in_time_one(inst, reach, r) for r in range(inst.n_requests)])
    assert np.array_equal(_in_time_all(inst, reach), per_request)

    fast = triage(inst)
    monkeypatch.setattr("matcher.solver.triage._in_time_all", lambda i, rc: np.array(
        [_in_time_one(i, rc, r) for r in range(i.n_requests)]).reshape(i.n_requests, i.n_shelters))
    slow = triage(inst)
    assert np.array_equal(fast.shelter, slow.shelter)
    assert fast.unserved == slow.unserved
    codes = {u.code for u in fast.unserved.values()}
    if problem.name == "test" and len(problem.households) == 3:
        assert set(fast.unserved) == {"H3"} and "too_late" in codes
    else:
        assert {"cut_off", "too_late"} <= codes  # the problem has both kinds, so the rule was put to the test
