"""Loading OSM files into a road graph: which roads, which directions, what speeds, and the cache."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from matcher.errors import MapError
from matcher.roads import load
from matcher.roads.graph import RoadGraph, haversine_m
from matcher.roads.load import car_directions, load_road_graph, parse_maxspeed, parse_road_graph

DATA = Path(__file__).parents[2] / "data"
TINY = DATA / "roads_tiny.osm"
KOTKA = Path(__file__).parents[3] / "data" / "kotka.osm.pbf"
MAPS = Path(__file__).parents[3] / ".." / "shared" / "maps"


@pytest.fixture(scope="module")
def tiny() -> RoadGraph:
    return parse_road_graph(TINY)


def edges_by_osm(graph: RoadGraph) -> dict[tuple[int, ...], int]:
    """Edge index by the OSM ids of its nodes in driving order."""
    return {tuple(int(i) for i in graph.node_osm_id[graph.edge_nodes(e)]): e for e in range(graph.edge_count)}


def test_tiny_map_keeps_only_the_strongly_connected_car_roads(tiny: RoadGraph) -> None:
    """Private, foot, area, dead-end one-way and detached roads are gone; shape points are kept after vertices."""
    assert sorted(tiny.node_osm_id[: tiny.vertex_count].tolist()) == [1, 3, 4, 5, 8, 10, 11, 13, 15]
    assert sorted(tiny.node_osm_id[tiny.vertex_count :].tolist()) == [2, 6, 9, 14, 22]
    assert sorted(set(tiny.edge_way.tolist())) == [100, 101, 102, 103, 106, 107, 108, 112, 113, 114, 115]
    assert tiny.edge_count == 18


def test_edges_keep_road_class_and_street_name(tiny: RoadGraph) -> None:
    """The graph keeps each way's OSM ``highway``, ``name`` and ``ref``, so nobody reads the map file again."""
    edges = edges_by_osm(tiny)
    mill = edges[(1, 2, 3)]
    assert tiny.road_class(mill) == "residential" and tiny.street_name(mill) == "Mill Road"
    assert tiny.road_class(edges[(8, 9, 10)]) == "primary" and tiny.street_name(edges[(8, 9, 10)]) == ""
    assert tiny.road_class(edges[(5, 1)]) == "tertiary"
    assert tiny.way_names() == {100: "Mill Road"}
    assert tiny.way_names(with_ref=True) == {100: "Mill Road", 103: "road 7"}
    assert set(tiny.edge_classes().tolist()) == {"residential", "tertiary", "primary", "unclassified", "motorway"}


def test_one_way_directions(tiny: RoadGraph) -> None:
    """oneway=yes, oneway=-1, an implied motorway and a roundabout each give one direction only."""
    edges = edges_by_osm(tiny)
    assert (3, 4) in edges and (4, 3) not in edges  # oneway=yes
    assert (4, 6, 5) in edges and (5, 6, 4) not in edges  # oneway=-1 reverses the drawing
    assert (11, 13) in edges and (13, 11) not in edges  # motorway implies one-way
    assert (8, 9, 10) in edges and (10, 9, 8) not in edges  # junction=roundabout implies one-way
    assert (10, 8) in edges and (8, 10) not in edges
    assert (1, 2, 3) in edges and (3, 2, 1) in edges  # an ordinary road goes both ways


@pytest.mark.parametrize(
    ("nodes", "kmh"),
    [
        ((1, 2, 3), 30.0),  # maxspeed=30
        ((5, 1), 50.0),  # FI:urban
        ((3, 8), 7.0),  # walk
        ((8, 9, 10), 70.0),  # primary default
        ((11, 13), 110.0),  # motorway default
        ((1, 22, 3), 20.0),  # maxspeed=20
    ],
)
def test_edge_speed_and_length(tiny: RoadGraph, nodes: tuple[int, ...], kmh: float) -> None:
    """Edge seconds are the haversine length of the node chain at the way's speed."""
    e = edges_by_osm(tiny)[nodes]
    chain = tiny.edge_nodes(e)
    meters = haversine_m(tiny.lon[chain[:-1]], tiny.lat[chain[:-1]], tiny.lon[chain[1:]], tiny.lat[chain[1:]]).sum()
    assert tiny.edge_meters[e] == pytest.approx(meters)
    assert tiny.edge_seconds[e] == pytest.approx(meters / (kmh / 3.6))


