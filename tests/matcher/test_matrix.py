"""Travel times and leg paths on road graphs, checked against networkx on the node-level road network."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from matcher import matrix
from matcher.errors import MapError
from matcher.matrix import build_travel_times, matrix_for_places
from matcher.roads.closures import edge_closures
from matcher.roads.graph import RoadGraph
from matcher.roads.load import load_road_graph, parse_road_graph
from matcher.travel import LocationRef, TravelTimes

ROOT = Path(__file__).parents[2]
TINY = ROOT / "tests" / "data" / "roads_tiny.osm"
KOTKA = ROOT / "data" / "kotka.osm.pbf"
MAPS = ROOT / ".." / "shared" / "maps"


@pytest.fixture(scope="module")
def tiny() -> RoadGraph:
    return parse_road_graph(TINY)


@pytest.fixture(scope="module")
def kotka() -> RoadGraph:
    return parse_road_graph(KOTKA)


def oracle(graph: RoadGraph, closed: np.ndarray | None = None) -> nx.DiGraph:
    """Every OSM node-to-node step of every open edge as a networkx edge (fastest of parallel steps)."""
    out = nx.DiGraph()
    out.add_nodes_from(range(graph.node_count))
    for e in range(graph.edge_count):
        if closed is not None and closed[e]:
            continue
        lo, hi = graph.geometry_offsets[e], graph.geometry_offsets[e + 1]
        for p in range(lo, hi - 1):
            a, b = int(graph.geometry_nodes[p]), int(graph.geometry_nodes[p + 1])
            seconds = float(graph.segment_seconds[p])
            if not out.has_edge(a, b) or out[a][b]["seconds"] > seconds:
                out.add_edge(a, b, seconds=seconds)
    return out


def refs_for(count: int) -> list[LocationRef]:
    return [LocationRef("household", f"H{i}") for i in range(count)]


def node_of(graph: RoadGraph, osm_id: int) -> int:
    return int(np.flatnonzero(graph.node_osm_id == osm_id)[0])


def assert_matches_oracle(graph: RoadGraph, nodes: np.ndarray, times: TravelTimes, net: nx.DiGraph) -> None:
    for i, source in enumerate(nodes):
        lengths = nx.single_source_dijkstra_path_length(net, int(source), weight="seconds")
        expected = np.array([lengths.get(int(t), math.inf) / 60 for t in nodes])
        assert np.allclose(times.minutes[i], expected, rtol=1e-9, atol=1e-9), f"row {i}"


def step_seconds(graph: RoadGraph) -> dict[tuple[tuple[float, float], tuple[float, float]], float]:
    """Fastest seconds of each node-to-node step, keyed by the two (lon, lat) positions."""
    out: dict[tuple[tuple[float, float], tuple[float, float]], float] = {}
    g = graph.geometry_nodes
    for e in range(graph.edge_count):
        for p in range(graph.geometry_offsets[e], graph.geometry_offsets[e + 1] - 1):
            a, b = int(g[p]), int(g[p + 1])
            key = ((float(graph.lon[a]), float(graph.lat[a])), (float(graph.lon[b]), float(graph.lat[b])))
            out[key] = min(out.get(key, math.inf), float(graph.segment_seconds[p]))
    return out


def test_tiny_matrix_equals_networkx_with_shape_points_and_one_ways(tiny: RoadGraph) -> None:
    """All pairs among vertices and shape points (incl. the roundabout's) equal node-level Dijkstra."""
    nodes = np.arange(tiny.node_count)
    times = build_travel_times(tiny, refs_for(len(nodes)), nodes)
    assert_matches_oracle(tiny, nodes, times, oracle(tiny))
    assert np.isfinite(times.minutes).all()  # strongly connected, split edges included
    assert (np.diag(times.minutes) == 0).all()


def test_one_way_is_not_driven_against(tiny: RoadGraph) -> None:
    """C back to B cannot use the one-way B->C: it goes round C-D-A-B, which takes longer than B->C."""
    b, c = node_of(tiny, 3), node_of(tiny, 4)
    times = build_travel_times(tiny, refs_for(2), [b, c])
    b_to_c, c_to_b = times.minutes[0, 1], times.minutes[1, 0]
    assert b_to_c == pytest.approx(111.2 / (30 / 3.6) / 60, rel=1e-3)
    assert c_to_b > 2 * b_to_c
    coordinates = times.router.path(1, 0).coordinates
    assert [node_of_position(tiny, xy) for xy in coordinates] == [4, 6, 5, 1, 2, 3]


def node_of_position(graph: RoadGraph, xy: tuple[float, float]) -> int:
    index = np.flatnonzero((graph.lon == xy[0]) & (graph.lat == xy[1]))
    return int(graph.node_osm_id[index[0]])


def test_parallel_roads_use_the_fastest(tiny: RoadGraph) -> None:
    """A to B has a 30 km/h road (100) and a 20 km/h one (115): the matrix and the path take way 100."""
    a, b = node_of(tiny, 1), node_of(tiny, 3)
    times = build_travel_times(tiny, refs_for(2), [a, b])
    assert times.minutes[0, 1] == pytest.approx(tiny.edge_seconds[tiny.edge_way == 100][0] / 60)
    assert [node_of_position(tiny, xy) for xy in times.router.path(0, 1).coordinates] == [1, 2, 3]


def test_closed_way_raises_times_or_cuts_off(tiny: RoadGraph) -> None:
    """Closing way 100 sends A->B over the slower way 115; closing way 101 leaves C unreachable."""
    a, b, c = node_of(tiny, 1), node_of(tiny, 3), node_of(tiny, 4)
    open_roads = build_travel_times(tiny, refs_for(3), [a, b, c])
    closure = edge_closures(tiny, closed_ways=[100])
    slower = build_travel_times(tiny, refs_for(3), [a, b, c], closure.closed)
    assert slower.minutes[0, 1] > open_roads.minutes[0, 1]
    assert slower.minutes[0, 1] == pytest.approx(tiny.edge_seconds[tiny.edge_way == 115][0] / 60)
    assert [node_of_position(tiny, xy) for xy in slower.router.path(0, 1).coordinates] == [1, 22, 3]

    cut = build_travel_times(tiny, refs_for(3), [a, b, c], edge_closures(tiny, closed_ways=[101]).closed)
    assert math.isinf(cut.minutes[0, 2]) and math.isinf(cut.minutes[1, 2])
    assert math.isfinite(cut.minutes[2, 0])  # C can still leave by way 102
    leg = cut.router.path(0, 2)
    assert math.isinf(leg.minutes) and leg.meters is None and leg.coordinates == ()


def test_shape_point_on_a_closed_edge_is_cut_off(tiny: RoadGraph) -> None:
    """A place snapped inside a flooded road cannot be reached or left."""
    closure = edge_closures(
        tiny,
        flood_zones=[
            {
                "type": "Polygon",
                "coordinates": [
                    [[25.0009, 59.9999], [25.0011, 59.9999], [25.0011, 60.0001], [25.0009, 60.0001], [25.0009, 59.9999]]
                ],
            }
        ],
    )
    nodes = [node_of(tiny, 2), node_of(tiny, 1), node_of(tiny, 3)]
    times = build_travel_times(tiny, refs_for(3), nodes, closure.closed)
    assert np.isinf(times.minutes[0, 1:]).all() and np.isinf(times.minutes[1:, 0]).all()
    assert math.isfinite(times.minutes[1, 2])
    assert times.minutes[0, 0] == 0.0


def test_legs_follow_the_roads_and_add_up(tiny: RoadGraph) -> None:
    """Every leg starts and ends at the snapped nodes, passes follows_roads, and its steps sum to the matrix."""
    nodes = np.arange(tiny.node_count)
    closure = edge_closures(tiny, closed_ways=[100])
    times = build_travel_times(tiny, refs_for(len(nodes)), nodes, closure.closed)
    steps = step_seconds(tiny)
    pairs = [(i, j) for i in range(len(nodes)) for j in range(len(nodes))]
    legs = times.router.paths(pairs)
    for (i, j), leg in zip(pairs, legs, strict=True):
        assert leg.minutes == times.minutes[i, j]
        if math.isinf(leg.minutes):
            continue
        start, end = (float(tiny.lon[nodes[i]]), float(tiny.lat[nodes[i]])), (tiny.lon[nodes[j]], tiny.lat[nodes[j]])
        assert leg.coordinates[0] == start and leg.coordinates[-1] == end
        assert tiny.follows_roads(leg.coordinates, closure.closed) is None
        seconds = sum(steps[a, b] for a, b in zip(leg.coordinates[:-1], leg.coordinates[1:], strict=True))
        assert seconds / 60 == pytest.approx(leg.minutes, rel=1e-9, abs=1e-12)
        assert leg.meters is not None and (leg.meters > 0) == (i != j)
    assert times.router.path(3, 3).coordinates == ((float(tiny.lon[3]), float(tiny.lat[3])),)


def test_kotka_matrix_and_paths(kotka: RoadGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random places (shape points included) on the bundled map: networkx agrees, in several Dijkstra chunks."""
    monkeypatch.setattr(matrix, "CHUNK", 7)  # exercise the chunk loop on a small problem
    rng = np.random.default_rng(3)
    nodes = rng.choice(kotka.node_count, size=40, replace=False)
    nodes[-1] = nodes[0]  # two places at one node
    times = build_travel_times(kotka, refs_for(len(nodes)), nodes)
    assert_matches_oracle(kotka, nodes, times, oracle(kotka))
    assert times.minutes[0, len(nodes) - 1] == 0.0
    steps = step_seconds(kotka)
    pairs = [(int(i), int(j)) for i, j in rng.integers(0, len(nodes), size=(60, 2))]
    for (i, j), leg in zip(pairs, times.router.paths(pairs), strict=True):
        assert kotka.follows_roads(leg.coordinates) is None
        seconds = sum(steps[a, b] for a, b in zip(leg.coordinates[:-1], leg.coordinates[1:], strict=True))
        assert seconds / 60 == pytest.approx(times.minutes[i, j], rel=1e-9, abs=1e-12)


def test_matrix_for_places_snaps_and_names_records(tiny: RoadGraph) -> None:
    """Places snap to their nearest node; a far place raises MapError naming its record."""
    places = [
        (LocationRef("driver", "D1"), 60.0001, 25.0011),
        (LocationRef("household", "H1"), 60.0010, 25.0020),
        (LocationRef("shelter", "S1"), 60.0, 25.0),
    ]
    times = matrix_for_places(tiny, places, edge_closures(tiny, closed_ways=[101]), max_snap_meters=500)
    assert times.index("household", "H1") == 1
    assert math.isinf(times.minutes[0, 1])  # C is cut off by closing way 101
    assert times.router.location_nodes.tolist() == [node_of(tiny, 2), node_of(tiny, 4), node_of(tiny, 1)]
    far = [*places, (LocationRef("household", "H2"), 60.01, 25.0)]
    with pytest.raises(MapError, match=r"^household H2: lat: .* m from the nearest road \(limit 500 m\)$"):
        matrix_for_places(tiny, far, None, max_snap_meters=500)


def test_bad_arguments(tiny: RoadGraph) -> None:
    """Mismatched lengths, foreign nodes and a wrong-sized mask are programming errors."""
    with pytest.raises(ValueError, match="snapped nodes"):
        build_travel_times(tiny, refs_for(2), [0])
    with pytest.raises(ValueError, match="not a node"):
        build_travel_times(tiny, refs_for(1), [tiny.node_count])
    with pytest.raises(ValueError, match="closed_mask"):
        build_travel_times(tiny, refs_for(1), [0], np.zeros(2, dtype=bool))
    empty = build_travel_times(tiny, [], [])
    assert empty.minutes.shape == (0, 0)


@pytest.mark.slow
def test_heidelberg_sample_matches_networkx(tmp_path: Path) -> None:
    """On a real 50k-node map, 300 random places: sampled rows equal networkx, sampled legs follow the roads."""
    path = MAPS / "heidelberg.test.pbf"
    if not path.is_file():
        pytest.skip(f"real map {path} not present (expected in ../shared/maps next to the repository)")
    graph = load_road_graph(path, cache_dir=tmp_path)
    rng = np.random.default_rng(7)
    nodes = rng.choice(graph.node_count, size=300, replace=False)
    times = build_travel_times(graph, refs_for(len(nodes)), nodes)
    net = oracle(graph)
    for i in rng.choice(len(nodes), size=3, replace=False):
        lengths = nx.single_source_dijkstra_path_length(net, int(nodes[i]), weight="seconds")
        expected = np.array([lengths.get(int(t), math.inf) / 60 for t in nodes])
        assert np.allclose(times.minutes[i], expected, rtol=1e-9)
    pairs = [(int(i), int(j)) for i, j in rng.integers(0, len(nodes), size=(50, 2))]
    for leg in times.router.paths(pairs):
        assert graph.follows_roads(leg.coordinates) is None


def _zone_mask(graph: RoadGraph, center: int, radius_m: float) -> np.ndarray:
    """Edges with a node within ``radius_m`` of node ``center``: a flood zone's worth of closed roads."""
    from tests.matcher.test_scenario import circle

    return edge_closures(graph, (), [circle(float(graph.lat[center]), float(graph.lon[center]), radius_m)]).closed


def test_closure_update_recomputes_only_affected_rows_and_equals_a_rebuild(kotka: RoadGraph,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood zone grows: the updated times equal a full rebuild, fewer rows ran Dijkstra, and legs avoid it.

    Then ten new places (at road nodes that earlier places did not use) get rows and columns, still equal to a
    rebuild; lifting the closure falls back to a full rebuild and says why.
    """
    monkeypatch.setattr(matrix, "CHUNK", 16)
    rng = np.random.default_rng(5)
    nodes = rng.choice(kotka.vertex_count, size=80, replace=False)  # road junctions: no road gets split
    center = int(nodes[0])
    small, large = _zone_mask(kotka, center, 150.0), _zone_mask(kotka, center, 400.0)
    assert small.any() and (large & ~small).any()
    before = build_travel_times(kotka, refs_for(60), nodes[:60], small)
    after, report = matrix.update_travel_times(before, kotka, refs_for(60), nodes[:60], large)
    rebuilt = build_travel_times(kotka, refs_for(60), nodes[:60], large)
    assert report.full_rebuild_reason is None
    assert 0 < report.recomputed < report.sources
    np.testing.assert_allclose(after.minutes, rebuilt.minutes, rtol=1e-12)
    # Every leg (kept trees included, towards places near the zone too) follows open roads and takes its time.
    steps = step_seconds(kotka)
    pairs = [(i, j) for i in range(60) for j in range(60) if i != j and np.isfinite(after.minutes[i, j])]
    for (i, j), leg in zip(pairs, after.router.paths(pairs), strict=True):
        assert kotka.follows_roads(leg.coordinates, large) is None
        seconds = sum(steps[a, b] for a, b in zip(leg.coordinates[:-1], leg.coordinates[1:], strict=True))
        assert seconds / 60 == pytest.approx(after.minutes[i, j], rel=1e-9, abs=1e-12)

    grown, report = matrix.update_travel_times(after, kotka, refs_for(80), nodes, large)
    assert report.full_rebuild_reason is None and report.sources >= 70
    np.testing.assert_allclose(grown.minutes, build_travel_times(kotka, refs_for(80), nodes, large).minutes,
                               rtol=1e-12)

    lifted, report = matrix.update_travel_times(after, kotka, refs_for(60), nodes[:60], small)
    assert report.full_rebuild_reason == "a closure was lifted"
    np.testing.assert_array_equal(lifted.minutes, before.minutes)


def _assert_legs_open_and_timed(graph: RoadGraph, times: TravelTimes, mask: np.ndarray, count: int) -> None:
    """Every leg (kept trees included) follows roads open under ``mask`` and takes its table time."""
    steps = step_seconds(graph)
    pairs = [(i, j) for i in range(count) for j in range(count) if i != j and np.isfinite(times.minutes[i, j])]
    for (i, j), leg in zip(pairs, times.router.paths(pairs), strict=True):  # type: ignore[union-attr]
        assert graph.follows_roads(leg.coordinates, mask) is None
        seconds = sum(steps[a, b] for a, b in zip(leg.coordinates[:-1], leg.coordinates[1:], strict=True))
        assert seconds / 60 == pytest.approx(times.minutes[i, j], rel=1e-9, abs=1e-12)


def test_a_growing_flood_zone_is_an_update_not_a_rebuild(kotka: RoadGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood zone closes only its flooded steps (per-step closures, the open end of a street stays drivable).
    Growing it twice updates the table (a few rows and columns recomputed, the rest kept to the bit) and equals a
    rebuild each time; legs, also from trees kept through both updates, avoid the water and take their time."""
    from tests.matcher.test_scenario import circle

    monkeypatch.setattr(matrix, "CHUNK", 16)
    rng = np.random.default_rng(7)
    junctions = rng.choice(kotka.vertex_count, size=50, replace=False)
    shape_points = rng.choice(np.arange(kotka.vertex_count, kotka.node_count), size=10, replace=False)
    nodes = np.concatenate([junctions, shape_points])  # shape points: places inside roads, cut there
    lat, lon = float(kotka.lat[junctions[0]]), float(kotka.lon[junctions[0]])
    zones = [edge_closures(kotka, (), [circle(lat, lon, radius)]) for radius in (120.0, 250.0, 400.0)]
    assert all(z.segments is not None for z in zones) and any(z.partial for z in zones)
    masks = [z.segments for z in zones]
    times = build_travel_times(kotka, refs_for(60), nodes, masks[0])
    for mask in masks[1:]:
        assert mask is not None
        times, report = matrix.update_travel_times(times, kotka, refs_for(60), nodes, mask)
        assert report.full_rebuild_reason is None
        assert 0 < report.recomputed + report.columns < report.sources
        np.testing.assert_allclose(times.minutes, build_travel_times(kotka, refs_for(60), nodes, mask).minutes,
                                   rtol=1e-12)
        _assert_legs_open_and_timed(kotka, times, mask, 60)


def test_an_update_for_a_replan_computes_only_the_places_it_needs(kotka: RoadGraph) -> None:
    """With ``needed`` (a re-plan's places) the times among those places equal a rebuild, legs among them follow open
    roads and take their time, fewer rows and columns run, and every other changed time is pending (``nan``),
    never a stale number; the next update (a plan that needs them all) completes them to a rebuild."""
    from tests.matcher.test_scenario import circle

    rng = np.random.default_rng(11)
    nodes = rng.choice(kotka.vertex_count, size=60, replace=False)
    lat, lon = float(kotka.lat[nodes[0]]), float(kotka.lon[nodes[0]])
    small, large = (edge_closures(kotka, (), [circle(lat, lon, radius)]).segments for radius in (120.0, 400.0))
    assert small is not None and large is not None
    before = build_travel_times(kotka, refs_for(60), nodes, small)
    rebuilt = build_travel_times(kotka, refs_for(60), nodes, large)
    _, everything = matrix.update_travel_times(before, kotka, refs_for(60), nodes, large)
    needed = np.arange(0, 60, 2)  # half of the places
    after, report = matrix.update_travel_times(before, kotka, refs_for(60), nodes, large, needed=needed)
    assert report.full_rebuild_reason is None
    assert report.recomputed + report.columns < everything.recomputed + everything.columns
    among = np.ix_(needed, needed)
    np.testing.assert_allclose(after.minutes[among], rebuilt.minutes[among], rtol=1e-12)
    pending = np.isnan(after.minutes)
    assert report.pending > 0 and pending.any() and not pending[among].any()
    # A time that is not pending is the rebuild's: a closure's changes are never kept stale.
    np.testing.assert_allclose(after.minutes[~pending], rebuilt.minutes[~pending], rtol=1e-12)
    steps = step_seconds(kotka)
    pairs = [(int(i), int(j)) for i in needed for j in needed if i != j and np.isfinite(after.minutes[i, j])]
    for (i, j), leg in zip(pairs, after.router.paths(pairs), strict=True):  # type: ignore[union-attr]
        assert kotka.follows_roads(leg.coordinates, large) is None
        seconds = sum(steps[a, b] for a, b in zip(leg.coordinates[:-1], leg.coordinates[1:], strict=True))
        assert seconds / 60 == pytest.approx(after.minutes[i, j], rel=1e-9, abs=1e-12)
    completed, report = matrix.update_travel_times(after, kotka, refs_for(60), nodes, large)
    assert report.full_rebuild_reason is None and report.pending == 0
    np.testing.assert_allclose(completed.minutes, rebuilt.minutes, rtol=1e-12)
    _assert_legs_open_and_timed(kotka, completed, large, 60)
