"""Dask: an existing scheduler by address gives the same replications as a run in this process; layering."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

from scenarios.runner import make_payload, run_drill
from scenarios.world import DrillContext

MATCHER = Path(__file__).parents[2] / "matcher"


def _stable(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replication records without the wall-clock fields."""
    return [run | {"replans": [{k: v for k, v in rp.items() if k != "seconds"}
                               for rp in run["replans"]]} for run in runs]


def test_existing_scheduler_by_address_gives_the_same_runs(storm: DrillContext) -> None:
    from dask.distributed import LocalCluster

    spec = dataclasses.replace(storm.spec, runs=2)
    payload = make_payload(spec, storm.map_path)
    here = run_drill(payload, workers=0, advice=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        there = run_drill(payload, scheduler=cluster.scheduler_address, advice=False)
    assert there.workers == 1
    assert _stable(there.runs) == _stable(here.runs)


def test_matcher_never_imports_scenarios() -> None:
    """The solver library stays free of the drills (they plug in through the evac.commands entry point)."""
    for path in MATCHER.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "scenarios" or n.startswith("scenarios.") for n in names), path
