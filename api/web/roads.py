"""The roads of the loaded map as polylines for the pages' SVG maps (no tiles, no internet needed).

Built from the same ``RoadGraph`` the solver drives on, so a map shows exactly the roads a plan can use; the
way ids are the OSM ids an alert's ``closed_ways`` take. Names (else the road number) and road classes are the
graph's own (``RoadGraph.way_names``, ``way_classes``); a road without a name is described by the named streets it
joins, so a coordinator can tell "between Tikankatu and Kortetie" from any other.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path
from typing import Any

from api import places, planning
from api.config import Settings
from matcher.roads.graph import RoadGraph

ATTRIBUTION = places.ATTRIBUTION


def road_lines(graph: RoadGraph) -> tuple[dict[int, list[list[list[float]]]], dict[int, set[int]]]:
    """OSM way id -> its drawn pieces (``[[lon, lat], ...]``, a two-way road's two directions drawn once), and
    OSM way id -> the graph nodes it passes (to tell which roads meet)."""
    seen: set[tuple[int, ...]] = set()
    lines: dict[int, list[list[list[float]]]] = defaultdict(list)
    nodes_of: dict[int, set[int]] = defaultdict(set)
    for edge in range(graph.edge_count):
        nodes = tuple(int(n) for n in graph.edge_nodes(edge))
        way = int(graph.edge_way[edge])
        nodes_of[way].update((nodes[0], nodes[-1]))
        key = nodes if nodes[0] <= nodes[-1] else nodes[::-1]
        if key in seen:
            continue
        seen.add(key)
        lines[way].append([[round(float(graph.lon[n]), 6), round(float(graph.lat[n]), 6)] for n in nodes])
    return dict(lines), dict(nodes_of)


def describe_unnamed(names: dict[int, str], nodes_of: dict[int, set[int]]) -> dict[int, str]:
    """Way id -> "between A and B" / "off A" for every unnamed way that meets named ones (directly, or through
    other unnamed ways of the same stretch); ways meeting no named street get nothing."""
    ways_at: dict[int, set[int]] = defaultdict(set)
    for way, nodes in nodes_of.items():
        for node in nodes:
            ways_at[node].add(way)
    out: dict[int, str] = {}
    for way in nodes_of:
        if names.get(way):
            continue
        met: list[str] = []
        # Walk through unnamed neighbours (a service road cut in pieces) to the named streets around the stretch.
        todo, seen = [way], {way}
        while todo and len(seen) < 50:
            current = todo.pop()
            for node in sorted(nodes_of.get(current, ())):
                for other in sorted(ways_at[node]):
                    if other in seen:
                        continue
                    seen.add(other)
                    if names.get(other):
                        if names[other] not in met:
                            met.append(names[other])
                    else:
                        todo.append(other)
        if len(met) >= 2:
            out[way] = f"between {met[0]} and {met[1]}" + (f" (also meets {', '.join(met[2:4])})" if met[2:] else "")
        elif met:
            out[way] = f"off {met[0]}"
    return out


@functools.lru_cache(maxsize=4)
def _road_map(map_path: str, graph: RoadGraph) -> dict[str, Any]:
    lines, nodes_of = road_lines(graph)
    names = graph.way_names(with_ref=True)
    classes = graph.way_classes()
    described = describe_unnamed(names, nodes_of)
    return {
        "map": Path(map_path).name,
        "bbox": [round(float(graph.lon.min()), 6), round(float(graph.lat.min()), 6),
                 round(float(graph.lon.max()), 6), round(float(graph.lat.max()), 6)],
        "attribution": ATTRIBUTION,
        "ways": [{"id": way, "name": names.get(way, ""), "highway": classes.get(way, ""),
                  "description": described.get(way, ""), "lines": pieces}
                 for way, pieces in sorted(lines.items())],
    }


def road_map(settings: Settings) -> dict[str, Any]:
    """The map's roads: ``{"map", "bbox": [min lon, min lat, max lon, max lat], "attribution", "ways": [{"id",
    "name", "highway", "description", "lines"}]}``, computed once per process and map."""
    return _road_map(str(settings.map_path()), planning.road_graph(settings))
