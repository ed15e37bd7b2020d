"""Travel times and road paths between the places of a problem, by Dijkstra on the road graph."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from matcher.polyline import encode_many
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
    extra_nodes: Ints  # graph nodes of the extra vertices, in vertex order (an update appends new ones)
    entry_key: Ints  # per CSR entry: row * size + column, sorted because CSR rows and columns are
    extra_sorter: Ints  # argsort of extra_nodes

    @property
    def size(self) -> int:
        return self.csr.shape[0]

    def pieces_between(self, tails: Ints, heads: Ints) -> Ints:
        """The piece of each step ``tails[k] -> heads[k]`` (each must be an edge of the CSR matrix)."""
        return self.piece[np.searchsorted(self.entry_key, tails * self.size + heads)]

    def vertex_of(self, nodes: Ints) -> Ints:
        """Problem vertex of each graph node (each must be a vertex or one of the extra shape points)."""
        return _vertex_of(nodes, self.graph.vertex_count, self.extra_nodes, self.extra_sorter)

    def node_of(self, vertices: Ints) -> Ints:
        """Graph node of each problem vertex."""
        out = np.asarray(vertices, dtype=np.int64).copy()
        extra = out >= self.graph.vertex_count
        out[extra] = self.extra_nodes[out[extra] - self.graph.vertex_count]
        return out


def _vertex_of(nodes: Ints, vertex_count: int, extra_nodes: Ints, sorter: Ints) -> Ints:
    out = np.asarray(nodes, dtype=np.int64).copy()
    shape = out >= vertex_count
    out[shape] = vertex_count + sorter[np.searchsorted(extra_nodes, out[shape], sorter=sorter)]
    return out


def _problem_graph(graph: RoadGraph, nodes: Ints, closed: npt.NDArray[np.bool_] | None,
                   extra_first: Ints | None = None) -> _ProblemGraph:
    """Split the edges that carry snapped shape points at those points, drop closed edges, keep the fastest.

    ``closed`` is one bool per edge, or one per geometry position (a closed step, see ``EdgeClosures``):
    then edges are also cut where open steps meet closed ones, so the open part of a partly flooded
    street stays drivable from its open end. ``extra_first`` (an earlier problem graph's extra vertices) are
    kept as vertices, first and in their order, so that every earlier vertex keeps its number.
    """
    V = graph.vertex_count
    g, offsets = graph.geometry_nodes, graph.geometry_offsets
    per_step = closed is not None and len(closed) == len(g) and len(g) != graph.edge_count
    boundary = np.zeros(0, dtype=np.int64)
    if per_step:
        assert closed is not None
        inner = np.ones(len(g), dtype=bool)
        inner[offsets[:-1]] = False
        inner[offsets[1:] - 1] = False
        change = np.zeros(len(g), dtype=bool)
        change[1:] = closed[1:] != closed[:-1]
        boundary = g[inner & change]
    extra = np.unique(np.concatenate((nodes[nodes >= V], boundary[boundary >= V])))
    if extra_first is not None:
        extra = np.concatenate((extra_first, np.setdiff1d(extra, extra_first)))
    sorter = np.argsort(extra, kind="stable")
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
    piece_closed = None
    if per_step:
        assert closed is not None
        piece_closed = np.logical_or.reduceat(closed, positions)[:-1][pair]
    elif closed is not None:
        piece_closed = closed[edge]

    tail = _vertex_of(g[first], V, extra, sorter)
    head = _vertex_of(g[last], V, extra, sorter)

    usable = tail != head  # a loop never shortens a path
    if piece_closed is not None:
        usable &= ~piece_closed
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
    return _ProblemGraph(graph, csr, index, first, last, meters, extra, key, sorter)


def _legs(problem: _ProblemGraph, walks: list[Ints], minutes: list[float], *, one_point: bool = False
          ) -> list[LegPath]:
    """The legs along the problem-graph vertex walks (source first), all in one numpy pass.

    Equal to walking each leg alone, without per-leg numpy calls and polyline encodings (a regional plan has
    tens of thousands of legs, a re-plan a thousand). A leg of one vertex (the same place) is that point twice
    (a regional table's legs), or once with ``one_point`` (``MapRouter``'s, as its plans have always had them:
    then the meters are also summed leg by leg, as numpy sums an array, not added up in one pass).
    """
    if not walks:
        return []
    graph = problem.graph
    sizes = np.array([len(w) for w in walks], dtype=np.int64)
    steps = np.concatenate(walks).astype(np.int64)
    starts_at = np.cumsum(sizes) - sizes
    first = np.zeros(len(steps), dtype=bool)
    first[starts_at] = True
    pair = np.flatnonzero(~first)  # step k closes the pair (k - 1 -> k) of its own leg
    pieces = problem.pieces_between(steps[pair - 1], steps[pair])
    leg_of_step = np.repeat(np.arange(len(walks)), sizes)
    if one_point:  # numpy's sum leg by leg, to the bit as the plans and golden files have it
        piece_meters = problem.meters[pieces]
        bounds = np.cumsum(np.bincount(leg_of_step[pair], minlength=len(walks)))
        meters = np.array([piece_meters[a:b].sum() for a, b in zip(np.append(0, bounds[:-1]), bounds, strict=True)])
    else:
        meters = np.bincount(leg_of_step[pair], weights=problem.meters[pieces], minlength=len(walks))
    # Nodes each step adds: the leg's first node, else the piece's shape points after its tail.
    emit = np.ones(len(steps), dtype=np.int64)
    emit[pair] = problem.last[pieces] - problem.first[pieces]
    begin = np.zeros(len(steps), dtype=np.int64)
    begin[pair] = problem.first[pieces] + 1
    offsets = np.cumsum(emit) - emit
    within = np.arange(int(emit.sum())) - np.repeat(offsets, emit)
    nodes = graph.geometry_nodes[np.minimum(np.repeat(begin, emit) + within, len(graph.geometry_nodes) - 1)]
    nodes[offsets[first]] = problem.node_of(steps[first])
    lon, lat = graph.lon[nodes], graph.lat[nodes]
    leg_of_node = np.repeat(leg_of_step, emit)
    same = np.zeros(len(nodes), dtype=bool)
    same[1:] = (lon[1:] == lon[:-1]) & (lat[1:] == lat[:-1]) & (leg_of_node[1:] == leg_of_node[:-1])
    keep = ~same
    points = np.column_stack([lon[keep], lat[keep]])
    counts = np.bincount(leg_of_node[keep], minlength=len(walks))
    split = np.split(points, np.cumsum(counts)[:-1])
    # A leg of one vertex (same place) is one point twice, as ``_leg`` gives it.
    if not one_point:
        split = [np.vstack([p, p]) if len(w) < 2 else p for p, w in zip(split, walks, strict=True)]
    lines = encode_many(split)
    return [LegPath(m, float(meters[k]) if len(walks[k]) >= 2 else 0.0, polyline=line)
            for k, (m, line) in enumerate(zip(minutes, lines, strict=True))]


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
        #: Trees kept from before a closure, per source: the targets towards which they are wrong.
        self._stale: dict[int, frozenset[int]] = {}

    def keep_partial(self, stale: Mapping[int, Iterable[int]]) -> None:
        """Mark the kept tree of each source as wrong towards its targets (it is recomputed when a leg needs one)."""
        self._stale = {int(s): frozenset(targets) if isinstance(targets, frozenset) else
                       frozenset(int(t) for t in targets) for s, targets in stale.items()}

    def predecessor_row(self, vertex: int) -> tuple[npt.NDArray[np.int32] | None, frozenset[int]]:
        """The shortest-path tree from ``vertex`` if it is still kept (else ``None``), and the targets it is
        wrong towards."""
        with self._lock:
            return self._predecessors.get(vertex), self._stale.get(vertex, frozenset())

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
                    if int(self._vertex[j]) in self._stale.get(source, ()):
                        del self._stale[source]
                        self._predecessors.pop(source, None)  # its kept tree crosses a closure to there
                    by_source.setdefault(source, []).append(k)
                else:
                    legs[k] = known
            sources = sorted(by_source)
            walks: list[Ints] = []
            walked: list[int] = []
            # A batch of sources at a time: one Dijkstra call each, and a bounded number of rows in memory.
            for start in range(0, len(sources), CHUNK):
                batch = sources[start : start + CHUNK]
                rows = self._rows(batch)
                for source in batch:
                    for k in by_source[source]:
                        i, j = int(pairs[k][0]), int(pairs[k][1])
                        if np.isfinite(self._minutes[i, j]):
                            walks.append(_walk(rows[source], source, int(self._vertex[j])))
                            walked.append(k)
                        else:
                            legs[k] = LegPath(float(self._minutes[i, j]), None)
            # The legs' road paths in one numpy pass (equal to walking each leg alone).
            minutes = [float(self._minutes[int(pairs[k][0]), int(pairs[k][1])]) for k in walked]
            for k, walked_leg in zip(walked, _legs(self._problem, walks, minutes, one_point=True), strict=True):
                legs[k] = walked_leg
            for k, (i, j) in enumerate(pairs):
                known = legs[k]
                if known is not None:
                    self._legs[(int(i), int(j))] = known
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


def _walk(pred: npt.NDArray[np.int32], source: int, target: int) -> Ints:
    """The vertices from ``source`` to ``target`` along a shortest-path tree rooted at ``source``."""
    chain = [target]
    while chain[-1] != source:
        chain.append(int(pred[chain[-1]]))
    chain.reverse()
    return np.asarray(chain, dtype=np.int64)


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
                   predecessors: dict[int, npt.NDArray[np.int32]] | None, backwards: bool = False) -> Floats:
    """Seconds from each source to each target (``inf`` if unreachable); fills each source's predecessor row.

    ``backwards``: on the reversed roads, so row k holds the seconds from each target *to* ``sources[k]`` (a
    column of the table; no predecessors). Chunks of ``CHUNK`` sources run on ``MATRIX_THREADS`` threads: SciPy's
    Dijkstra runs without the interpreter lock, so the two cores of a laptop share the work. The result does not
    depend on the split.
    """
    out = np.empty((len(sources), len(targets)))
    batches = [sources[start : start + CHUNK] for start in range(0, len(sources), CHUNK)]
    csr = problem.csr.T.tocsr() if backwards else problem.csr
    keep = predecessors is not None and not backwards

    def run(batch: Ints) -> tuple[Floats, npt.NDArray[np.int32] | None]:
        if not keep:
            return dijkstra(csr, directed=True, indices=batch)[:, targets], None
        block, pred = dijkstra(csr, directed=True, indices=batch, return_predecessors=True)
        return block[:, targets], pred.astype(np.int32)

    threads = min(MATRIX_THREADS, len(batches))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(run, batches))
    else:
        results = [run(batch) for batch in batches]
    for k, (batch, (block, pred)) in enumerate(zip(batches, results, strict=True)):
        out[k * CHUNK : k * CHUNK + len(batch)] = block
        if predecessors is not None and pred is not None:
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
    if closed.shape not in ((graph.edge_count,), graph.geometry_nodes.shape):
        raise ValueError(f"closed_mask has shape {closed.shape}, expected ({graph.edge_count},) per edge or "
                         f"{graph.geometry_nodes.shape} per step")
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

    ``closed_mask`` (one bool per graph edge, or per step as ``EdgeClosures.segments``) removes closed edges
    (or only their closed steps). Unreachable pairs are ``inf``; the
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
    """How ``update_travel_times`` got its answer: rows (and columns) recomputed out of all, or a full rebuild and
    why."""

    recomputed: int
    sources: int
    full_rebuild_reason: str | None = None
    #: Columns recomputed by Dijkstra on the reversed roads (towards a place that many paths to it changed).
    columns: int = 0
    #: Changed pairs left pending (``nan``): between places the update was not asked for (``needed``).
    pending: int = 0


#: A pair whose old time is within this share of a path through a changed road counts as changed (ties and float
#: rounding included): the test may recompute a time that did not change, never keep one that did.
TIE_SHARE = 1e-9


def _step_mask(graph: RoadGraph, closed: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per geometry position: the step from it to the next node of its edge is closed (per-edge masks spread)."""
    if len(closed) == len(graph.geometry_nodes) and len(closed) != graph.edge_count:
        return closed
    last = np.zeros(len(graph.geometry_nodes), dtype=bool)
    last[graph.geometry_offsets[1:] - 1] = True
    return closed[graph.geometry_edge] & ~last


def _rebuild_reason(graph: RoadGraph, solved: _Solved | None, node_array: Ints,
                    closed: npt.NDArray[np.bool_]) -> str | None:
    """Why the previous times cannot be updated but must be rebuilt, or ``None`` when they can."""
    if solved is None:
        return "the previous times did not come from a road map"
    if solved.problem.graph is not graph:
        return "another road graph"
    if (_step_mask(graph, solved.closed) & ~_step_mask(graph, closed)).any():
        return "a closure was lifted"
    if not np.isin(np.unique(node_array[node_array >= graph.vertex_count]), solved.problem.extra_nodes).all():
        return "a new place lies inside a road no earlier place did"
    return None


#: Tails of changed roads handled together when testing pairs (bounds the (tails x vertices) distance blocks).
TAIL_BLOCK = 64


def _changed_pairs(solved: _Solved, newly: npt.NDArray[np.bool_], unique: Ints,
                   exact: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.bool_]:
    """Per pair of ``unique`` vertices: its old time or path may have changed (True for a vertex new to the table).

    A closure only lengthens paths, and a path that took a newly closed step passed through the step's tail u,
    so its time was d(s, u) + d(u, t). Pairs for which that holds for no such tail (distances on the old roads:
    one Dijkstra from and one towards each tail) keep their time to the bit and their path. With ``exact`` (per
    vertex: a place the caller needs) a pair not between two such places is only bounded (by the nearest tail
    each way): it may be flagged without having changed, never the other way round.
    """
    old = solved.problem
    at = np.searchsorted(solved.unique, unique).clip(max=len(solved.unique) - 1)
    known = solved.unique[at] == unique
    changed = ~(known[:, None] & known[None, :])
    steps = np.concatenate(([0], np.cumsum(newly)))
    piece = old.piece
    hit = steps[old.last[piece]] - steps[old.first[piece]] > 0  # old CSR entries through a newly closed step
    if hit.any():
        tails = np.unique(old.entry_key[hit] // old.size)
        inside = np.flatnonzero(known)
        before = solved.seconds[np.ix_(at[inside], at[inside])]
        limit = np.where(np.isfinite(before), before * (1 + TIE_SHARE) + TIE_SHARE, -1.0)  # unreachable stays so
        backwards = old.csr.T.tocsr()
        vertices = unique[inside]
        blocks = [tails[start : start + TAIL_BLOCK] for start in range(0, len(tails), TAIL_BLOCK)]
        searches = [(backwards, b) for b in blocks] + [(old.csr, b) for b in blocks]

        def search(job: tuple[csr_matrix, Ints]) -> Floats:
            return dijkstra(job[0], directed=True, indices=job[1])[:, vertices]

        # On the matrix threads, as the rows: SciPy's Dijkstra runs without the interpreter lock.
        with ThreadPoolExecutor(min(MATRIX_THREADS, len(searches))) as pool:
            found_blocks = list(pool.map(search, searches))
        to_tail = np.vstack(found_blocks[: len(blocks)])
        from_tail = np.vstack(found_blocks[len(blocks) :])
        # A pair can only pass a tail if it passes the nearest-to-it and nearest-from-it bound (a lower bound of
        # every tail's sum): the exact test then runs on those few pairs, not on every pair once per tail.
        maybe = np.flatnonzero(to_tail.min(axis=0)[:, None] + from_tail.min(axis=0)[None, :] <= limit)
        found = np.zeros(before.shape, dtype=bool)
        rows, cols = np.divmod(maybe, len(vertices))
        if exact is not None:  # pairs the caller will not read: the bound is enough (flagged, left pending)
            wanted = exact[inside]
            loose = ~(wanted[rows] & wanted[cols])
            found.ravel()[maybe[loose]] = True
            maybe, rows, cols = maybe[~loose], rows[~loose], cols[~loose]
        hit_any = np.zeros(len(maybe), dtype=bool)
        for k in range(len(tails)):
            hit_any |= to_tail[k, rows] + from_tail[k, cols] <= limit.ravel()[maybe]
        found.ravel()[maybe[hit_any]] = True
        changed[np.ix_(inside, inside)] = found
    # Pairs an earlier update left pending (``nan``: a re-plan did not need them) are computed when needed.
    inside = np.flatnonzero(known)
    changed[np.ix_(inside, inside)] |= np.isnan(solved.seconds[np.ix_(at[inside], at[inside])])
    np.fill_diagonal(changed, False)
    return changed


def _cover(changed: npt.NDArray[np.bool_]) -> tuple[Ints, Ints]:
    """Rows and columns that together hold every changed pair, few in all: the rows with most changed pairs,
    then the columns of what is left (the split point with the fewest Dijkstra runs)."""
    counts = changed.sum(axis=1)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    # Per column, the worst rank of a row that changes it: taking the ``r`` best rows, it is needed iff >= r.
    worst = np.where(changed, rank[:, None], -1).max(axis=0, initial=-1)
    rows_with = int((counts > 0).sum())
    needed = np.cumsum(np.bincount(worst[worst >= 0], minlength=len(order))[::-1])[::-1]  # columns needing >= r
    cost = np.arange(rows_with + 1) + np.append(needed, 0)[: rows_with + 1]
    r = int(np.argmin(cost))
    return np.sort(order[:r]), np.flatnonzero(worst >= r)


def update_travel_times(
    previous: TravelTimes,
    graph: RoadGraph,
    refs: Sequence[LocationRef],
    nodes: Sequence[int] | Ints,
    closed_mask: npt.NDArray[np.bool_] | None,
    needed: Sequence[int] | None = None,
) -> tuple[TravelTimes, UpdateReport]:
    """``build_travel_times`` after more roads closed, recomputing only the times a closure can change.

    Closing roads (whole or in part: a flood zone closes only its flooded steps) only lengthens paths. A pair
    of places keeps its time and road path when its old path cannot have used a newly closed step (see
    ``_changed_pairs``); the changed pairs, and those of new places, are covered by a few rows (Dijkstra) and
    columns (Dijkstra on the reversed roads, ``_cover``). A kept tree is marked wrong towards the columns it
    changed, so a leg there is walked on a new one. The answer equals a full rebuild (to float rounding: a
    backward search adds the same road times in the other order). A full rebuild happens when a closure was
    lifted (paths may shorten), the map differs, or a new place splits a road no earlier place did.

    ``needed`` (indices of ``refs``: a re-plan's waiting households, its drivers' places and the shelters) limits
    the work to the pairs among those places: a changed pair that no recomputed row or column holds is left
    ``nan`` (pending, see ``TravelTimes``) and computed by a later update that needs it. At minute 30 of the re-plan
    benchmark that is 300 Dijkstra runs instead of 750.
    """
    node_array, closed = _check_inputs(graph, refs, nodes, closed_mask)
    router = previous.router
    solved = router.solved if isinstance(router, MapRouter) else None
    reason = _rebuild_reason(graph, solved, node_array, closed)
    if reason is not None or solved is None or not isinstance(router, MapRouter):
        fresh = build_travel_times(graph, refs, node_array, closed)
        count = len(np.unique(node_array))
        return fresh, UpdateReport(count, count, reason)
    # Earlier vertices keep their numbers (new cut points are added after them), so kept trees stay valid.
    problem = _problem_graph(graph, node_array, closed, extra_first=solved.problem.extra_nodes)
    vertex = problem.vertex_of(node_array)
    unique = np.unique(vertex)
    newly = _step_mask(graph, closed) & ~_step_mask(graph, solved.closed)
    if needed is None:
        changed = _changed_pairs(solved, newly, unique)
        rows, cols = _cover(changed)
    else:
        need = np.unique(np.searchsorted(unique, vertex[np.asarray(needed, dtype=np.int64)]))
        wanted = np.zeros(len(unique), dtype=bool)
        wanted[need] = True
        changed = _changed_pairs(solved, newly, unique, exact=wanted)
        sub_rows, sub_cols = _cover(changed[np.ix_(need, need)])
        rows, cols = need[sub_rows], need[sub_cols]
    seconds = np.full((len(unique), len(unique)), np.inf)
    at = np.searchsorted(solved.unique, unique).clip(max=len(solved.unique) - 1)
    known = np.flatnonzero(solved.unique[at] == unique)
    seconds[np.ix_(known, known)] = solved.seconds[np.ix_(at[known], at[known])]
    if len(cols):
        seconds[:, cols] = _dijkstra_rows(problem, unique[cols], unique, None, backwards=True).T
    predecessors: dict[int, npt.NDArray[np.int32]] = {}
    stale: dict[int, frozenset[int]] = {}
    for k in np.setdiff1d(known, rows).tolist():
        source = int(unique[k])
        row, wrong = router.predecessor_row(source)
        if row is not None:
            predecessors[source] = row
            # Wrong towards every place this closure changed (recomputed or pending), and wherever an earlier
            # closure made it wrong.
            stale[source] = frozenset(wrong) | frozenset(unique[changed[k]].tolist())
    if len(rows):
        seconds[rows] = _dijkstra_rows(problem, unique[rows], unique, predecessors)
    pending = changed.copy()
    pending[rows] = False
    pending[:, cols] = False
    seconds[pending] = np.nan  # none without ``needed``: the cover holds every changed pair
    times = _travel_times(refs, _Solved(problem, closed, unique, seconds), vertex, predecessors)
    assert isinstance(times.router, MapRouter)
    times.router.keep_partial({source: wrong for source, wrong in stale.items() if wrong})
    return times, UpdateReport(len(rows), len(unique), None, len(cols), int(pending.sum()))


def matrix_for_places(
    graph: RoadGraph,
    places: Sequence[tuple[LocationRef, float, float]],
    closures: EdgeClosures | npt.NDArray[np.bool_] | None = None,
    max_snap_meters: float | None = None,
    previous: TravelTimes | None = None,
    report: Callable[[UpdateReport], None] | None = None,
    needed: Sequence[int] | None = None,
) -> TravelTimes:
    """Snap ``(ref, lat, lon)`` places to the road graph and build their travel times.

    With ``previous`` (the times of the same map before new closures), only the rows a closure can change
    are recomputed (``update_travel_times``; only among the places ``needed``, indices of ``places``, when given);
    ``report`` receives how many. Raises ``MapError`` naming the
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
    mask = closures.mask if isinstance(closures, EdgeClosures) else closures
    if previous is None:
        return build_travel_times(graph, refs, snapped.node, mask)
    times, update = update_travel_times(previous, graph, refs, snapped.node, mask, needed)
    if report is not None:
        report(update)
    return times
