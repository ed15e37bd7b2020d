"""Closures: closed way ids and flood zones become a mask of closed edges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.errors import InputError
from matcher.roads.closures import edge_closures
from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph

TINY = Path(__file__).parents[2] / "data" / "roads_tiny.osm"


@pytest.fixture(scope="module")
def tiny() -> RoadGraph:
    return parse_road_graph(TINY)


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    """A GeoJSON Polygon rectangle."""
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def closed_ways(graph: RoadGraph, mask: np.ndarray) -> list[int]:
    return sorted(set(graph.edge_way[mask].tolist()))


def test_closed_way_ids_close_both_directions_and_unknown_ids_are_returned(tiny: RoadGraph) -> None:
    """Every edge of a closed way is closed; ids the graph lacks come back (sorted) for a warning."""
    result = edge_closures(tiny, closed_ways=[100, 104, 999, 100])
    assert closed_ways(tiny, result.closed) == [100]
    assert result.closed_count == 2  # A->B and B->A
    assert result.unknown_ways == (104, 999)


def test_nothing_closed(tiny: RoadGraph) -> None:
    """No closures give an all-false mask of one entry per edge."""
    result = edge_closures(tiny)
    assert result.closed.shape == (tiny.edge_count,) and not result.closed.any()
    assert result.unknown_ways == ()


def test_flood_zone_around_a_shape_point_closes_its_road(tiny: RoadGraph) -> None:
    """A small zone around shape point 2 (inside way 100) closes way 100 only."""
    result = edge_closures(tiny, flood_zones=[box(25.0009, 59.9999, 25.0011, 60.0001)])
    assert closed_ways(tiny, result.closed) == [100]


def test_flood_zone_between_nodes_closes_the_segment_it_crosses(tiny: RoadGraph) -> None:
    """A thin strip across way 103 (D-A) with no node inside still closes it."""
    result = edge_closures(tiny, flood_zones=[box(24.9995, 60.0004, 25.0005, 60.0006)])
    assert closed_ways(tiny, result.closed) == [103]


def test_multipolygon_and_several_zones(tiny: RoadGraph) -> None:
    """MultiPolygon parts and several zones all count."""
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            box(25.0009, 59.9999, 25.0011, 60.0001)["coordinates"],
            box(25.0009, 59.9974, 25.0011, 59.9976)["coordinates"],
        ],
    }
    result = edge_closures(tiny, closed_ways=[108], flood_zones=[multi, box(24.9985, 60.0009, 24.9995, 60.0011)])
    assert closed_ways(tiny, result.closed) == [100, 108, 113, 114]


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ({"type": "Point", "coordinates": [25.0, 60.0]}, "zone 1 is not a GeoJSON Polygon"),  # wrong type
        ({"type": "Polygon", "coordinates": [[[25.0, 60.0], [25.1]]]}, "zone 1 is not a valid polygon"),  # broken ring
        ({"type": "Polygon", "coordinates": []}, "zone 1 has no area"),  # empty
        ("flooded", "zone 1 is not a GeoJSON Polygon"),  # not a mapping
    ],
)
def test_bad_flood_zone_is_an_input_error(tiny: RoadGraph, zone: Any, message: str) -> None:
    """A flood zone that is no polygon names the alert's flood_zones field and the zone number."""
    with pytest.raises(InputError) as caught:
        edge_closures(tiny, flood_zones=[zone])
    assert (caught.value.record, caught.value.field) == ("alert", "flood_zones")
    assert message in caught.value.message


def test_self_touching_zone_is_repaired_not_refused(tiny: RoadGraph) -> None:
    """A bow-tie polygon drawn by hand still closes the roads under it."""
    bow = {
        "type": "Polygon",
        "coordinates": [
            [[25.0009, 59.9999], [25.0011, 60.0001], [25.0011, 59.9999], [25.0009, 60.0001], [25.0009, 59.9999]]
        ],
    }
    assert closed_ways(tiny, edge_closures(tiny, flood_zones=[bow]).closed) == [100]
