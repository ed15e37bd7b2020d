"""Travel times that scale: only the times a regional plan can use, by bounded Dijkstra searches.

A dense all-pairs table grows with the square of the places and each full search visits the whole map
(about 9 ms per source on Porto's 62,000 vertices). A plan uses few of those pairs: a car drives to
households near it, a pooled trip goes from one household to a nearby one, and every household goes to a
shelter and a car comes back from one. So:

* shelters: one full search forward and one on the reversed graph each (exact times from every shelter
  to every place and from every place to every shelter);
* households: a search bounded at ``household_reach_minutes`` (pooling neighbours);
* cars: a search bounded at ``car_reach_minutes`` (first pickups);
* everything else stays ``inf`` ("not computed": the solver never drives such a leg) until
  :meth:`RegionalTimes.fill_rows` or :meth:`RegionalTimes.fill_columns` computes it exactly (a car lent
  to another zone, a household no car reaches within the bound).

Every time in the table is exact (a shortest path on the road graph); the router gives the road path of
any finite leg. Cost: ``O(S * V log V)`` for S shelters plus ``O(P * v(b) log v(b))`` for P other
places, where ``v(b)`` is the number of vertices within the bound: linear in the number of places.
Memory: the table is ``float32`` (4 bytes per pair), 0.58 GB for 12,040 places.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from matcher.matrix import _legs, _problem_graph, _ProblemGraph, _walk
from matcher.roads.graph import RoadGraph
from matcher.travel import LegPath, LocationRef, TravelTimes

#: Drives a table lacks that ``RegionalTimes.floors`` bounds by the triangle through the shelters, at most this
#: many per call (blocks of ``LANDMARK_BLOCK``); beyond, the search floor alone. At 10,000 households on Porto the
#: wheelchair cars' first drives (172,708 lacking) are where it counts: 83.6 -> 86.4 min, exact 86.6. The wider
#: blocks (every place into 512 homes, every car to 512 homes) take their minimum below the floor anyway.
LANDMARK_CELLS = 250_000
LANDMARK_BLOCK = 50_000
#: Sources per Dijkstra call: bounds the (chunk x vertices) blocks in memory (100 x 62,000 x 8 bytes = 50 MB).
CHUNK = 100

Ints = npt.NDArray[np.int64]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Reach:
    """How far the bounded searches look, in driving minutes."""

    household_minutes: float = 5.0
    car_minutes: float = 10.0


def _leg(problem: _ProblemGraph, steps: Ints, minutes: float) -> LegPath:
    """The leg along the problem-graph vertices ``steps`` (source first)."""
    graph = problem.graph
    if len(steps) < 2:
        node = problem.node_of(steps[:1])
        point = (float(graph.lon[node[0]]), float(graph.lat[node[0]]))
        return LegPath(minutes, 0.0, (point, point))
    pieces = problem.pieces_between(steps[:-1], steps[1:])
    meters = float(problem.meters[pieces].sum())
    starts, counts = problem.first[pieces] + 1, problem.last[pieces] - problem.first[pieces]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    path = np.concatenate([problem.node_of(steps[:1]), graph.geometry_nodes[np.repeat(starts, counts) + within]])
    lon, lat = graph.lon[path], graph.lat[path]
    same = np.zeros(len(path), dtype=bool)
    same[1:] = (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1])
    return LegPath(minutes, meters, tuple(zip(lon[~same].tolist(), lat[~same].tolist(), strict=True)))


class RegionalRouter:
    """Road paths for legs of a regional table: shelter trees for legs to and from shelters, else a search
    from the leg's origin bounded by the leg's own time (so it costs what the leg is long)."""

    def __init__(self, times: RegionalTimes) -> None:
        self._times = times
        self._lock = threading.Lock()

    def path(self, origin: int, destination: int) -> LegPath:
        return self.paths([(origin, destination)])[0]

    def paths(self, pairs: list[tuple[int, int]]) -> list[LegPath]:
        """Legs in the order asked; a pair not computed or unreachable gives ``LegPath(inf, None, ())``."""
        t = self._times
        out: list[LegPath | None] = [None] * len(pairs)
        searches: dict[int, list[int]] = {}
        walks: list[Ints] = []
        walked: list[int] = []
        with self._lock:
            for k, (i, j) in enumerate(pairs):
                minutes = float(t.minutes[i, j])
                if not np.isfinite(minutes):
                    out[k] = LegPath(minutes, None, ())
                    continue
                vi, vj = int(t.vertex[i]), int(t.vertex[j])
                if vj in t.backward_pred:
                    walks.append(self._walk_back(t.backward_pred[vj], vi, vj))
                    walked.append(k)
                elif vi in t.forward_pred:
                    walks.append(_walk(t.forward_pred[vi], vi, vj))
                    walked.append(k)
                else:
                    searches.setdefault(vi, []).append(k)
            # Sources sorted by how far they must look; a batch shares the largest bound of its members.
            need = {v: max(float(t.minutes[pairs[k]]) for k in ks) for v, ks in searches.items()}
            order = sorted(need, key=lambda v: (need[v], v))
            for start in range(0, len(order), CHUNK):
                batch = order[start : start + CHUNK]
                limit = need[batch[-1]] * 60.0 * (1 + 1e-6) + 1e-3
                # One source per call, each to the batch's bound: the same trees (each source is searched
                # on its own either way), without a fresh (batch x vertices) array per batch to fault in.
                for v in batch:
                    _, pred = dijkstra(t.graph.csr, directed=True, indices=[v], limit=limit, return_predecessors=True)
                    for k in searches[v]:
                        walks.append(_walk(pred[0], v, int(t.vertex[pairs[k][1]])))
                        walked.append(k)
        for k, leg in zip(walked, _legs(t.graph, walks, [float(t.minutes[pairs[k]]) for k in walked]), strict=True):
            out[k] = leg
        return out  # type: ignore[return-value]

    @staticmethod
    def _walk_back(pred: npt.NDArray[np.int32], source: int, target: int) -> Ints:
        """Follow a reversed-graph tree rooted at ``target`` from ``source``: the path in driving order."""
        chain = [source]
        while chain[-1] != target:
            chain.append(int(pred[chain[-1]]))
        return np.asarray(chain, dtype=np.int64)


class RegionalTimes:
    """The regional table being filled: which places, their vertices, the table and the shelter trees."""

    def __init__(self, graph: _ProblemGraph, refs: Sequence[LocationRef], vertex: Ints) -> None:
        self.graph = graph
        self.refs = tuple(refs)
        self.vertex = vertex
        n = len(refs)
        self.minutes = np.full((n, n), np.inf, dtype=np.float32)
        np.fill_diagonal(self.minutes, 0.0)
        self.forward_pred: dict[int, npt.NDArray[np.int32]] = {}
        self.backward_pred: dict[int, npt.NDArray[np.int32]] = {}
        self._reverse: csr_matrix | None = None
        self.full_rows: set[int] = set()
        self.full_columns: set[int] = set()
        #: How far the bounded searches looked (``regional_times`` sets it; ``None``: every row is full).
        self.reach: Reach | None = None

    @property
    def reverse(self) -> csr_matrix:
        if self._reverse is None:
            self._reverse = self.graph.csr.T.tocsr()
        return self._reverse

    def _search(self, rows: Sequence[int], columns: Ints, limit: float, *, backward: bool = False,
                keep: bool = False) -> None:
        """Exact minutes from each place in ``rows`` to each place in ``columns`` (within ``limit`` seconds);
        ``backward`` searches the reversed graph, so it fills ``columns`` of the rows' places instead."""
        csr = self.reverse if backward else self.graph.csr
        rows_arr = np.asarray(rows, dtype=np.int64)
        vertices, position = np.unique(self.vertex[rows_arr], return_inverse=True)
        col_vertices = self.vertex[columns]
        for start in range(0, len(vertices), CHUNK):
            batch = vertices[start : start + CHUNK]
            result = dijkstra(csr, directed=True, indices=batch, limit=limit, return_predecessors=keep)
            block = result[0] if keep else result
            if keep:
                trees = self.backward_pred if backward else self.forward_pred
                trees.update(zip(batch.tolist(), result[1].astype(np.int32), strict=True))
            picked = (block[:, col_vertices] / 60.0).astype(np.float32)
            inside = (position >= start) & (position < start + len(batch))
            values = picked[position[inside] - start]
            if backward:
                self.minutes[np.ix_(columns, rows_arr[inside])] = values.T
            else:
                self.minutes[np.ix_(rows_arr[inside], columns)] = values
        np.fill_diagonal(self.minutes, 0.0)

    def fill_rows(self, rows: Sequence[int]) -> None:
        """Compute every time from these places exactly (a full search each), once."""
        todo = sorted(set(int(r) for r in rows) - self.full_rows)
        if todo:
            self._search(todo, np.arange(len(self.refs)), np.inf)
            self.full_rows.update(todo)

    def fill_cells(self, cells: Sequence[tuple[int, int]], bounds: Sequence[float]) -> None:
        """Compute the time of each ``(row, column)`` cell exactly, searching from the row's place only as far
        as the cell's bound (minutes); a cell not reached within its bound gets its whole row (``fill_rows``).

        What a kept leg needs costs what the leg is long, not a search of the whole map per row; a search
        bounded by ``limit`` settles every place within it at the same time as an unbounded one.
        """
        by_row: dict[int, list[int]] = {}
        need: dict[int, float] = {}
        for (row, column), bound in zip(cells, bounds, strict=True):
            by_row.setdefault(int(row), []).append(int(column))
            need[int(row)] = max(need.get(int(row), 0.0), float(bound))
        short: list[int] = []
        # One search per row, each to its own bound (a batch would search all of them to its largest).
        for r in sorted(r for r in by_row if r not in self.full_rows):
            if not np.isfinite(need[r]):
                short.append(r)
                continue
            limit = need[r] * 60.0 * (1 + 1e-6) + 1e-3
            seconds = dijkstra(self.graph.csr, directed=True, indices=[int(self.vertex[r])], limit=limit)[0]
            columns = np.asarray(by_row[r], dtype=np.int64)
            values = (seconds[self.vertex[columns]] / 60.0).astype(np.float32)
            self.minutes[r, columns] = np.where(columns == r, np.float32(0.0), values)
            if not np.isfinite(values).all():
                short.append(r)
        self.fill_rows(short)

    def fill_columns(self, columns: Sequence[int]) -> None:
        """Compute every time to these places exactly (a full search on the reversed graph each), once."""
        todo = sorted(set(int(c) for c in columns) - self.full_columns)
        if todo:
            self._search(todo, np.arange(len(self.refs)), np.inf, backward=True)
            self.full_columns.update(todo)

    def searched(self) -> npt.NDArray[np.float64]:
        """Per place, how far its search looked for households (minutes; ``inf``: a full search).

        A drive from a place to a household that the table lacks (``inf``) is longer than this: the search
        settles every vertex within its bound, and later fills only add exact times. The clearance bound reads
        such a drive as this floor (``matcher.solver.bound``), so that a minimum over drives the table lacks is
        never taken too large. Only for drives to households: a household's own search records no others.
        """
        out = np.full(len(self.refs), np.inf)
        if self.reach is not None:
            kinds = np.array([r.kind for r in self.refs])
            out[kinds == "household"] = self.reach.household_minutes
            out[kinds == "driver"] = self.reach.car_minutes
        out[sorted(self.full_rows)] = np.inf
        return out

    def floors(self, rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64],
               block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``block`` (``minutes[rows, columns]`` to households) with each drive the table lacks replaced by a lower
        bound on it: the search floor (``searched``), raised by the triangle through the shelters, whose rows and
        columns are exact: ``d(a, b) >= d(s, b) - d(s, a)`` and ``>= d(a, s) - d(b, s)`` for every shelter s (a
        landmark bound; only up to ``LANDMARK_CELLS`` drives, beyond which the floor alone is used).

        For ``matcher.solver.bound``: a bound that read ``inf`` as "not there" would take a minimum too large.
        ``block`` is filled in place and returned.
        """
        missing = np.isinf(block)  # the table holds no NaN
        if not missing.any():
            return block
        floor = self.searched()[rows]
        out = block  # filled in place: the caller's own float64 copy
        np.copyto(out, np.broadcast_to(floor[:, None], out.shape), where=missing)
        marks = np.array(sorted(self.full_rows & self.full_columns), dtype=np.int64)
        if not len(marks) or np.count_nonzero(missing) > LANDMARK_CELLS:
            return out
        r_i, c_i = np.nonzero(missing & np.isfinite(floor)[:, None])
        m = self.minutes
        from_mark = (m[np.ix_(marks, rows)].astype(np.float64), m[np.ix_(marks, columns)].astype(np.float64))
        to_mark = (m[np.ix_(rows, marks)].astype(np.float64), m[np.ix_(columns, marks)].astype(np.float64))
        for start in range(0, len(r_i), LANDMARK_BLOCK):
            r, c = r_i[start : start + LANDMARK_BLOCK], c_i[start : start + LANDMARK_BLOCK]
            with np.errstate(invalid="ignore"):  # inf - inf where a shelter reaches neither: no information
                ahead = from_mark[1][:, c] - from_mark[0][:, r]
                behind = to_mark[0][r].T - to_mark[1][c].T
            best = np.fmax(np.nanmax(np.where(np.isnan(ahead), -np.inf, ahead), axis=0),
                           np.nanmax(np.where(np.isnan(behind), -np.inf, behind), axis=0))
            out[r, c] = np.maximum(out[r, c], best)
        return out

    def travel_times(self) -> TravelTimes:
        """The table as ``TravelTimes`` (shares the array: later fills show through) with its router."""
        return TravelTimes(self.refs, self.minutes, RegionalRouter(self))  # type: ignore[arg-type]


def regional_times(
    graph: RoadGraph,
    refs: Sequence[LocationRef],
    nodes: Sequence[int] | Ints,
    closed_mask: npt.NDArray[np.bool_] | None = None,
    reach: Reach | None = None,
    progress: Progress | None = None,
) -> RegionalTimes:
    """The bounded table for snapped places (``nodes[i]`` is the graph node of ``refs[i]``); see the module doc."""
    import time

    reach = reach or Reach()
    say = progress or (lambda _m: None)
    node_array = np.asarray(nodes, dtype=np.int64).reshape(-1)
    if len(node_array) != len(refs):
        raise ValueError(f"{len(refs)} locations but {len(node_array)} snapped nodes")
    closed = None if closed_mask is None else np.asarray(closed_mask, dtype=bool)
    problem = _problem_graph(graph, node_array, closed)
    times = RegionalTimes(problem, refs, problem.vertex_of(node_array))
    times.reach = reach
    kinds = np.array([r.kind for r in refs])
    shelters = np.flatnonzero(kinds == "shelter")
    households = np.flatnonzero(kinds == "household")
    cars = np.flatnonzero(kinds == "driver")
    everyone = np.arange(len(refs))
    started = time.perf_counter()
    times._search(shelters.tolist(), everyone, np.inf, keep=True)
    times._search(shelters.tolist(), everyone, np.inf, backward=True, keep=True)
    times.full_rows.update(shelters.tolist())
    times.full_columns.update(shelters.tolist())
    say(f"travel times: {len(shelters)} shelters both ways in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    times._search(households.tolist(), households, reach.household_minutes * 60.0)
    times._search(cars.tolist(), households, reach.car_minutes * 60.0)
    say(f"travel times: {len(households)} households within {reach.household_minutes:g} min, {len(cars)} cars "
        f"within {reach.car_minutes:g} min in {time.perf_counter() - started:.1f} s")
    return times
