"""Snapping places to the nearest road node, and the errors for places too far from any road."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from geopy.distance import geodesic

from matcher.errors import MapError
from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph
from matcher.roads.snap import snap_points

TINY = Path(__file__).parents[2] / "data" / "roads_tiny.osm"


@pytest.fixture(scope="module")
def tiny() -> RoadGraph:
    return parse_road_graph(TINY)


def osm(graph: RoadGraph, nodes: np.ndarray) -> list[int]:
    return [int(graph.node_osm_id[n]) for n in nodes]


def test_snaps_to_the_nearest_node_including_shape_points(tiny: RoadGraph) -> None:
    """A point beside shape point 2 snaps to it, not to a vertex; distances are WGS84 geodesic meters."""
    lats = [60.0001, 60.0010, 59.99852]
    lons = [25.0011, 25.0020, 25.0025]
    result = snap_points(tiny, ["household H1", "shelter S1", "driver D1"], lats, lons, max_meters=500)
    assert osm(tiny, result.node) == [2, 4, 9]
    expected = [
        geodesic((a, b), (tiny.lat[n], tiny.lon[n])).meters for a, b, n in zip(lats, lons, result.node, strict=True)
    ]
    assert result.meters == pytest.approx(expected)
    assert result.meters[1] == pytest.approx(0.0, abs=1e-6)


def test_nodes_of_dropped_roads_are_not_snap_targets(tiny: RoadGraph) -> None:
    """Node 12 lies on a dropped dead-end one-way: a place on it snaps to C (node 4), about 56 m away."""
    result = snap_points(tiny, ["household H1"], [60.0010], [25.0030], max_meters=500)
    assert osm(tiny, result.node) == [4]
    assert 50 < result.meters[0] < 60


def test_too_far_names_the_record_and_the_distance(tiny: RoadGraph) -> None:
    """The first place beyond the limit raises MapError on its record's lat field with meters and limit."""
    with pytest.raises(MapError) as caught:
        snap_points(tiny, ["household H1", "household H2"], [60.0, 60.01], [25.0, 25.0], max_meters=500)
    error = caught.value
    assert (error.record, error.field) == ("household H2", "lat")
    assert error.message.endswith("m from the nearest road (limit 500 m)")
    meters = geodesic((60.01, 25.0), (60.001, 25.0)).meters  # to D, the nearest node
    assert f"(60.010000, 25.000000) is {meters:.0f} m from" in error.message


def test_limit_defaults_to_settings(tiny: RoadGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without max_meters the limit is Settings.snap_max_meters (EVAC_SNAP_MAX_METERS)."""
    monkeypatch.setenv("EVAC_SNAP_MAX_METERS", "40")
    with pytest.raises(MapError, match=r"limit 40 m"):
        snap_points(tiny, ["shelter S9"], [60.0004], [25.001])  # 45 m from node 2
    monkeypatch.setenv("EVAC_SNAP_MAX_METERS", "500")
    assert osm(tiny, snap_points(tiny, ["shelter S9"], [60.0004], [25.001]).node) == [2]


def test_not_a_position(tiny: RoadGraph) -> None:
    """NaN coordinates are a MapError naming the record."""
    with pytest.raises(MapError, match="driver D2: lat"):
        snap_points(tiny, ["driver D1", "driver D2"], [60.0, float("nan")], [25.0, 25.0], max_meters=500)


def test_no_points(tiny: RoadGraph) -> None:
    """Nothing to snap gives empty arrays."""
    result = snap_points(tiny, [], [], [], max_meters=500)
    assert len(result.node) == 0 and len(result.meters) == 0
