"""Meeting points: where a household whose own street is closed walks to be picked up, or why it cannot.

A household is reached at its door when its nearest road node lies on the open road network (the largest
strongly connected part of the steps that stay open). Otherwise the plan picks it up at the nearest open
corner (a road junction) within its walking limit, or the nearest open road point when no corner is in
reach; the walk is the straight line from the door. With no open road in reach the household stays
unserved with a reason a coordinator can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from matcher.plan import MeetingPoint
from matcher.problem import Household
from matcher.roads.closures import EdgeClosures
from matcher.roads.graph import RoadGraph, haversine_m
from matcher.roads.snap import _tree, _xyz

#: Names of OSM ways by id (may be empty: a meeting point is then named by its position).
WayNames = Mapping[int, str]


@dataclass(frozen=True)
class Access:
    """Per household: a meeting point (its street is closed), or a reason no car can reach it."""

    meeting_points: dict[str, MeetingPoint]
    unreachable: dict[str, str]


def open_nodes(graph: RoadGraph, closures: EdgeClosures | None) -> npt.NDArray[np.bool_]:
    """Per graph node: on the open road network (the largest strongly connected part of the open steps)."""
    g = graph.geometry_nodes
    last = np.zeros(len(g), dtype=bool)
    last[graph.geometry_offsets[1:] - 1] = True
    steps = np.flatnonzero(~last)
    if closures is not None:
        mask = closures.mask
        steps = steps[~(mask[steps] if len(mask) == len(g) else mask[graph.geometry_edge[steps]])]
    n = graph.node_count
    adjacency = csr_matrix((np.ones(len(steps)), (g[steps], g[steps + 1])), shape=(n, n))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    touched = np.zeros(n, dtype=bool)
    touched[g[steps]] = True
    if not touched.any():
        return touched
    best = np.bincount(label[touched]).argmax()
    return touched & (label == best)


def _name(graph: RoadGraph, node: int, names: WayNames) -> str:
    """The streets of a corner (``Keskuskatu / Satamakatu``), or of a road point; its position without names."""
    positions = np.flatnonzero(graph.geometry_nodes == node)
    ways = dict.fromkeys(int(graph.edge_way[e]) for e in graph.geometry_edge[positions])
    streets = list(dict.fromkeys(names[w] for w in ways if w in names))
    if streets:
        return " / ".join(sorted(streets)[:3])
    return f"road point at {graph.lat[node]:.5f}, {graph.lon[node]:.5f}"


def _reason(inside_flood: bool, limit: float) -> str:
    if inside_flood:
        return (f"inside the flood zone, and no open road is within its walk ({limit:.0f} m): needs a boat or the "
                "fire service")
    if limit <= 0:
        return ("its street is closed and it cannot walk to an open road: send the fire service or an ambulance, "
                "or open the road")
    return (f"its street is closed and no open road is within its walk ({limit:.0f} m): send the fire service or "
            "a driver on foot, or open the road")


def plan_access(
    graph: RoadGraph,
    closures: EdgeClosures,
    households: Sequence[Household],
    walk_limit: Callable[[Household], float],
    names: WayNames | None = None,
) -> Access:
    """Meeting points for the households whose nearest road node is off the open network, or their reasons.

    Does nothing (everyone at their door) when nothing is closed.
    """
    if not households or not closures.closed.any():
        return Access({}, {})
    usable = open_nodes(graph, closures)
    lat = np.array([h.lat for h in households])
    lon = np.array([h.lon for h in households])
    tree = _tree(graph)
    _, nearest = tree.query(_xyz(lat, lon), k=1)
    meeting: dict[str, MeetingPoint] = {}
    unreachable: dict[str, str] = {}
    flooded = closures.flooded_nodes if closures.flooded_nodes is not None else np.zeros(graph.node_count, bool)
    for k, h in enumerate(households):
        node = int(nearest[k])
        if usable[node]:
            continue
        limit = float(walk_limit(h))
        found = tree.query_ball_point(_xyz([h.lat], [h.lon])[0], r=limit) if limit > 0 else []
        cand = np.array([c for c in found if usable[c]], dtype=np.int64)
        if cand.size == 0:
            unreachable[h.id] = _reason(bool(flooded[node]), limit)
            continue
        walk = haversine_m(np.full(cand.size, h.lon), np.full(cand.size, h.lat), graph.lon[cand], graph.lat[cand])
        corners = cand < graph.vertex_count
        # A corner is easier to find and to name than a point along a street: the nearest corner in reach wins.
        pool = np.flatnonzero(corners & (walk <= limit)) if (corners & (walk <= limit)).any() else \
            np.flatnonzero(walk <= limit)
        if pool.size == 0:
            unreachable[h.id] = _reason(bool(flooded[node]), limit)
            continue
        best = int(pool[np.argmin(walk[pool])])
        chosen = int(cand[best])
        label = _name(graph, chosen, names or {})
        meeting[h.id] = MeetingPoint(float(graph.lat[chosen]), float(graph.lon[chosen]), label, float(walk[best]))
    return Access(meeting, unreachable)
