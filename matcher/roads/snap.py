"""Snap places to their nearest road node (any OSM node of the graph, shape points included)."""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from geographiclib.geodesic import Geodesic
from scipy.spatial import cKDTree

from matcher.errors import MapError
from matcher.roads.graph import EARTH_RADIUS_M, RoadGraph
from matcher.settings import get_settings

_TREES: weakref.WeakKeyDictionary[RoadGraph, cKDTree] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SnapResult:
    """Per point: the graph node it snapped to and the geodesic meters (WGS84) to it."""

    node: npt.NDArray[np.int64]
    meters: npt.NDArray[np.float64]


def _xyz(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    # Points on a sphere of the earth's radius: straight-line order equals great-circle order everywhere,
    # unlike a flat projection, which bends over a wide map.
    phi, lam = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
    return EARTH_RADIUS_M * np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def _tree(graph: RoadGraph) -> cKDTree:
    tree = _TREES.get(graph)
    if tree is None:
        tree = _TREES[graph] = cKDTree(_xyz(graph.lat, graph.lon))
    return tree


@lru_cache(maxsize=1 << 17)
def _geodesic_m(lat: float, lon: float, node_lat: float, node_lon: float) -> float:
    """WGS84 meters between a place and its node; remembered, because every re-plan snaps the same places again
    (about 60 microseconds each: a tenth of a second of a 1,000-household re-plan)."""
    return float(Geodesic.WGS84.Inverse(lat, lon, node_lat, node_lon, Geodesic.DISTANCE)["s12"])


def snap_points(
    graph: RoadGraph,
    labels: Sequence[str],
    lats: Sequence[float] | npt.NDArray[np.float64],
    lons: Sequence[float] | npt.NDArray[np.float64],
    max_meters: float | None = None,
) -> SnapResult:
    """Snap each ``(lat, lon)`` to the nearest node of ``graph``.

    ``labels`` name the records (``"household H1"``) for errors. ``max_meters`` defaults to
    ``Settings.snap_max_meters``. Raises ``MapError(label, "lat", ...)`` for the first point (in input order)
    that is not a number or lies farther than ``max_meters`` from every road node.
    """
    limit = get_settings().snap_max_meters if max_meters is None else float(max_meters)
    lat = np.asarray(lats, dtype=np.float64).reshape(-1)
    lon = np.asarray(lons, dtype=np.float64).reshape(-1)
    if not len(labels) == len(lat) == len(lon):
        raise ValueError(f"{len(labels)} labels, {len(lat)} latitudes and {len(lon)} longitudes")
    for label, a, b in zip(labels, lat, lon, strict=True):
        if not (math.isfinite(a) and math.isfinite(b)):
            raise MapError(label, "lat", f"({a}, {b}) is not a position")
    if len(lat) == 0:
        return SnapResult(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    _, nearest = _tree(graph).query(_xyz(lat, lon), k=1)
    nodes = np.asarray(nearest, dtype=np.int64)
    # geographiclib directly (what geopy's ``geodesic`` wraps): the same WGS84 meters without importing
    # geopy's network adapters, which took half a second of every command's start-up.
    meters = np.array([_geodesic_m(a, b, n_lat, n_lon) for a, b, n_lat, n_lon in
                       zip(lat.tolist(), lon.tolist(), graph.lat[nodes].tolist(), graph.lon[nodes].tolist(),
                           strict=True)])
    far = np.flatnonzero(meters > limit)
    if len(far):
        i = int(far[0])
        raise MapError(
            labels[i],
            "lat",
            f"({lat[i]:.6f}, {lon[i]:.6f}) is {meters[i]:.0f} m from the nearest road (limit {limit:.0f} m)",
        )
    return SnapResult(nodes, meters)


def far_from_roads(
    graph: RoadGraph, lats: npt.ArrayLike, lons: npt.ArrayLike, max_meters: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Indices of the points farther than ``max_meters`` from every road node, and their geodesic meters.

    For checking many positions at once (a roster import of 50,000 rows): distances on the sphere come from the
    k-d tree in one vectorised step, and only the points whose spherical distance is within 1 % of the limit
    (where sphere and WGS84 ellipsoid could disagree) are measured again geodesically, as ``snap_points`` does.
    """
    lat = np.asarray(lats, dtype=np.float64).reshape(-1)
    lon = np.asarray(lons, dtype=np.float64).reshape(-1)
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    chord, nearest = _tree(graph).query(_xyz(lat, lon), k=1)
    nodes = np.asarray(nearest, dtype=np.int64)
    meters = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.asarray(chord) / (2 * EARTH_RADIUS_M), 1.0))
    for i in np.flatnonzero(np.abs(meters - max_meters) <= 0.01 * max_meters):
        n = nodes[i]
        meters[i] = Geodesic.WGS84.Inverse(float(lat[i]), float(lon[i]), float(graph.lat[n]), float(graph.lon[n]),
                                           Geodesic.DISTANCE)["s12"]
    far = np.flatnonzero(meters > max_meters)
    return far.astype(np.int64), meters[far]
