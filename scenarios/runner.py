"""Replications in parallel on Dask: a local cluster of processes by default, or an existing cluster by address.

Each replication gets its own seed, derived from the drill seed and its number alone, and runs on whatever
worker is free; results are put back in replication order. So the figures do not depend on how many
workers there are or which one ran what. The map travels with the job (workers need not share a disk).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher.settings import get_settings
from scenarios.advice import shortfall_advice
from scenarios.sim import simulate
from scenarios.spec import DrillSpec
from scenarios.world import DrillContext

#: Replications per worker process unless told otherwise: the target machine has two cores.
DEFAULT_WORKERS = 2

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Payload:
    """What a worker needs: the drill and its map file's bytes."""

    spec: DrillSpec
    map_name: str
    map_bytes: bytes

    @property
    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self.spec) + self.map_bytes).hexdigest()


@dataclass(frozen=True)
class DrillRun:
    """The replications in order, the shortfall advice, and how long the parallel part took."""

    runs: list[dict[str, Any]]
    advice: dict[str, Any]
    seconds: float
    workers: int


_CONTEXTS: dict[str, DrillContext] = {}


def context_for(payload: Payload) -> DrillContext:
    """The drill's shared context in this process, built once per drill (the first task on a worker pays)."""
    key = payload.key
    if key not in _CONTEXTS:
        folder = get_settings().cache_dir / "drill-maps"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key[:16]}-{payload.map_name}"
        if not path.is_file():
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(payload.map_bytes)
            os.replace(tmp, path)  # other workers on this disk see the whole file or none
        _CONTEXTS.clear()  # one drill at a time per worker: contexts hold travel-time tables
        _CONTEXTS[key] = DrillContext(payload.spec, path)
    return _CONTEXTS[key]


def replicate(payload: Payload, index: int, seed: int) -> dict[str, Any]:
    """One replication (a Dask task)."""
    return simulate(context_for(payload), index, seed)


def advise(payload: Payload) -> dict[str, Any]:
    """The shortfall advice (a Dask task, run beside the replications)."""
    return shortfall_advice(context_for(payload))


def replication_seeds(seed: int, runs: int) -> list[int]:
    """Independent seeds for replications 0..runs-1, from the drill seed (NumPy's SeedSequence spawning)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(runs)]


def make_payload(spec: DrillSpec, map_path: Path) -> Payload:
    return Payload(spec, map_path.name, map_path.read_bytes())


def run_drill(payload: Payload, *, workers: int = DEFAULT_WORKERS, scheduler: str | None = None,
              progress: Progress | None = None, ctx: DrillContext | None = None, advice: bool = True) -> DrillRun:
    """Run ``payload.spec.runs`` replications and the advice; ``workers=0`` runs them here, one by one.

    ``ctx``, the caller's context of the same drill, saves building it again when running here.
    """
    runs = payload.spec.runs
    seeds = replication_seeds(payload.spec.seed, runs)
    tick = progress or (lambda _done, _total: None)
    started = time.perf_counter()
    if workers == 0 and scheduler is None:
        if ctx is not None:
            _CONTEXTS.clear()
            _CONTEXTS[payload.key] = ctx
        here = []
        for i, s in enumerate(seeds):
            here.append(replicate(payload, i, s))
            tick(i + 1, runs)
        return DrillRun(here, advise(payload) if advice else {}, time.perf_counter() - started, 0)
    from dask.distributed import as_completed

    from cluster import dask_client

    with dask_client(workers, scheduler) as client:
        shared = client.scatter(payload, broadcast=True)
        # The advice is the longest single task: it starts first so it overlaps the replications.
        advice_future = client.submit(advise, shared, pure=False, priority=10) if advice else None
        futures = [client.submit(replicate, shared, i, s, pure=False) for i, s in enumerate(seeds)]
        results: list[dict[str, Any] | None] = [None] * runs
        for done, future in enumerate(as_completed(futures), start=1):
            record = future.result()
            results[record["index"]] = record
            tick(done, runs)
        advice_result = advice_future.result() if advice_future is not None else {}
        n_workers = len(client.scheduler_info()["workers"])
    return DrillRun([r for r in results if r is not None], advice_result, time.perf_counter() - started, n_workers)
