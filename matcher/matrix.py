"""Travel times and road paths between the places of a problem, by Dijkstra on the road graph."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
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
                    by_source.setdefault(int(self._vertex[i]), []).append(k)
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
    node_array = np.asarray(nodes, dtype=np.int64).reshape(-1)
    if len(node_array) != len(refs):
        raise ValueError(f"{len(refs)} locations but {len(node_array)} snapped nodes")
    if len(node_array) and (node_array.min() < 0 or node_array.max() >= graph.node_count):
        raise ValueError("a snapped node is not a node of the graph")
    closed = None if closed_mask is None else np.asarray(closed_mask, dtype=bool)
    if closed is not None and closed.shape != (graph.edge_count,):
        raise ValueError(f"closed_mask has shape {closed.shape}, expected ({graph.edge_count},)")
    problem = _problem_graph(graph, node_array, closed)
    vertex = problem.vertex_of(node_array)
    unique, column = np.unique(vertex, return_inverse=True)
    seconds = np.empty((len(unique), len(unique)))
    # Keep every source's predecessor row: the plan's legs then cost no second Dijkstra run
    # (int32 rows: about 50 MB for 1,200 places on a 10,000-vertex map).
    predecessors: dict[int, npt.NDArray[np.int32]] = {}
    for start in range(0, len(unique), CHUNK):
        batch = unique[start : start + CHUNK]
        block, pred = dijkstra(problem.csr, directed=True, indices=batch, return_predecessors=True)
        seconds[start : start + CHUNK] = block[:, unique]
        predecessors.update(zip(batch.tolist(), pred.astype(np.int32), strict=True))
    minutes = seconds[np.ix_(column, column)] / 60.0
    np.fill_diagonal(minutes, 0.0)
    return TravelTimes(tuple(refs), minutes, MapRouter(problem, vertex, minutes, predecessors))


def matrix_for_places(
    graph: RoadGraph,
    places: Sequence[tuple[LocationRef, float, float]],
    closures: EdgeClosures | npt.NDArray[np.bool_] | None = None,
    max_snap_meters: float | None = None,
) -> TravelTimes:
    """Snap ``(ref, lat, lon)`` places to the road graph and build their travel times.

    Raises ``MapError`` naming the record (``household H1``) of the first place too far from any road
    (``max_snap_meters`` defaults to ``Settings.snap_max_meters``).
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
    return build_travel_times(graph, refs, snapped.node, mask)
