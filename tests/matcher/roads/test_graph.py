"""RoadGraph: checking that a coordinate path follows the roads, and the array round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph

TINY = Path(__file__).parents[2] / "data" / "roads_tiny.osm"


@pytest.fixture(scope="module")
def tiny() -> RoadGraph:
    return parse_road_graph(TINY)


def at(graph: RoadGraph, *osm_ids: int) -> list[tuple[float, float]]:
    """(lon, lat) of OSM nodes."""
    index = {int(n): i for i, n in enumerate(graph.node_osm_id)}
    return [(float(graph.lon[index[n]]), float(graph.lat[index[n]])) for n in osm_ids]


def closed(graph: RoadGraph, *ways: int) -> np.ndarray:
    return np.isin(graph.edge_way, ways)


def test_paths_along_the_roads_pass(tiny: RoadGraph) -> None:
    """Node-to-node walks in allowed directions, through vertices and shape points, are accepted."""
    assert tiny.follows_roads(at(tiny, 1, 2, 3, 4, 6, 5, 1)) is None  # round A-B-C-D-A
    assert tiny.follows_roads(at(tiny, 3, 8, 9, 10, 11, 13, 14, 11)) is None  # roundabout, motorway, back
    assert tiny.follows_roads(at(tiny, 1, 1, 2)) is None  # standing still is allowed
    assert tiny.follows_roads(at(tiny, 2)) is None
    assert tiny.follows_roads([]) is None
    assert tiny.follows_roads(np.array(at(tiny, 5, 15, 5))) is None  # arrays work too


@pytest.mark.parametrize(
    ("osm_ids", "fragment"),
    [
        ((1, 2, 3, 4, 3), "step 3 from (25.0020000, 60.0010000) to (25.0020000, 60.0000000) drives against"),
        ((13, 11), "drives against the one-way way 112"),  # motorway, implied
        ((8, 10), "drives against the one-way way 107"),  # roundabout
        ((1, 3), "step 0 from (25.0000000, 60.0000000) to (25.0020000, 60.0000000) is not a road"),  # skips 2
        ((2, 6), "is not a road segment"),  # two shape points of different roads
    ],
)
def test_offending_steps_are_described(tiny: RoadGraph, osm_ids: tuple[int, ...], fragment: str) -> None:
    """Wrong-way and non-road steps are reported with their index and coordinates."""
    problem = tiny.follows_roads(at(tiny, *osm_ids))
    assert problem is not None and fragment in problem


def test_a_point_off_the_map_is_reported(tiny: RoadGraph) -> None:
    """A coordinate that is no node of the graph (here 16, dropped with its cut way) is named by index."""
    problem = tiny.follows_roads([*at(tiny, 5, 15), (24.998, 60.001)])
    assert problem == "point 2 (24.9980000, 60.0010000) is not a node of the road map"


def test_closed_edges_are_refused_only_when_no_open_edge_has_the_step(tiny: RoadGraph) -> None:
    """A step on a closed way fails with the mask and passes without it."""
    path = at(tiny, 3, 4, 6, 5)
    assert tiny.follows_roads(path) is None
    problem = tiny.follows_roads(path, closed(tiny, 102))
    assert problem is not None and "step 1" in problem and "uses closed way 102" in problem
    assert tiny.follows_roads(path, closed(tiny, 100)) is None
    with pytest.raises(ValueError, match="closed_mask"):
        tiny.follows_roads(path, np.zeros(3, dtype=bool))


def test_off_road_names_the_paths_follows_roads_refuses(tiny: RoadGraph) -> None:
    """The batch check (every leg of a plan at once) flags exactly the paths ``follows_roads`` words a fault for,
    with and without closures; a step from one path to the next is no step of either."""
    paths = [at(tiny, 1, 2, 3, 4, 6, 5, 1), at(tiny, 1, 2, 3, 4, 3), at(tiny, 2), [], at(tiny, 13, 11),
             [*at(tiny, 5, 15), (24.998, 60.001)], at(tiny, 3, 4, 6, 5), at(tiny, 1, 3), at(tiny, 1, 1, 2)]
    for mask in (None, closed(tiny, 102), closed(tiny, 100)):
        expected = [k for k, p in enumerate(paths) if tiny.follows_roads(p, mask) is not None]
        assert tiny.off_road([np.asarray(p, dtype=float).reshape(-1, 2) for p in paths], mask) == expected
    assert tiny.off_road([]) == []


def test_segment_seconds_add_up_to_edge_seconds(tiny: RoadGraph) -> None:
    """Each edge's time is shared out over its segments without loss."""
    sums = np.add.reduceat(tiny.segment_seconds, tiny.geometry_offsets[:-1])
    assert np.allclose(sums, tiny.edge_seconds)
    assert np.allclose(np.add.reduceat(tiny.segment_meters, tiny.geometry_offsets[:-1]), tiny.edge_meters)


def test_arrays_round_trip(tiny: RoadGraph) -> None:
    """from_arrays(arrays()) rebuilds an equal graph."""
    again = RoadGraph.from_arrays(tiny.arrays())
    assert again.vertex_count == tiny.vertex_count
    for name, array in tiny.arrays().items():
        assert np.array_equal(again.arrays()[name], array)