def test_way_cut_by_a_missing_node_keeps_the_part_that_remains(tiny: RoadGraph) -> None:
    """Way 114 references node 99, which the file lacks: D-15 stays, 16 (alone after the gap) goes."""
    assert (5, 15) in edges_by_osm(tiny)
    assert 16 not in tiny.node_osm_id


@pytest.mark.parametrize(
    ("text", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("20mph", 20 * 1.609344),
        ("walk", 7.0),
        ("FI:urban", 50.0),
        ("FI:rural", 80.0),
        ("DE:motorway", 130.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("XX:living_street", 20.0),
        ("50;30", 30.0),  # several values: the lowest
        ("none", None),  # no limit: the class default applies
        ("signals", None),
        ("0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(text: str | None, kmh: float | None) -> None:
    """Numbers, units, words and country codes become km/h; unusable text gives None."""
    assert parse_maxspeed(text) == (None if kmh is None else pytest.approx(kmh))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "residential"}, (30.0, 30.0)),
        ({"highway": "residential", "oneway": "true"}, (30.0, 0.0)),
        ({"highway": "residential", "oneway": "reverse"}, (0.0, 30.0)),
        ({"highway": "motorway"}, (110.0, 0.0)),
        ({"highway": "motorway", "oneway": "no"}, (110.0, 110.0)),  # explicit two-way wins
        ({"highway": "tertiary", "junction": "circular"}, (50.0, 0.0)),
        ({"highway": "primary", "maxspeed": "60", "maxspeed:backward": "40"}, (60.0, 40.0)),
        ({"highway": "service", "service": "parking_aisle"}, (15.0, 15.0)),
        ({"highway": "residential", "access": "no"}, None),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, (30.0, 30.0)),  # most specific
        ({"highway": "residential", "motorcar": "private"}, None),
        ({"highway": "pedestrian"}, None),
        ({"highway": "residential", "area": "yes"}, None),
        ({"building": "yes"}, None),
    ],
)
def test_car_directions(tags: dict[str, str], expected: tuple[float, float] | None) -> None:
    """Tags decide whether cars may use a way, in which directions and how fast."""
    assert car_directions(tags) == expected


def test_kotka_graph_invariants() -> None:
    """The bundled map gives a strongly connected graph whose edge geometries start and end at their vertices."""
    graph = parse_road_graph(KOTKA)
    V = graph.vertex_count
    assert 200 < V < graph.node_count
    first = graph.geometry_nodes[graph.geometry_offsets[:-1]]
    last = graph.geometry_nodes[graph.geometry_offsets[1:] - 1]
    assert np.array_equal(first, graph.edge_tail) and np.array_equal(last, graph.edge_head)
    assert graph.edge_tail.max() < V and graph.edge_head.max() < V
    inner = np.ones(len(graph.geometry_nodes), dtype=bool)
    inner[graph.geometry_offsets[:-1]] = inner[graph.geometry_offsets[1:] - 1] = False
    assert (graph.geometry_nodes[inner] >= V).all()  # shape points only inside edges
    assert set(np.unique(graph.geometry_nodes).tolist()) == set(range(graph.node_count))
    adjacency = csr_matrix((np.ones(graph.edge_count), (graph.edge_tail, graph.edge_head)), shape=(V, V))
    assert connected_components(adjacency, directed=True, connection="strong")[0] == 1
    assert (graph.edge_seconds > 0).all() and (graph.edge_meters > 0).all()


