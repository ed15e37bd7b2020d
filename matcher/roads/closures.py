"""Road closures: closed OSM ways and flood zones, turned into a mask of closed graph edges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape

from matcher.errors import InputError
from matcher.roads.graph import RoadGraph


@dataclass(frozen=True)
class EdgeClosures:
    """``closed[e]`` is true when any part of edge ``e`` may not be driven; ``unknown_ways`` are closed way ids the
    graph lacks.

    ``segments[k]`` (one per position of ``graph.geometry_nodes``) is true when the step from position k to
    the next node of its edge is closed: a closed way closes all of its steps, a flood zone only the steps
    with a node inside it or crossing it, so the dry part of a street stays usable from its dry end.
    A way id can be unknown because it is no car road, lies outside the map, or was cut off the largest
    strongly connected part; callers may warn about these.
    """

    closed: npt.NDArray[np.bool_]
    unknown_ways: tuple[int, ...] = ()
    segments: npt.NDArray[np.bool_] | None = None
    #: Per graph node: inside a flood zone.
    flooded_nodes: npt.NDArray[np.bool_] | None = None
    #: Some closed edge keeps open steps (the dry part of a flooded street).
    partial: bool = False

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """What the matrix and the checker take: per step when a road is only partly closed, else per edge.

        Per edge where it says the same, so that only a partly flooded street costs a full matrix rebuild.
        """
        if self.segments is None or not self.partial:
            return self.closed
        return self.segments

    @property
    def closed_count(self) -> int:
        return int(self.closed.sum())


def flood_geometry(zones: Iterable[Mapping[str, Any]]) -> shapely.Geometry | None:
    """The union of GeoJSON Polygon/MultiPolygon flood zones (``[lon, lat]``); ``None`` when there are none.

    Raises ``InputError("alert", "flood_zones", ...)`` naming the zone (1-based) that is not a valid polygon.
    """
    parts = []
    for number, zone in enumerate(zones, start=1):
        if not isinstance(zone, Mapping) or zone.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputError("alert", "flood_zones", f"zone {number} is not a GeoJSON Polygon or MultiPolygon")
        try:
            geometry = shape(zone)
        except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
            raise InputError("alert", "flood_zones", f"zone {number} is not a valid polygon: {exc}") from None
        if geometry.is_empty:
            raise InputError("alert", "flood_zones", f"zone {number} has no area")
        # A self-touching ring drawn by hand is still meant as an area; repair instead of refusing it.
        parts.append(geometry if geometry.is_valid else shapely.make_valid(geometry))
    return shapely.union_all(parts) if parts else None


def edge_closures(
    graph: RoadGraph, closed_ways: Iterable[int] = (), flood_zones: Iterable[Mapping[str, Any]] = ()
) -> EdgeClosures:
    """Mark the edges of closed ways, and every edge with a node inside or a segment crossing a flood zone."""
    ways = np.unique(np.fromiter((int(w) for w in closed_ways), dtype=np.int64))
    way_closed = np.isin(graph.edge_way, ways)
    unknown = tuple(int(w) for w in np.setdiff1d(ways, graph.edge_way))
    g = graph.geometry_nodes
    last = np.zeros(len(g), dtype=bool)
    last[graph.geometry_offsets[1:] - 1] = True  # an edge's last node starts no step
    segments = way_closed[graph.geometry_edge] & ~last
    node_in = np.zeros(graph.node_count, dtype=bool)
    flood = flood_geometry(flood_zones)
    if flood is not None:
        shapely.prepare(flood)
        node_in = shapely.contains_xy(flood, graph.lon, graph.lat)
        starts = np.flatnonzero(~last)
        wet = node_in[g[starts]] | node_in[g[starts + 1]]
        segments[starts[wet]] = True
        # A long step can cross a narrow zone with both its nodes outside; test the dry steps near the zone.
        dry = starts[~wet & (graph.segment_meters[starts] > 0)]
        west, south, east, north = flood.bounds
        a, b = g[dry], g[dry + 1]
        near = ~((np.maximum(graph.lon[a], graph.lon[b]) < west) | (np.minimum(graph.lon[a], graph.lon[b]) > east)
                 | (np.maximum(graph.lat[a], graph.lat[b]) < south) | (np.minimum(graph.lat[a], graph.lat[b]) > north))
        dry, a, b = dry[near], a[near], b[near]
        if len(dry):
            coords = np.stack(
                (np.column_stack((graph.lon[a], graph.lat[a])), np.column_stack((graph.lon[b], graph.lat[b]))), axis=1
            )
            segments[dry[shapely.intersects(flood, shapely.linestrings(coords))]] = True
    closed = way_closed | np.logical_or.reduceat(segments, graph.geometry_offsets[:-1])
    partial = bool((closed[graph.geometry_edge] & ~segments & ~last).any())
    return EdgeClosures(closed, unknown, segments, node_in, partial)
