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
    """``closed[e]`` is true when edge ``e`` may not be driven; ``unknown_ways`` are closed way ids the graph lacks.

    A way id can be unknown because it is no car road, lies outside the map, or was cut off the largest
    strongly connected part; callers may warn about these.
    """

    closed: npt.NDArray[np.bool_]
    unknown_ways: tuple[int, ...] = ()

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
    closed = np.isin(graph.edge_way, ways)
    unknown = tuple(int(w) for w in np.setdiff1d(ways, graph.edge_way))
    flood = flood_geometry(flood_zones)
    if flood is not None:
        shapely.prepare(flood)
        node_in = shapely.contains_xy(flood, graph.lon, graph.lat)
        g = graph.geometry_nodes
        closed |= np.logical_or.reduceat(node_in[g], graph.geometry_offsets[:-1])
        # A long segment can cross a narrow zone with both its nodes outside; test the segments of open edges.
        starts = np.flatnonzero(~closed[graph.geometry_edge])
        starts = starts[graph.segment_meters[starts] > 0]
        if len(starts):
            a, b = g[starts], g[starts + 1]
            coords = np.stack(
                (np.column_stack((graph.lon[a], graph.lat[a])), np.column_stack((graph.lon[b], graph.lat[b]))), axis=1
            )
            crossing = shapely.intersects(flood, shapely.linestrings(coords))
            closed[graph.geometry_edge[starts[crossing]]] = True
    return EdgeClosures(closed, unknown)
