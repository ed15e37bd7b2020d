"""Travel times and road paths between the places of a problem, by Dijkstra on the road graph."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from matcher.polyline import encode
from matcher.roads.closures import EdgeClosures
from matcher.roads.graph import RoadGraph
from matcher.roads.snap import snap_points
from matcher.travel import LegPath, LocationRef, TravelTimes

#: Sources per Dijkstra call: bounds the dense (chunk x vertices) distance block in memory.
CHUNK = 100
#: Predecessor rows kept by a router (each is one int32 per vertex).
PREDECESSOR_CACHE = 256
#: Legs a router remembers: re-plans ask for mostly the same legs again, and walking a path is Python work.
LEG_CACHE = 20_000
#: Threads running Dijkstra chunks (SciPy releases the interpreter lock inside; a laptop has two cores or more).
MATRIX_THREADS = max(1, min(2, os.cpu_count() or 1))

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _ProblemGraph:
    """The road graph for one problem: snapped shape points become extra vertices, closed edges are gone.

    Vertex ``v < graph.vertex_count`` is graph node ``v``; vertex ``vertex_count + k`` is the shape point
    ``extra_nodes[k]``. Piece ``p`` runs along ``graph.geometry_nodes[first[p]:last[p] + 1]``.
    """

    graph: RoadGraph
    csr: csr_matrix
    piece: Ints  # per CSR entry: the piece that realises it (the fastest of parallel ones)
    first: Ints
    last: Ints
    meters: Floats
    extra_nodes: Ints
    entry_key: Ints  # per CSR entry: row * size + column, sorted because CSR rows and columns are

    @property
    def size(self) -> int:
        return self.csr.shape[0]

    def pieces_between(self, tails: Ints, heads: Ints) -> Ints:
        """The piece of each step ``tails[k] -> heads[k]`` (each must be an edge of the CSR matrix)."""
        return self.piece[np.searchsorted(self.entry_key, tails * self.size + heads)]

    def vertex_of(self, nodes: Ints) -> Ints:
        """Problem vertex of each graph node (each must be a vertex or one of the extra shape points)."""
        return _vertex_of(nodes, self.graph.vertex_count, self.extra_nodes)

    def node_of(self, vertices: Ints) -> Ints:
        """Graph node of each problem vertex."""
        out = np.asarray(vertices, dtype=np.int64).copy()
        extra = out >= self.graph.vertex_count
        out[extra] = self.extra_nodes[out[extra] - self.graph.vertex_count]
        return out


def _vertex_of(nodes: Ints, vertex_count: int, extra_nodes: Ints) -> Ints:
    out = np.asarray(nodes, dtype=np.int64).copy()
    shape = out >= vertex_count
    out[shape] = vertex_count + np.searchsorted(extra_nodes, out[shape])
    return out


def _problem_graph(graph: RoadGraph, nodes: Ints, closed: npt.NDArray[np.bool_] | None) -> _ProblemGraph:
    """Split the edges that carry snapped shape points at those points, drop closed edges, keep the fastest."""
    V = graph.vertex_count
    extra = np.unique(nodes[nodes >= V])
    g, offsets = graph.geometry_nodes, graph.geometry_offsets
    edge_first, edge_last = offsets[:-1], offsets[1:] - 1
    # Cut positions: every edge's ends, plus each place where a snapped shape point lies inside an edge.
    cut = np.zeros(len(g), dtype=bool)
    cut[edge_first] = True
    cut[edge_last] = True
    cut |= np.isin(g, extra)
    positions = np.flatnonzero(cut)
    edge_at = graph.geometry_edge[positions]
    pair = edge_at[:-1] == edge_at[1:]
    first, last = positions[:-1][pair], positions[1:][pair]
    edge = edge_at[:-1][pair]
    seconds = np.add.reduceat(graph.segment_seconds, positions)[:-1][pair]
    meters = np.add.reduceat(graph.segment_meters, positions)[:-1][pair]

    tail = _vertex_of(g[first], V, extra)
    head = _vertex_of(g[last], V, extra)

    usable = tail != head  # a loop never shortens a path
    if closed is not None:
        usable &= ~closed[edge]
    index = np.flatnonzero(usable)
    # Parallel pieces: sort by (tail, head, seconds) and keep the first of each pair.
    index = index[np.lexsort((seconds[index], head[index], tail[index]))]
    keep = np.ones(len(index), dtype=bool)
    keep[1:] = (tail[index][1:] != tail[index][:-1]) | (head[index][1:] != head[index][:-1])
    index = index[keep]
    size = V + len(extra)
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail[index], minlength=size), out=indptr[1:])
    # Explicit zero weights (duplicate nodes) stay edges in a CSR matrix; csgraph honours them.
    csr = csr_matrix((seconds[index], head[index], indptr), shape=(size, size))
    key = tail[index] * size + head[index]
    return _ProblemGraph(graph, csr, index, first, last, meters, extra, key)


class MapRouter:
    """Road paths between matrix locations; predecessors are computed per source on demand, in batches."""

    def __init__(
        self,
        problem: _ProblemGraph,
        location_vertex: Ints,
        minutes: Floats,
        predecessors: dict[int, npt.NDArray[np.int32]] | None = None,
    ) -> None:
        self._problem = problem
        self._vertex = location_vertex
        self._minutes = minutes
        self._predecessors: OrderedDict[int, npt.NDArray[np.int32]] = OrderedDict(predecessors or {})
        self._keep = max(PREDECESSOR_CACHE, len(self._predecessors))
        self._lock = threading.Lock()
        self._legs: OrderedDict[tuple[int, int], LegPath] = OrderedDict()
        #: The matrix run behind these times (set by the builders), for ``update_travel_times``.
        self.solved: _Solved | None = None
        #: Sources whose tree was kept from before a closure: valid except towards ``_stale_targets``.
        self._partial: set[int] = set()
        self._stale_targets: set[int] = set()

    def keep_partial(self, sources: set[int], stale_targets: set[int]) -> None:
        """Mark kept trees of ``sources`` as wrong towards ``stale_targets`` (recomputed when a leg needs one)."""
        self._partial, self._stale_targets = set(sources), set(stale_targets)

    def predecessor_row(self, vertex: int) -> npt.NDArray[np.int32] | None:
        """The shortest-path tree from ``vertex`` if it is still kept, else ``None``."""
        with self._lock:
            return self._predecessors.get(vertex)

    @property
    def location_nodes(self) -> Ints:
        """The graph node each matrix location snapped to."""
        return self._problem.node_of(self._vertex)

    def path(self, origin: int, destination: int) -> LegPath:
        return self.paths([(origin, destination)])[0]

    def paths(self, pairs: list[tuple[int, int]]) -> list[LegPath]:
        """Legs in the order asked; an unreachable pair gives ``LegPath(inf, None, ())``."""
        by_source: dict[int, list[int]] = {}
        legs: list[LegPath | None] = [None] * len(pairs)
        with self._lock:
            for k, (i, j) in enumerate(pairs):
                known = self._legs.get((int(i), int(j)))
                if known is None:
                    source = int(self._vertex[i])
                    if source in self._partial and int(self._vertex[j]) in self._stale_targets:
                        self._partial.discard(source)
                        self._predecessors.pop(source, None)  # its kept tree may cross a closure to there
                    by_source.setdefault(source, []).append(k)
                else:
                    legs[k] = known
            sources = sorted(by_source)
            # A batch of sources at a time: one Dijkstra call each, and a bounded number of rows in memory.
            for start in range(0, len(sources), CHUNK):
                batch = sources[start : start + CHUNK]
                rows = self._rows(batch)
                for source in batch:
                    for k in by_source[source]:
                        legs[k] = leg = self._leg(rows[source], *pairs[k])
                        self._legs[(int(pairs[k][0]), int(pairs[k][1]))] = leg
            while len(self._legs) > LEG_CACHE:
                self._legs.popitem(last=False)
        return legs  # type: ignore[return-value]

    def _rows(self, sources: list[int]) -> dict[int, npt.NDArray[np.int32]]:
        missing = [s for s in sources if s not in self._predecessors]
        if missing:
            _, pred = dijkstra(self._problem.csr, directed=True, indices=missing, return_predecessors=True)
            for source, row in zip(missing, pred, strict=True):
                self._predecessors[source] = row.astype(np.int32)
        rows = {}
        for s in sources:
            self._predecessors.move_to_end(s)
            rows[s] = self._predecessors[s]
        while len(self._predecessors) > self._keep:
            self._predecessors.popitem(last=False)
        return rows

    def _leg(self, pred: npt.NDArray[np.int32], i: int, j: int) -> LegPath:
        minutes = float(self._minutes[i, j])
        if not np.isfinite(minutes):
            return LegPath(minutes, None)
        problem, graph = self._problem, self._problem.graph
        source, target = int(self._vertex[i]), int(self._vertex[j])
        chain = [target]
        while chain[-1] != source:
            chain.append(int(pred[chain[-1]]))
        chain.reverse()
        steps = np.asarray(chain, dtype=np.int64)
        pieces = problem.pieces_between(steps[:-1], steps[1:])
        meters = float(problem.meters[pieces].sum())
        # Each piece adds its nodes after its first one (which the previous piece, or the source, gave).
        starts, counts = problem.first[pieces] + 1, problem.last[pieces] - problem.first[pieces]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        nodes = [problem.node_of(steps[:1]), graph.geometry_nodes[np.repeat(starts, counts) + within]]
        path = np.concatenate(nodes)
        lon, lat = graph.lon[path], graph.lat[path]
        # Two OSM nodes at one spot would repeat a point; a path lists each position once.
        same = np.zeros(len(path), dtype=bool)
        same[1:] = (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1])
        return LegPath(minutes, meters, polyline=encode(np.column_stack((lon[~same], lat[~same]))))


@dataclass(frozen=True, eq=False)
class _Solved:
    """What a matrix run keeps so that a later closure can update it: the graph, the closures and the rows.

    ``seconds[i, j]`` is the time between the distinct vertices ``unique[i]`` and ``unique[j]``.
    """

    problem: _ProblemGraph
    closed: npt.NDArray[np.bool_]
    unique: Ints
    seconds: Floats


def _dijkstra_rows(problem: _ProblemGraph, sources: Ints, targets: Ints,
                   predecessors: dict[int, npt.NDArray[np.int32]]) -> Floats:
    """Seconds from each source to each target (``inf`` if unreachable); fills each source's predecessor row.

    Chunks of ``CHUNK`` sources run on ``MATRIX_THREADS`` threads: SciPy's Dijkstra runs without the
    interpreter lock, so the two cores of a laptop share the work. The result does not depend on the split.
    """
    out = np.empty((len(sources), len(targets)))
    batches = [sources[start : start + CHUNK] for start in range(0, len(sources), CHUNK)]

    def run(batch: Ints) -> tuple[Floats, npt.NDArray[np.int32]]:
        block, pred = dijkstra(problem.csr, directed=True, indices=batch, return_predecessors=True)
        return block[:, targets], pred.astype(np.int32)

    threads = min(MATRIX_THREADS, len(batches))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(run, batches))
    else:
        results = [run(batch) for batch in batches]
    for k, (batch, (block, pred)) in enumerate(zip(batches, results, strict=True)):
        out[k * CHUNK : k * CHUNK + len(batch)] = block
        predecessors.update(zip(batch.tolist(), pred, strict=True))
    return out


def _check_inputs(graph: RoadGraph, refs: Sequence[LocationRef], nodes: Sequence[int] | Ints,
                  closed_mask: npt.NDArray[np.bool_] | None) -> tuple[Ints, npt.NDArray[np.bool_]]:
    node_array = np.asarray(nodes, dtype=np.int64).reshape(-1)
    if len(node_array) != len(refs):
        raise ValueError(f"{len(refs)} locations but {len(node_array)} snapped nodes")
    if len(node_array) and (node_array.min() < 0 or node_array.max() >= graph.node_count):
        raise ValueError("a snapped node is not a node of the graph")
    closed = np.zeros(graph.edge_count, dtype=bool) if closed_mask is None else np.asarray(closed_mask, dtype=bool)
    if closed.shape != (graph.edge_count,):
        raise ValueError(f"closed_mask has shape {closed.shape}, expected ({graph.edge_count},)")
    return node_array, closed


def _travel_times(refs: Sequence[LocationRef], solved: _Solved, vertex: Ints,
                  predecessors: dict[int, npt.NDArray[np.int32]]) -> TravelTimes:
    column = np.searchsorted(solved.unique, vertex)
    minutes = solved.seconds[np.ix_(column, column)] / 60.0
    np.fill_diagonal(minutes, 0.0)
    router = MapRouter(solved.problem, vertex, minutes, predecessors)
    router.solved = solved
    return TravelTimes(tuple(refs), minutes, router)


def build_travel_times(
    graph: RoadGraph,
    refs: Sequence[LocationRef],
    nodes: Sequence[int] | Ints,
    closed_mask: npt.NDArray[np.bool_] | None = None,
) -> TravelTimes:
    """Driving minutes between snapped places (``nodes[i]`` is the graph node of ``refs[i]``).

    ``closed_mask`` (one bool per graph edge) removes closed edges. Unreachable pairs are ``inf``; the
    diagonal is 0. The result's router gives the road path of any leg.
    """
    node_array, closed = _check_inputs(graph, refs, nodes, closed_mask)
    problem = _problem_graph(graph, node_array, closed)
    vertex = problem.vertex_of(node_array)
    unique = np.unique(vertex)
    # Keep every source's predecessor row: the plan's legs then cost no second Dijkstra run
    # (int32 rows: about 50 MB for 1,200 places on a 10,000-vertex map).
    predecessors: dict[int, npt.NDArray[np.int32]] = {}
    seconds = _dijkstra_rows(problem, unique, unique, predecessors)
    return _travel_times(refs, _Solved(problem, closed, unique, seconds), vertex, predecessors)


@dataclass(frozen=True)
class UpdateReport:
    """How ``update_travel_times`` got its answer: rows recomputed out of all, or a full rebuild and why."""

    recomputed: int
    sources: int
    full_rebuild_reason: str | None = None


#: Places this close (meters) to a newly closed road get their rows and columns recomputed outright.
NEAR_CLOSURE_METERS = 500.0
#: Sources checked together when looking for trees that cross a new closure.
TAINT_BLOCK = 64
#: When fewer of the first ``TAINT_SAMPLE`` trees than this share can be kept, the check is not worth its
#: time: rebuild. (A flood zone inside a town: nearly every place has some other place whose path crosses it.)
MIN_KEEP_SHARE = 0.3
TAINT_SAMPLE = 16


def _crossing(preds: npt.NDArray[np.int32], sources: Ints, entering_closed: npt.NDArray[np.bool_],
              targets: Ints) -> npt.NDArray[np.bool_]:
    """Per source: does its tree path to any of ``targets`` take a step that is now closed?

    ``entering_closed[b, v]`` marks that source b's tree reaches v by a closed step. Pointer jumping
    spreads the marks down the trees in log2(depth) rounds of array work, for a block of sources at once.
    """
    rows = np.arange(len(sources))[:, None]
    up = np.where(preds < 0, np.arange(preds.shape[1])[None, :], preds).astype(np.int64)  # roots: themselves
    marked = entering_closed.copy()
    for _ in range(64):
        marked |= marked[rows, up]
        nxt = up[rows, up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    return np.asarray(marked[:, targets].any(axis=1))


def _near(graph: RoadGraph, edges: Ints, nodes: Ints, meters: float) -> npt.NDArray[np.bool_]:
    """Per node in ``nodes``: within ``meters`` of a node of any of ``edges`` (great circle, on a local grid)."""
    if not len(edges) or not len(nodes):
        return np.zeros(len(nodes), dtype=bool)
    from scipy.spatial import cKDTree

    ends = np.unique(graph.geometry_nodes[np.concatenate([graph.geometry_offsets[edges],
                                                          graph.geometry_offsets[edges + 1] - 1])])
    lat0 = float(np.radians(graph.lat[ends].mean()))
    scale = np.array([6_371_000.0 * np.cos(lat0), 6_371_000.0]) * np.pi / 180.0

    def xy(n: Ints) -> Floats:
        return np.column_stack((graph.lon[n], graph.lat[n])) * scale

    distance, _ = cKDTree(xy(ends)).query(xy(nodes), k=1)
    return np.asarray(distance <= meters)


def update_travel_times(
    previous: TravelTimes,
    graph: RoadGraph,
    refs: Sequence[LocationRef],
    nodes: Sequence[int] | Ints,
    closed_mask: npt.NDArray[np.bool_] | None,
) -> tuple[TravelTimes, UpdateReport]:
    """``build_travel_times`` after more roads closed, recomputing only the times a closure can change.

    Closing roads only lengthens paths. Places near a new closure (``NEAR_CLOSURE_METERS``) and new places
    get their rows (Dijkstra) and their columns (Dijkstra backwards) recomputed; any other source keeps its
    row when its shortest-path tree reaches no other place through a newly closed road, since those times
    cannot have changed; the rest run Dijkstra again. The answer equals a full rebuild (to float rounding:
    a backward search adds the same road times in the other order). A full rebuild
    happens when a closure was lifted (paths may shorten), the map differs, or a new place splits a road
    (it lies inside an edge that no earlier place did).
    """
    node_array, closed = _check_inputs(graph, refs, nodes, closed_mask)
    router = previous.router
    solved = router.solved if isinstance(router, MapRouter) else None
    reason = None
    if solved is None:
        reason = "the previous times did not come from a road map"
    elif solved.problem.graph is not graph:
        reason = "another road graph"
    elif (solved.closed & ~closed).any():
        reason = "a closure was lifted"
    elif not np.isin(np.unique(node_array[node_array >= graph.vertex_count]), solved.problem.extra_nodes).all():
        reason = "a new place lies inside a road no earlier place did"
    if reason is not None or solved is None or not isinstance(router, MapRouter):
        fresh = build_travel_times(graph, refs, node_array, closed)
        count = len(np.unique(node_array))
        return fresh, UpdateReport(count, count, reason)
    old = solved.problem
    # The same vertices (no new shape points), fewer edges: vertex numbers carry over.
    problem = _problem_graph(graph, np.concatenate([old.node_of(solved.unique), node_array]), closed)
    vertex = problem.vertex_of(node_array)
    unique = np.unique(vertex)
    newly = np.flatnonzero(closed & ~solved.closed)
    # Old CSR entries (steps) that a new closure removed, as a per-vertex "entered by a closed step" test.
    entry_edge = graph.geometry_edge[old.first[old.piece]]
    keys = old.entry_key[np.isin(entry_edge, newly)]
    tails, heads = keys // old.size, keys % old.size
    near = _near(graph, newly, problem.node_of(unique), NEAR_CLOSURE_METERS) | ~np.isin(unique, solved.unique)
    far_targets = unique[~near]
    candidates = [u for u in unique[~near].tolist() if router.predecessor_row(u) is not None]
    keep: list[int] = []
    predecessors: dict[int, npt.NDArray[np.int32]] = {}
    # A small first block is the sample that decides whether checking the rest is worth it.
    starts = [0, *range(TAINT_SAMPLE, len(candidates), TAINT_BLOCK)] if candidates else []
    for k, start in enumerate(starts):
        block = candidates[start : starts[k + 1] if k + 1 < len(starts) else len(candidates)]
        preds = np.stack([router.predecessor_row(u) for u in block])  # type: ignore[misc]
        entering = np.zeros(preds.shape, dtype=bool)
        if len(heads):
            hit = preds[:, heads] == tails[None, :]
            in_block, step = np.nonzero(hit)
            entering[in_block, heads[step]] = True
        crossing = _crossing(preds, np.asarray(block), entering, far_targets)
        for u, row, bad in zip(block, preds, crossing.tolist(), strict=True):
            if not bad:
                keep.append(u)
                predecessors[u] = row
        if start == 0 and len(keep) < MIN_KEEP_SHARE * len(block):
            count = len(unique)
            return build_travel_times(graph, refs, node_array, closed), UpdateReport(
                count, count, f"most shortest paths cross the new closure ({len(keep)} of {len(block)} sampled kept)")
    position = {int(u): i for i, u in enumerate(unique)}
    redo = np.setdiff1d(unique, np.asarray(keep, dtype=np.int64))
    seconds = np.full((len(unique), len(unique)), np.inf)
    if len(redo):
        seconds[[position[int(u)] for u in redo.tolist()]] = _dijkstra_rows(problem, redo, unique, predecessors)
    if keep:
        rows_at = np.array([position[u] for u in keep])
        old_rows = np.searchsorted(solved.unique, np.asarray(keep))
        old_cols = np.searchsorted(solved.unique, far_targets)
        seconds[np.ix_(rows_at, np.flatnonzero(~near))] = solved.seconds[np.ix_(old_rows, old_cols)]
        near_targets = unique[near]
        if len(near_targets):
            # Columns of the places near the closure: Dijkstra from them on the reversed roads.
            back = dijkstra(problem.csr.T.tocsr(), directed=True, indices=near_targets)
            seconds[np.ix_(rows_at, np.flatnonzero(near))] = back[:, np.asarray(keep)].T
    times = _travel_times(refs, _Solved(problem, closed, unique, seconds), vertex, predecessors)
    assert isinstance(times.router, MapRouter)
    times.router.keep_partial(set(keep), set(unique[near].tolist()))
    return times, UpdateReport(len(redo), len(unique))


def matrix_for_places(
    graph: RoadGraph,
    places: Sequence[tuple[LocationRef, float, float]],
    closures: EdgeClosures | npt.NDArray[np.bool_] | None = None,
    max_snap_meters: float | None = None,
    previous: TravelTimes | None = None,
    report: Callable[[UpdateReport], None] | None = None,
) -> TravelTimes:
    """Snap ``(ref, lat, lon)`` places to the road graph and build their travel times.

    With ``previous`` (the times of the same map before new closures), only the rows a closure can change
    are recomputed (``update_travel_times``); ``report`` receives how many. Raises ``MapError`` naming the
    record (``household H1``) of the first place too far from any road (``max_snap_meters`` defaults to
    ``Settings.snap_max_meters``).
    """
    refs = [ref for ref, _, _ in places]
    snapped = snap_points(
        graph,
        [f"{ref.kind} {ref.id}" for ref in refs],
        [lat for _, lat, _ in places],
        [lon for _, _, lon in places],
        max_snap_meters,
    )
    mask = closures.closed if isinstance(closures, EdgeClosures) else closures
    if previous is None:
        return build_travel_times(graph, refs, snapped.node, mask)
    times, update = update_travel_times(previous, graph, refs, snapped.node, mask)
    if report is not None:
        report(update)
    return times
