"""The drivable road graph: OSM nodes, simplified directed edges with their node geometry, and a path checker."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

EARTH_RADIUS_M = 6_371_008.8

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def haversine_m(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    """Great-circle meters between WGS84 degree arrays (mean earth radius; within 0.5% of the ellipsoid)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def walk_meters(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Straight-line meters between two positions: the walk to a meeting point as the plan states it."""
    return float(haversine_m(np.array([lon1]), np.array([lat1]), np.array([lon2]), np.array([lat2]))[0])


def _coordinate_keys(lon: Floats, lat: Floats) -> Ints:
    """One int64 per position at OSM's 1e-7 degree resolution, so equal OSM coordinates give equal keys."""
    x = np.rint(np.asarray(lon, dtype=np.float64) * 1e7).astype(np.int64) + 1_800_000_000
    y = np.rint(np.asarray(lat, dtype=np.float64) * 1e7).astype(np.int64) + 900_000_000
    return x * 1_800_000_001 + y


def _fmt(point: Sequence[float]) -> str:
    return f"({point[0]:.7f}, {point[1]:.7f})"


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A simplified, strongly connected directed road graph that keeps every OSM node of its roads.

    Nodes ``0 .. vertex_count - 1`` are vertices (way ends and nodes shared by two or more car ways); the
    others are shape points inside edges. Edge ``e`` runs from ``edge_tail[e]`` to ``edge_head[e]`` along
    the nodes ``geometry_nodes[geometry_offsets[e]:geometry_offsets[e + 1]]`` (both ends included), takes
    ``edge_seconds[e]`` seconds and is ``edge_meters[e]`` meters long, on OSM way ``edge_way[e]`` of road
    class ``road_class(e)`` named ``street_name(e)``. A two-way road has one edge per direction; parallel
    edges (two ways between the same vertices) are all kept.
    """

    node_osm_id: Ints
    lon: Floats
    lat: Floats
    vertex_count: int
    edge_tail: Ints
    edge_head: Ints
    edge_way: Ints
    edge_seconds: Floats
    edge_meters: Floats
    geometry_offsets: Ints
    geometry_nodes: Ints
    #: Road class (OSM ``highway``) of each edge: ``class_table[edge_class[e]]``.
    edge_class: Ints
    class_table: npt.NDArray[np.str_]
    #: Street name and road number (OSM ``name``, ``ref``) of each edge: ``name_table[edge_name[e]]`` ("" if none).
    edge_name: Ints
    edge_ref: Ints
    name_table: npt.NDArray[np.str_]

    @property
    def node_count(self) -> int:
        return len(self.lon)

    @property
    def edge_count(self) -> int:
        return len(self.edge_tail)

    def edge_nodes(self, edge: int) -> Ints:
        """Node indices along one edge, tail first."""
        return self.geometry_nodes[self.geometry_offsets[edge] : self.geometry_offsets[edge + 1]]

    def road_class(self, edge: int) -> str:
        """The edge's road class (OSM ``highway``: ``residential``, ``primary``, ...)."""
        return str(self.class_table[self.edge_class[edge]])

    def street_name(self, edge: int) -> str:
        """The edge's street name (OSM ``name``), ``""`` when the way has none."""
        return str(self.name_table[self.edge_name[edge]])

    def edge_classes(self) -> npt.NDArray[np.str_]:
        """The road class of every edge."""
        return self.class_table[self.edge_class]

    def way_classes(self) -> dict[int, str]:
        """OSM way id -> its road class (OSM ``highway``)."""
        return {int(w): str(c) for w, c in zip(self.edge_way.tolist(), self.edge_classes().tolist(), strict=True)}

    def way_names(self, with_ref: bool = False) -> dict[int, str]:
        """OSM way id -> its street name (``with_ref``: else ``road <ref>``); ways without are left out."""
        out: dict[int, str] = {}
        for way, name, ref in zip(self.edge_way.tolist(), self.name_table[self.edge_name].tolist(),
                                  self.name_table[self.edge_ref].tolist(), strict=True):
            label = name or (f"road {ref}" if ref and with_ref else "")
            if label:
                out.setdefault(int(way), label)
        return out

    @cached_property
    def geometry_edge(self) -> Ints:
        """For each position of ``geometry_nodes``, the edge it belongs to."""
        return np.repeat(np.arange(self.edge_count, dtype=np.int64), np.diff(self.geometry_offsets))

    @cached_property
    def segment_meters(self) -> Floats:
        """Meters from each geometry position to the next one of its edge (0 at an edge's last node)."""
        g = self.geometry_nodes
        out = np.zeros(len(g), dtype=np.float64)
        if len(g) > 1:
            out[:-1] = haversine_m(self.lon[g[:-1]], self.lat[g[:-1]], self.lon[g[1:]], self.lat[g[1:]])
        out[self.geometry_offsets[1:] - 1] = 0.0
        return out

    @cached_property
    def segment_seconds(self) -> Floats:
        """Seconds from each geometry position to the next: the edge's time shared out by segment length."""
        edge = self.geometry_edge
        meters = self.edge_meters[edge]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(meters > 0, self.segment_meters / meters, 0.0)
        # A zero-length edge (duplicate nodes only) takes zero seconds, so a zero share loses nothing.
        return share * self.edge_seconds[edge]

    @cached_property
    def _segment_table(self) -> tuple[Ints, Ints, Ints]:
        """Every directed node-to-node step of every edge, keyed by the two coordinates, sorted by key: the keys,
        each step's edge and its geometry position."""
        g = self.geometry_nodes
        inner = np.ones(len(g), dtype=bool)
        inner[self.geometry_offsets[1:] - 1] = False  # the last node of an edge starts no step
        positions = np.flatnonzero(inner)
        a = self._coord_rank[g[positions]]
        b = self._coord_rank[g[positions + 1]]
        keys = a * np.int64(len(self._coord_keys)) + b
        order = np.argsort(keys, kind="stable")
        return keys[order], self.geometry_edge[positions][order], positions[order]

    @cached_property
    def _node_key(self) -> Ints:
        return _coordinate_keys(self.lon, self.lat)

    @cached_property
    def _coord_keys(self) -> Ints:
        """Distinct coordinate keys, sorted (two OSM nodes at one spot share a key)."""
        return np.unique(self._node_key)

    @cached_property
    def _coord_rank(self) -> Ints:
        return np.searchsorted(self._coord_keys, self._node_key)

    def _open_steps(self, closed_mask: Bools) -> Ints:
        """Running count of open steps along the segment table for one closure mask (the last one is kept).

        A checker asks for every leg of a plan with the same mask: computing this once per mask, not per
        leg, keeps the check proportional to the plan's size rather than legs times map size.
        """
        mask = np.asarray(closed_mask, dtype=bool)
        if mask.shape not in ((self.edge_count,), self.geometry_nodes.shape):
            raise ValueError(f"closed_mask has shape {mask.shape}, expected ({self.edge_count},) per edge or "
                             f"{self.geometry_nodes.shape} per step")
        key = hashlib.blake2b(np.packbits(mask).tobytes() + bytes(str(mask.shape), "ascii"),
                              digest_size=16).digest()
        cached = self.__dict__.get("_open_steps_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        _, seg_edges, seg_positions = self._segment_table
        # Per step (a flood closes only its flooded steps), or per edge (every step of a closed way).
        step_closed = mask[seg_positions] if mask.shape == self.geometry_nodes.shape else mask[seg_edges]
        open_cum = np.concatenate(([0], np.cumsum(~step_closed)))
        self.__dict__["_open_steps_cache"] = (key, open_cum)
        return open_cum

    def follows_roads(self, coordinates: Sequence[Sequence[float]], closed_mask: Bools | None = None) -> str | None:
        """Check that ``(lon, lat)`` points walk road segments node to node in an allowed direction.

        Returns ``None`` when every consecutive pair is one step along an edge (repeating a point is
        allowed) and, with ``closed_mask`` (one bool per edge, or per geometry position as
        ``EdgeClosures.segments``), at least one open edge (or open step) has that step; otherwise a
        one-line description of the first offending point or step.
        """
        points = np.asarray(coordinates, dtype=np.float64).reshape(-1, 2)
        if len(points) == 0:
            return None
        keys = _coordinate_keys(points[:, 0], points[:, 1])
        ranks = np.searchsorted(self._coord_keys, keys)
        ranks = np.minimum(ranks, len(self._coord_keys) - 1)
        unknown = np.flatnonzero(self._coord_keys[ranks] != keys)
        if len(unknown):
            i = int(unknown[0])
            return f"point {i} {_fmt(points[i])} is not a node of the road map"
        if len(points) == 1:
            return None
        seg_keys, seg_edges, _ = self._segment_table
        size = np.int64(len(self._coord_keys))
        lo, hi, usable = self._steps(ranks[:-1], ranks[1:], closed_mask)
        bad = np.flatnonzero((usable == 0) & (ranks[:-1] != ranks[1:]))
        if not len(bad):
            return None
        i = int(bad[0])
        where = f"step {i} from {_fmt(points[i])} to {_fmt(points[i + 1])}"
        if hi[i] > lo[i]:
            ways = sorted({int(self.edge_way[e]) for e in seg_edges[lo[i] : hi[i]]})
            return f"{where} uses closed way {', '.join(map(str, ways))}"
        back = ranks[i + 1] * size + ranks[i]
        rlo, rhi = np.searchsorted(seg_keys, back, side="left"), np.searchsorted(seg_keys, back, side="right")
        if rhi > rlo:
            return f"{where} drives against the one-way way {int(self.edge_way[seg_edges[rlo]])}"
        return f"{where} is not a road segment"

    def _steps(self, tails: Ints, heads: Ints, closed_mask: Bools | None) -> tuple[Ints, Ints, Ints]:
        """For steps between coordinate ranks: the span ``[lo, hi)`` of road segments that make each step, and how
        many of them are open (all with no ``closed_mask``)."""
        seg_keys = self._segment_table[0]
        step = tails * np.int64(len(self._coord_keys)) + heads
        lo = np.searchsorted(seg_keys, step, side="left")
        hi = np.searchsorted(seg_keys, step, side="right")
        if closed_mask is None:
            return lo, hi, hi - lo
        open_cum = self._open_steps(closed_mask)
        return lo, hi, open_cum[hi] - open_cum[lo]

    def off_road(self, paths: Sequence[Floats], closed_mask: Bools | None = None) -> list[int]:
        """Indices of the ``(lon, lat)`` paths that ``follows_roads`` finds fault with, all in one numpy pass (a
        checker asks for every leg of a plan; ``follows_roads`` then words the fault of the few it names)."""
        sizes = np.array([len(p) for p in paths], dtype=np.int64)
        if not len(paths) or sizes.sum() == 0:
            return []
        points = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in paths])
        owner = np.repeat(np.arange(len(paths)), sizes)
        keys = _coordinate_keys(points[:, 0], points[:, 1])
        ranks = np.minimum(np.searchsorted(self._coord_keys, keys), len(self._coord_keys) - 1)
        bad = np.zeros(len(paths), dtype=bool)
        bad[owner[self._coord_keys[ranks] != keys]] = True
        inner = np.flatnonzero(owner[:-1] == owner[1:])  # steps within one path, not from one path to the next
        _, _, usable = self._steps(ranks[inner], ranks[inner + 1], closed_mask)
        bad[owner[inner[(usable == 0) & (ranks[inner] != ranks[inner + 1])]]] = True
        return [int(k) for k in np.flatnonzero(bad)]

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The graph as plain named arrays (for the cache file)."""
        return {
            "node_osm_id": self.node_osm_id,
            "lon": self.lon,
            "lat": self.lat,
            "vertex_count": np.array(self.vertex_count, dtype=np.int64),
            "edge_tail": self.edge_tail,
            "edge_head": self.edge_head,
            "edge_way": self.edge_way,
            "edge_seconds": self.edge_seconds,
            "edge_meters": self.edge_meters,
            "geometry_offsets": self.geometry_offsets,
            "geometry_nodes": self.geometry_nodes,
            "edge_class": self.edge_class,
            "class_table": self.class_table,
            "edge_name": self.edge_name,
            "edge_ref": self.edge_ref,
            "name_table": self.name_table,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> RoadGraph:
        """Inverse of :meth:`arrays`; ``KeyError`` if an array is missing."""
        fields = {name: np.asarray(arrays[name]) for name in cls.__dataclass_fields__ if name != "vertex_count"}
        return cls(vertex_count=int(arrays["vertex_count"]), **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Nodes:
    """The distinct OSM nodes of the ways: ``node_of[i]`` is the node at way position ``i``."""

    osm_id: Ints
    lon: Floats
    lat: Floats
    node_of: Ints
    is_vertex: Bools


@dataclass(frozen=True)
class _Pieces:
    """Way stretches between two vertices: positions ``start[p]..stop[p]`` of way ``way[p]``, ``meters[p]`` long."""

    start: Ints
    stop: Ints
    way: Ints
    meters: Floats


@dataclass(frozen=True)
class _Edges:
    """Directed edges before the largest strongly connected part is kept; ``geometry`` holds node indices."""

    tails: Ints
    heads: Ints
    piece_way: Ints
    meters: Floats
    seconds: Floats
    n_geometry: Ints
    geometry: Ints


def _nodes(node_ids: Ints, lon: Floats, lat: Floats, way_offsets: Ints) -> _Nodes:
    """Distinct nodes and which of them are vertices: like osmnx, way ends and nodes used more than once
    (shared by ways, or a way crossing itself)."""
    unique_ids, node_of, uses = np.unique(node_ids, return_inverse=True, return_counts=True)
    node_lon = np.zeros(len(unique_ids))
    node_lat = np.zeros(len(unique_ids))
    node_lon[node_of], node_lat[node_of] = lon, lat
    is_vertex = uses >= 2
    is_vertex[node_of[way_offsets[:-1]]] = True
    is_vertex[node_of[way_offsets[1:] - 1]] = True
    return _Nodes(unique_ids, node_lon, node_lat, node_of, is_vertex)


def _pieces(nodes: _Nodes, way_of: Ints, lon: Floats, lat: Floats) -> _Pieces:
    """Cut every way at its vertices and measure the pieces."""
    cuts = np.flatnonzero(nodes.is_vertex[nodes.node_of])
    same_way = way_of[cuts[:-1]] == way_of[cuts[1:]]
    start, stop = cuts[:-1][same_way], cuts[1:][same_way]
    seg = np.zeros(len(lon))
    seg[:-1] = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    # Interleaved bounds make reduceat sum seg[start:stop] at even places; odd places are ignored.
    meters = np.add.reduceat(seg, np.column_stack((start, stop)).ravel())[::2]
    return _Pieces(start, stop, way_of[start], meters)


def _directed(nodes: _Nodes, pieces: _Pieces, forward_kmh: Floats, backward_kmh: Floats) -> _Edges:
    """One edge per piece and allowed direction, its geometry in driving order."""
    fwd = forward_kmh[pieces.way] > 0
    bwd = backward_kmh[pieces.way] > 0
    lengths = pieces.stop - pieces.start + 1

    def geometry(begin: Ints, step: int, n: Ints) -> Ints:
        within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        return np.repeat(begin, n) + step * within

    node_of = nodes.node_of
    meters = np.concatenate((pieces.meters[fwd], pieces.meters[bwd]))
    kmh = np.concatenate((forward_kmh[pieces.way[fwd]], backward_kmh[pieces.way[bwd]]))
    positions = np.concatenate((geometry(pieces.start[fwd], 1, lengths[fwd]),
                                geometry(pieces.stop[bwd], -1, lengths[bwd])))
    return _Edges(
        tails=np.concatenate((node_of[pieces.start[fwd]], node_of[pieces.stop[bwd]])),
        heads=np.concatenate((node_of[pieces.stop[fwd]], node_of[pieces.start[bwd]])),
        piece_way=np.concatenate((pieces.way[fwd], pieces.way[bwd])),
        meters=meters, seconds=meters / (kmh / 3.6),
        n_geometry=np.concatenate((lengths[fwd], lengths[bwd])), geometry=node_of[positions])


def _largest_component(edges: _Edges, size: int) -> Bools:
    """Which edges lie in the largest strongly connected part, judged on the vertices."""
    adjacency = csr_matrix((np.ones(len(edges.tails)), (edges.tails, edges.heads)), shape=(size, size))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    best = np.bincount(label[np.unique(np.concatenate((edges.tails, edges.heads)))]).argmax()
    return np.asarray((label[edges.tails] == best) & (label[edges.heads] == best))


def _table(values: Sequence[str] | None, count: int, default: str) -> tuple[Ints, npt.NDArray[np.str_]]:
    """Per-way strings as codes into a sorted table of the distinct values (``default`` when not given)."""
    given = np.asarray(values if values is not None else [default] * count, dtype=np.str_)
    table, codes = np.unique(np.concatenate((given, np.array([default, ""], dtype=np.str_))), return_inverse=True)
    return codes[:count].astype(np.int64), table


def build_graph(
    way_ids: Ints,
    way_offsets: Ints,
    node_ids: Ints,
    lon: Floats,
    lat: Floats,
    forward_kmh: Floats,
    backward_kmh: Floats,
    highway: Sequence[str] | None = None,
    name: Sequence[str] | None = None,
    ref: Sequence[str] | None = None,
) -> RoadGraph:
    """Simplify way node sequences into a :class:`RoadGraph`, restricted to its largest strongly connected part.

    Way ``w`` has the nodes ``node_ids[way_offsets[w]:way_offsets[w + 1]]`` (at least two, at ``lon``/``lat``);
    it may be driven forward at ``forward_kmh[w]`` and backward at ``backward_kmh[w]`` (0 = not allowed). Its
    road class (OSM ``highway``, default ``unclassified``), ``name`` and ``ref`` go with each of its edges.
    Raises ``ValueError`` when there is no road at all.
    """
    counts = np.diff(way_offsets)
    if len(counts) == 0 or counts.min() < 2:
        raise ValueError("need at least one way, each with two or more nodes")
    way_of = np.repeat(np.arange(len(counts)), counts)
    nodes = _nodes(node_ids, lon, lat, way_offsets)
    edges = _directed(nodes, _pieces(nodes, way_of, lon, lat), forward_kmh, backward_kmh)
    keep = _largest_component(edges, len(nodes.osm_id))
    geo = edges.geometry[np.repeat(keep, edges.n_geometry)]
    n_geo = edges.n_geometry[keep]

    # Renumber: kept vertices first (by OSM id), then the kept shape points.
    used = np.zeros(len(nodes.osm_id), dtype=bool)
    used[geo] = True
    order = np.concatenate((np.flatnonzero(used & nodes.is_vertex), np.flatnonzero(used & ~nodes.is_vertex)))
    new_index = np.full(len(nodes.osm_id), -1, dtype=np.int64)
    new_index[order] = np.arange(len(order))
    classes, class_table = _table(highway, len(counts), "unclassified")
    # Names and road numbers share one table: codes [0, n) are the names, [n, 2n) the refs.
    names, name_table = _table([*(name or [""] * len(counts)), *(ref or [""] * len(counts))], 2 * len(counts), "")
    kept_way = edges.piece_way[keep]
    return RoadGraph(
        node_osm_id=nodes.osm_id[order].astype(np.int64),
        lon=nodes.lon[order],
        lat=nodes.lat[order],
        vertex_count=int((used & nodes.is_vertex).sum()),
        edge_tail=new_index[edges.tails[keep]],
        edge_head=new_index[edges.heads[keep]],
        edge_way=way_ids[kept_way].astype(np.int64),
        edge_seconds=edges.seconds[keep],
        edge_meters=edges.meters[keep],
        geometry_offsets=np.concatenate(([0], np.cumsum(n_geo))).astype(np.int64),
        geometry_nodes=new_index[geo],
        edge_class=classes[kept_way],
        class_table=class_table,
        edge_name=names[kept_way],
        edge_ref=names[len(counts) + kept_way],
        name_table=name_table,
    )
