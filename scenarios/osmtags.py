"""Road class and street names for the drills, as the road graph keeps them (the map file is read once, by it)."""

from __future__ import annotations

import numpy as np

from matcher.roads.graph import RoadGraph


def edge_classes(graph: RoadGraph) -> list[str]:
    """The road class (OSM ``highway``) of every graph edge (``unclassified`` when the map lacks it)."""
    return [str(c) or "unclassified" for c in graph.edge_classes()]


def nearest_street(graph: RoadGraph, lat: float, lon: float) -> str:
    """The name of the named road nearest to a point (by its nearest node), or ``""`` when none is named."""
    node_edge = np.full(graph.node_count, -1, dtype=np.int64)
    node_edge[graph.geometry_nodes] = graph.geometry_edge
    named = graph.name_table[graph.edge_name] != ""
    nodes = np.flatnonzero((node_edge >= 0) & named[np.maximum(node_edge, 0)])
    if not len(nodes):
        return ""
    scale = np.cos(np.radians(lat))
    best = nodes[np.argmin(((graph.lon[nodes] - lon) * scale) ** 2 + (graph.lat[nodes] - lat) ** 2)]
    return graph.street_name(int(node_edge[best]))
