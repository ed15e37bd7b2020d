"""The roads of the loaded map as polylines for the pages' SVG maps (no tiles, no internet needed).

Built from the same ``RoadGraph`` the solver drives on, so a map shows exactly the roads a plan can use; the
way ids are the OSM ids an alert's ``closed_ways`` take, and the names are the graph's (name, else road number).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from api import planning
from api.config import Settings
from matcher.roads.graph import RoadGraph

log = logging.getLogger(__name__)

ATTRIBUTION = "Map data © OpenStreetMap contributors, ODbL 1.0 (openstreetmap.org/copyright)"


def road_lines(graph: RoadGraph) -> dict[int, list[list[list[float]]]]:
    """OSM way id -> its drawn pieces, each ``[[lon, lat], ...]``; a two-way road's two directions drawn once."""
    seen: set[tuple[int, ...]] = set()
    lines: dict[int, list[list[list[float]]]] = defaultdict(list)
    for edge in range(graph.edge_count):
        nodes = tuple(int(n) for n in graph.edge_nodes(edge))
        key = nodes if nodes[0] <= nodes[-1] else nodes[::-1]
        if key in seen:
            continue
        seen.add(key)
        lines[int(graph.edge_way[edge])].append(
            [[round(float(graph.lon[n]), 6), round(float(graph.lat[n]), 6)] for n in nodes])
    return dict(lines)


@functools.lru_cache(maxsize=4)
def _road_map(map_path: str, graph: RoadGraph) -> dict[str, Any]:
    lines = road_lines(graph)
    names = graph.way_names(with_ref=True)
    return {
        "map": Path(map_path).name,
        "bbox": [round(float(graph.lon.min()), 6), round(float(graph.lat.min()), 6),
                 round(float(graph.lon.max()), 6), round(float(graph.lat.max()), 6)],
        "attribution": ATTRIBUTION,
        "ways": [{"id": way, "name": names.get(way, ""), "lines": pieces} for way, pieces in sorted(lines.items())],
    }


def road_map(settings: Settings) -> dict[str, Any]:
    """The map's roads: ``{"map", "bbox": [min lon, min lat, max lon, max lat], "attribution", "ways": [{"id",
    "name", "lines"}]}``, computed once per process and map."""
    return _road_map(str(settings.map_path()), planning.road_graph(settings))
