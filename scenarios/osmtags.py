"""Road class (OSM ``highway``) and street name of each way of a map, which the road graph does not keep."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium

from matcher.roads.graph import RoadGraph


@dataclass(frozen=True)
class WayTags:
    """``highway`` and ``name`` per OSM way id (only ways with a ``highway`` tag)."""

    highway: dict[int, str]
    name: dict[int, str]


@functools.lru_cache(maxsize=4)
def read_way_tags(path: Path) -> WayTags:
    """One pass over the map file; small town maps take well under a second."""
    highway: dict[int, str] = {}
    name: dict[int, str] = {}
    processor = (osmium.FileProcessor(str(path), osmium.osm.WAY)
                 .with_filter(osmium.filter.KeyFilter("highway")))
    for way in processor:
        if isinstance(way, osmium.osm.Way):
            highway[way.id] = str(way.tags.get("highway", ""))
            label = way.tags.get("name")
            if label:
                name[way.id] = label
    return WayTags(highway, name)


def edge_classes(graph: RoadGraph, tags: WayTags) -> list[str]:
    """The road class of every graph edge (``unclassified`` when the map lacks the tag)."""
    return [tags.highway.get(int(w), "unclassified") for w in graph.edge_way]


def nearest_street(graph: RoadGraph, tags: WayTags, lat: float, lon: float) -> str:
    """The name of the named road nearest to a point (by its nearest node), or ``""`` when none is named."""
    node_edge = np.full(graph.node_count, -1, dtype=np.int64)
    node_edge[graph.geometry_nodes] = graph.geometry_edge
    named = np.array([int(w) in tags.name for w in graph.edge_way])
    nodes = np.flatnonzero((node_edge >= 0) & named[np.maximum(node_edge, 0)])
    if not len(nodes):
        return ""
    scale = np.cos(np.radians(lat))
    best = nodes[np.argmin(((graph.lon[nodes] - lon) * scale) ** 2 + (graph.lat[nodes] - lat) ** 2)]
    return tags.name[int(graph.edge_way[node_edge[best]])]
