"""The Dask executor hands tasks out as they are made and gives results back in task order."""

from __future__ import annotations

from collections.abc import Iterator

from cluster import DaskExecutor, dask_client


def _square(x: int) -> int:
    return x * x


def test_a_generator_of_tasks_is_submitted_as_it_yields() -> None:
    made: list[int] = []

    def tasks() -> Iterator[int]:
        for k in range(5):
            made.append(k)
            yield k

    ticks: list[tuple[int, int]] = []
    with dask_client(2) as client:
        results = DaskExecutor(client).map(_square, tasks(), lambda d, n: ticks.append((d, n)), count=5)
    assert results == [0, 1, 4, 9, 16]
    assert made == [0, 1, 2, 3, 4]
    assert [d for d, _ in ticks] == [1, 2, 3, 4, 5] and {n for _, n in ticks} == {5}


def test_no_tasks_no_results() -> None:
    with dask_client(1) as client:
        assert DaskExecutor(client).map(_square, iter(())) == []
