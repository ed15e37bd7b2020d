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
    ``edge_seconds[e]`` seconds and is ``edge_meters[e]`` meters long. A two-way road has one edge per
    direction; parallel edges (two ways between the same vertices) are all kept.
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

    @property
    def node_count(self) -> int:
        return len(self.lon)

    @property
    def edge_count(self) -> int:
        return len(self.edge_tail)

    def edge_nodes(self, edge: int) -> Ints:
        """Node indices along one edge, tail first."""
        return self.geometry_nodes[self.geometry_offsets[edge] : self.geometry_offsets[edge + 1]]

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
    def _segment_table(self) -> tuple[Ints, Ints]:
        """Every directed node-to-node step of every edge, keyed by the two coordinates, sorted by key."""
        g = self.geometry_nodes
        inner = np.ones(len(g), dtype=bool)
        inner[self.geometry_offsets[1:] - 1] = False  # the last node of an edge starts no step
        positions = np.flatnonzero(inner)
        a = self._coord_rank[g[positions]]
        b = self._coord_rank[g[positions + 1]]
        keys = a * np.int64(len(self._coord_keys)) + b
        order = np.argsort(keys, kind="stable")
        return keys[order], self.geometry_edge[positions][order]

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
        if mask.shape != (self.edge_count,):
            raise ValueError(f"closed_mask has shape {mask.shape}, expected ({self.edge_count},)")
        key = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()
        cached = self.__dict__.get("_open_steps_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        _, seg_edges = self._segment_table
        open_cum = np.concatenate(([0], np.cumsum(~mask[seg_edges])))
        self.__dict__["_open_steps_cache"] = (key, open_cum)
        return open_cum

    def follows_roads(self, coordinates: Sequence[Sequence[float]], closed_mask: Bools | None = None) -> str | None:
        """Check that ``(lon, lat)`` points walk road segments node to node in an allowed direction.

        Returns ``None`` when every consecutive pair is one step along an edge (repeating a point is
        allowed) and, with ``closed_mask`` (one bool per edge), at least one open edge has that step;
        otherwise a one-line description of the first offending point or step.
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
        seg_keys, seg_edges = self._segment_table
        size = np.int64(len(self._coord_keys))
        step = ranks[:-1] * size + ranks[1:]
        lo = np.searchsorted(seg_keys, step, side="left")
        hi = np.searchsorted(seg_keys, step, side="right")
        if closed_mask is None:
            usable = hi - lo
        else:
            open_cum = self._open_steps(closed_mask)
            usable = open_cum[hi] - open_cum[lo]
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
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> RoadGraph:
        """Inverse of :meth:`arrays`; ``KeyError`` if an array is missing."""
        fields = {name: np.asarray(arrays[name]) for name in cls.__dataclass_fields__ if name != "vertex_count"}
        return cls(vertex_count=int(arrays["vertex_count"]), **fields)  # type: ignore[arg-type]


def build_graph(
    way_ids: Ints,
    way_offsets: Ints,
    node_ids: Ints,
    lon: Floats,
    lat: Floats,
    forward_kmh: Floats,
    backward_kmh: Floats,
) -> RoadGraph:
    """Simplify way node sequences into a :class:`RoadGraph`, restricted to its largest strongly connected part.

    Way ``w`` has the nodes ``node_ids[way_offsets[w]:way_offsets[w + 1]]`` (at least two, at ``lon``/``lat``);
    it may be driven forward at ``forward_kmh[w]`` and backward at ``backward_kmh[w]`` (0 = not allowed).
    Raises ``ValueError`` when there is no road at all.
    """
    counts = np.diff(way_offsets)
    if len(counts) == 0 or counts.min() < 2:
        raise ValueError("need at least one way, each with two or more nodes")
    way_of = np.repeat(np.arange(len(counts)), counts)
    unique_ids, node_of, uses = np.unique(node_ids, return_inverse=True, return_counts=True)
    node_lon = np.zeros(len(unique_ids))
    node_lat = np.zeros(len(unique_ids))
    node_lon[node_of], node_lat[node_of] = lon, lat

    # Vertices like osmnx: way ends and nodes used more than once (shared by ways, or a way crossing itself).
    is_vertex = uses >= 2
    is_vertex[node_of[way_offsets[:-1]]] = True
    is_vertex[node_of[way_offsets[1:] - 1]] = True

    cuts = np.flatnonzero(is_vertex[node_of])
    same_way = way_of[cuts[:-1]] == way_of[cuts[1:]]
    start, stop = cuts[:-1][same_way], cuts[1:][same_way]  # piece = positions start..stop of one way
    piece_way = way_of[start]

    seg = np.zeros(len(node_ids))
    seg[:-1] = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    # Interleaved bounds make reduceat sum seg[start:stop] at even places; odd places are ignored.
    piece_m = np.add.reduceat(seg, np.column_stack((start, stop)).ravel())[::2]

    fwd = forward_kmh[piece_way] > 0
    bwd = backward_kmh[piece_way] > 0
    lengths = stop - start + 1

    def geometry(begin: Ints, step: int, n: Ints) -> Ints:
        within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        return np.repeat(begin, n) + step * within

    tails = np.concatenate((node_of[start[fwd]], node_of[stop[bwd]]))
    heads = np.concatenate((node_of[stop[fwd]], node_of[start[bwd]]))
    ways = np.concatenate((way_ids[piece_way[fwd]], way_ids[piece_way[bwd]]))
    meters = np.concatenate((piece_m[fwd], piece_m[bwd]))
    kmh = np.concatenate((forward_kmh[piece_way[fwd]], backward_kmh[piece_way[bwd]]))
    seconds = meters / (kmh / 3.6)
    n_geo = np.concatenate((lengths[fwd], lengths[bwd]))
    geo_pos = np.concatenate((geometry(start[fwd], 1, lengths[fwd]), geometry(stop[bwd], -1, lengths[bwd])))
    geo = node_of[geo_pos]

    # Keep the largest strongly connected component, judged on the vertices.
    size = len(unique_ids)
    adjacency = csr_matrix((np.ones(len(tails)), (tails, heads)), shape=(size, size))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    best = np.bincount(label[np.unique(np.concatenate((tails, heads)))]).argmax()
    keep = (label[tails] == best) & (label[heads] == best)
    kept_geo_mask = np.repeat(keep, n_geo)
    geo = geo[kept_geo_mask]
    n_geo = n_geo[keep]

    # Renumber: kept vertices first (by OSM id), then the kept shape points.
    used = np.zeros(size, dtype=bool)
    used[geo] = True
    order = np.concatenate((np.flatnonzero(used & is_vertex), np.flatnonzero(used & ~is_vertex)))
    new_index = np.full(size, -1, dtype=np.int64)
    new_index[order] = np.arange(len(order))
    return RoadGraph(
        node_osm_id=unique_ids[order].astype(np.int64),
        lon=node_lon[order],
        lat=node_lat[order],
        vertex_count=int((used & is_vertex).sum()),
        edge_tail=new_index[tails[keep]],
        edge_head=new_index[heads[keep]],
        edge_way=ways[keep].astype(np.int64),
        edge_seconds=seconds[keep],
        edge_meters=meters[keep],
        geometry_offsets=np.concatenate(([0], np.cumsum(n_geo))).astype(np.int64),
        geometry_nodes=new_index[geo],
    )
