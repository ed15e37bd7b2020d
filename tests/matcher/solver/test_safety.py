"""The far safety stop: a drill's search is cut by its CPU seconds, never by a wall clock, and says when it was cut."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from matcher.check import assert_plan_valid
from matcher.plan import Plan
from matcher.scenario import Scenario, problem_from_dict
from matcher.solver import SolveParams, improve, model, solve
from matcher.solver.safety import CPU_WALL_FACTOR, SafetyStop

ROOT = Path(__file__).resolve().parents[3]
DRILL = SolveParams(time_limit_seconds=1.0, seed=5, safety_clock="cpu")


@pytest.fixture(scope="module")
def demo() -> Scenario:
    """Part of the bundled demo on the Kotka map: 60 households, 20 cars (more than one OR-Tools group, so that a
    1 s budget has room for OR-Tools rounds: a 6-car fleet's one group would not fit in it and is left to ruin and
    recreate)."""
    path = ROOT / "scenarios" / "kotka_storm.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return problem_from_dict(dict(data, households=data["households"][:60], drivers=data["drivers"][:20]), path.parent)


def _solve(demo: Scenario, params: SolveParams = DRILL) -> Plan:
    plan = solve(demo.problem, params)
    assert_plan_valid(demo.problem, plan, demo.graph, demo.closed_mask)
    return plan


def _routes(plan: Plan) -> Any:
    return plan.to_dict(format_version=1)["routes"]


def test_a_starved_drill_search_gets_a_far_wall_clock(demo: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """A starved process (wall seconds pass, CPU seconds hardly do: a machine at load 20-25) had OR-Tools cut at the
    CPU seconds left, on the wall clock, without knowing. Here its CPU clock stands still with 1 s left: every
    OR-Tools call gets 30 s of wall clock, the stop is not reached, and the plan is that of a free run."""
    # A free run is one no stop cuts: its own CPU stop far away (at 3 s of CPU a busy test run can reach it).
    free = _solve(demo, dataclasses.replace(DRILL, safety_stop_seconds=600.0))
    limits: list[float] = []
    real = model._params
    monkeypatch.setattr(model, "_params", lambda seconds, *a, **k: (limits.append(seconds), real(seconds, *a, **k))[1])
    starved = SafetyStop(lambda: 0.0, 1.0, cpu=True)
    monkeypatch.setattr(SolveParams, "safety", lambda self: starved)
    plan = _solve(demo)
    # Each OR-Tools call builds its limits twice: the search's, then restoring the warm start's (its own short limit).
    searches, restores = limits[0::2], limits[1::2]
    assert searches and set(searches) == {1.0 * CPU_WALL_FACTOR}
    assert set(restores) == {min(1.0 * CPU_WALL_FACTOR, model.RESTORE_SECONDS)}
    assert not starved.hit
    assert _routes(plan) == _routes(free)


def test_the_cpu_stop_ends_an_ortools_call_and_says_so(demo: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU stop, reached while OR-Tools searches, ends that search at its next solution and is recorded."""
    reads = {"in_call": 0}
    cuts: list[bool] = []
    real = improve.improve_group

    def group(*args: Any, **kwargs: Any) -> model.GroupResult:
        reads["in_call"] = 1
        result = real(*args, **kwargs)
        cuts.append(result.cut)
        return result

    def clock() -> float:  # still at 0 when OR-Tools starts (its limit is set), far past the stop at its first solution
        if reads["in_call"]:
            reads["in_call"] += 1
        return 1e9 if reads["in_call"] > 2 else 0.0

    stop = SafetyStop(clock, 60.0, cpu=True)
    monkeypatch.setattr(improve, "improve_group", group)
    monkeypatch.setattr(SolveParams, "safety", lambda self: stop)
    _solve(demo)
    # One round (a group's search; a whole small fleet would first get a probe), cut at its first solution; no
    # round after it.
    assert cuts in ([True], [True, True]) and stop.hit


def test_wall_limits_of_the_two_clocks() -> None:
    """A CPU stop gives OR-Tools ``CPU_WALL_FACTOR`` times the seconds left; a wall-clock stop the seconds left."""
    assert 9.0 * CPU_WALL_FACTOR < SafetyStop.start(10.0, cpu=True).wall_seconds() <= 10.0 * CPU_WALL_FACTOR
    assert 9.0 < SafetyStop.start(10.0, cpu=False).wall_seconds() <= 10.0
    assert not SafetyStop.start(10.0, cpu=True).reached() and SafetyStop.start(0.0, cpu=True).reached()
