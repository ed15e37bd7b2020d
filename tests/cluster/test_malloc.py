"""Dask workers get the allocation thresholds that keep OR-Tools' search fast (``cluster.malloc``)."""

from __future__ import annotations

import platform
from typing import Any

import pytest

from cluster import dask_client


def _has_plugin(dask_worker: Any) -> bool:
    return "evac-malloc" in dask_worker.plugins


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's mallopt")
def test_tune_malloc_sets_the_thresholds_here() -> None:
    from cluster.malloc import tune_malloc

    assert tune_malloc() is True


def test_every_local_worker_runs_the_plugin() -> None:
    with dask_client(2) as client:
        client.wait_for_workers(2, timeout=120)
        assert list(client.run(_has_plugin).values()) == [True, True]
