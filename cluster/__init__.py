"""The Dask edge: a client on a local cluster or an existing scheduler, and an executor for zone solves.

``matcher`` imports no network code: its regional solve (``matcher.region``) sees only the ``Executor``
protocol. This package is where a cluster is opened, for the three edges that make plans: ``evac plan``
(through the ``evac.executors`` entry point, so the matcher names no cluster code), the service's plan
jobs (``api.planning``) and the drills' runner (``scenarios.runner``), so all handle clusters the same way.
Dask itself is imported only when a cluster is asked for.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: on the scheduler at ``scheduler``, else on a new local cluster of ``workers``
    single-threaded processes (closed on exit). The same code path serves both."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        from cluster.malloc import MallocPlugin

        # Dask's workers allocate in a way that made OR-Tools ten times slower (see ``cluster.malloc``).
        client.register_plugin(MallocPlugin())
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class DaskExecutor:
    """Runs tasks on a Dask cluster; results come back in task order whichever worker ran them.

    A worker lost mid-task is not an error: the scheduler runs its tasks again on another worker.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        # Dask warns when a task carries more than 1 MB; ours do on purpose (see ``map``). The warning is raised
        # on the client's own thread, so it is silenced for the process, not around the submit.
        warnings.filterwarnings("ignore", message=".*Large object of size.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*Sending large graph.*", category=UserWarning)

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Callable[[int, int], None] | None = None
            ) -> list[R]:
        from dask.distributed import as_completed

        if not items:
            return []
        # Each task carries its sub-problem (a few MB) in the graph, not scattered: the scheduler keeps it,
        # so a task whose worker dies runs again elsewhere (scattered data would die with the worker).
        futures = [self.client.submit(fn, item, pure=False) for item in items]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(items))
        return [f.result() for f in futures]


@contextmanager
def executor_for(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A ``SerialExecutor`` for 0 workers and no scheduler, else a ``DaskExecutor`` on :func:`dask_client`."""
    if workers == 0 and scheduler is None:
        from matcher.region import SerialExecutor

        yield SerialExecutor()
        return
    with dask_client(workers, scheduler) as client:
        yield DaskExecutor(client)