def test_cached_load_equals_fresh_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second load comes from the cache (no parse) and gives the same arrays."""
    fresh = load_road_graph(KOTKA, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("roadgraph-*.npz"))) == 1
    assert not list(tmp_path.glob("*.tmp"))

    def no_parse(path: object) -> RoadGraph:
        raise AssertionError("parsed again although cached")

    monkeypatch.setattr(load, "parse_road_graph", no_parse)
    started = time.perf_counter()
    cached = load_road_graph(KOTKA, cache_dir=tmp_path)
    assert time.perf_counter() - started < 5.0  # generous: a cache hit takes milliseconds
    assert cached.vertex_count == fresh.vertex_count
    for name, array in fresh.arrays().items():
        assert np.array_equal(array, cached.arrays()[name]), name


def test_cache_dir_defaults_to_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cache_dir the loader writes where EVAC_CACHE_DIR points."""
    monkeypatch.setenv("EVAC_CACHE_DIR", str(tmp_path / "evac"))
    load_road_graph(TINY)
    assert len(list((tmp_path / "evac").glob("roadgraph-*.npz"))) == 1


def test_cache_follows_content_and_survives_a_broken_file(tmp_path: Path) -> None:
    """A copy of the file hits the same cache entry; a corrupt entry is ignored and replaced."""
    copy = tmp_path / "copy.osm"
    copy.write_bytes(TINY.read_bytes())
    cache = tmp_path / "cache"
    first = load_road_graph(TINY, cache_dir=cache)
    load_road_graph(copy, cache_dir=cache)
    (entry,) = cache.glob("roadgraph-*.npz")
    entry.write_bytes(b"not a numpy file")
    again = load_road_graph(copy, cache_dir=cache)
    assert np.array_equal(again.edge_seconds, first.edge_seconds)
    assert entry.read_bytes()[:2] == b"PK"  # rewritten as a valid archive


def test_unwritable_cache_still_loads(tmp_path: Path) -> None:
    """A cache directory that cannot be created is skipped, not fatal."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert load_road_graph(TINY, cache_dir=blocker / "sub").edge_count == 18


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.osm.pbf", None),  # no such file
        ("garbage.osm.pbf", b"this is not a pbf"),  # unreadable
        ("broken.osm", b"<osm"),  # truncated XML
        ("notes.txt", b"hello"),  # unknown format
        (
            "paths.osm",
            b'<osm version="0.6"><node id="1" lat="0" lon="0"/><node id="2" lat="0" lon="0.001"/>'
            b'<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>',
        ),  # no car roads
    ],
)
def test_bad_map_file_is_a_map_error_naming_the_path(tmp_path: Path, name: str, content: bytes | None) -> None:
    """Every unusable file is a MapError on the scenario's map field with the path in the message."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MapError) as caught:
        load_road_graph(path, cache_dir=tmp_path / "cache")
    assert (caught.value.record, caught.value.field) == ("scenario", "map")
    assert str(path) in caught.value.message


@pytest.mark.slow
@pytest.mark.parametrize("name", ["baltimore.osm.pbf", "monaco.osm.pbf", "heidelberg.test.pbf"])
def test_real_maps_load_and_cache(tmp_path: Path, name: str) -> None:
    """The shared real maps load into strongly connected graphs, and the cache returns the same graph."""
    path = MAPS / name
    if not path.is_file():
        pytest.skip(f"real map {path} not present (expected in ../shared/maps next to the repository)")
    graph = load_road_graph(path, cache_dir=tmp_path)
    V = graph.vertex_count
    adjacency = csr_matrix((np.ones(graph.edge_count), (graph.edge_tail, graph.edge_head)), shape=(V, V))
    assert connected_components(adjacency, directed=True, connection="strong")[0] == 1
    assert V > 1000
    cached = load_road_graph(path, cache_dir=tmp_path)
    assert np.array_equal(cached.geometry_nodes, graph.geometry_nodes)
