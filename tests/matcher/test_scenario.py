"""Scenario files on the bundled Kotka map: loading, map paths, snapping errors, bad fields, closures, JSON."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from matcher.check import assert_plan_valid
from matcher.errors import InputError, MapError
from matcher.roads.load import load_road_graph
from matcher.roads.snap import snap_points
from matcher.scenario import Scenario, load_scenario, problem_from_dict
from matcher.settings import Settings
from matcher.solver import SolveParams, solve

ROOT = Path(__file__).parents[2]
KOTKA = ROOT / "data" / "kotka.osm.pbf"
DEMO = ROOT / "scenarios" / "kotka_storm.yaml"


def demo_records() -> dict[str, Any]:
    """The bundled demo scenario's mapping (real road positions on the Kotka map)."""
    return yaml.safe_load(DEMO.read_text(encoding="utf-8"))


def small_scenario(map_path: str | Path = KOTKA, households: int = 6, drivers: int = 3) -> dict[str, Any]:
    """A small scenario from the demo's first records: real positions, no closures, a 2-hour deadline."""
    demo = demo_records()
    return {
        "name": "small Kotka test",
        "map": str(map_path),
        "alert": {"deadline_minutes": 120, "closed_ways": [], "flood_zones": []},
        "service_minutes": {"pickup": 3, "dropoff": 2},
        "shelters": copy.deepcopy(demo["shelters"][:2]),
        "drivers": copy.deepcopy(demo["drivers"][:drivers]),
        "households": copy.deepcopy(demo["households"][:households]),
    }


def write_scenario(folder: Path, data: dict[str, Any], name: str = "scenario.yaml") -> Path:
    """Write ``data`` as YAML (or JSON for a ``.json`` name) into ``folder``; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def circle(lat: float, lon: float, radius_m: float, points: int = 24) -> dict[str, Any]:
    """A GeoJSON polygon approximating a circle around (lat, lon)."""
    dlat = radius_m / 111_320.0
    dlon = dlat / math.cos(math.radians(lat))
    ring = [
        [lon + dlon * math.cos(2 * math.pi * k / points), lat + dlat * math.sin(2 * math.pi * k / points)]
        for k in range(points)
    ]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a private graph cache, shared by this module's tests."""
    return Settings(cache_dir=tmp_path_factory.mktemp("evac-cache"))


def _solve_valid(scenario: Scenario) -> Any:
    plan = solve(scenario.problem, SolveParams(time_limit_seconds=0.5))
    assert_plan_valid(scenario.problem, plan, road_graph=scenario.graph, closed_mask=scenario.closed_mask)
    return plan


def test_small_yaml_scenario_loads_on_the_kotka_map(tmp_path: Path, settings: Settings) -> None:
    """Records, alert, service and a finite travel-time matrix come out of a small YAML scenario."""
    path = write_scenario(tmp_path, small_scenario())
    scenario = load_scenario(path, settings)
    p = scenario.problem
    assert p.name == "small Kotka test"
    assert [h.id for h in p.households] == ["H001", "H002", "H003", "H004", "H005", "H006"]
    assert [d.id for d in p.drivers] == ["D01", "D02", "D03"]
    assert [s.id for s in p.shelters] == ["S1", "S2"]
    # Free text is kept as given, known needs and languages as read; shelters and drivers carry what they take.
    assert p.household("H001").needs == ("needs help on the stairs",)
    assert (p.household("H001").pets, p.household("H005").needs, p.household("H005").language) == \
        (1, ("cognitive",), "sv")
    assert p.shelter("S1").pets_allowed and p.shelter("S1").medical_support and p.shelter("S1").pet_capacity == 60
    assert all(d.languages for d in p.drivers)
    assert p.deadline == 120
    assert (p.service.pickup, p.service.dropoff) == (3, 2)
    assert scenario.path == path
    assert scenario.map_path == KOTKA.resolve()
    assert p.travel.minutes.shape == (11, 11)
    assert np.isfinite(p.travel.minutes).all()
    # A 2 km town: every drive is a few minutes, not zero and not an hour.
    off_diagonal = p.travel.minutes[~np.eye(11, dtype=bool)]
    assert off_diagonal.min() >= 0
    assert off_diagonal.max() < 20
    assert scenario.closed_mask.shape == (scenario.graph.edge_count,)  # per edge: nothing is partly closed
    assert scenario.closures.closed.shape == (scenario.graph.edge_count,)
    assert not scenario.closed_mask.any()
    plan = _solve_valid(scenario)
    assert plan.unserved == ()
    # Legs follow the roads: every leg of a moving car has a road path.
    assert all(leg.coordinates for route in plan.routes for leg in route.legs if leg.minutes > 0)


def test_unknown_map_file_is_a_map_error(tmp_path: Path, settings: Settings) -> None:
    """A map path that does not exist is a MapError on the scenario's map field."""
    path = write_scenario(tmp_path, small_scenario(map_path=tmp_path / "nowhere.osm.pbf"))
    with pytest.raises(MapError) as info:
        load_scenario(path, settings)
    assert (info.value.record, info.value.field) == ("scenario", "map")
    assert "nowhere.osm.pbf" in str(info.value)


def test_relative_map_path_resolves_against_the_scenario_file(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative map path is read from the scenario file's folder, whatever the working directory."""
    folder = tmp_path / "deep" / "scenarios"
    folder.mkdir(parents=True)
    relative = os.path.relpath(KOTKA, folder)
    assert not Path(relative).is_absolute()
    path = write_scenario(folder, small_scenario(map_path=relative))
    monkeypatch.chdir(tmp_path)  # the relative path means nothing from here
    scenario = load_scenario(path, settings)
    assert scenario.map_path == KOTKA.resolve()
    assert len(scenario.problem.households) == 6


def test_relative_map_path_is_not_resolved_against_the_working_directory(tmp_path: Path, settings: Settings,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A path that is right from the working directory but not from the scenario's folder is unknown."""
    monkeypatch.chdir(ROOT)
    path = write_scenario(tmp_path / "elsewhere", small_scenario(map_path="data/kotka.osm.pbf"))
    with pytest.raises(MapError) as info:
        load_scenario(path, settings)
    assert info.value.field == "map"


def test_household_five_km_off_the_map_is_a_map_error(tmp_path: Path, settings: Settings) -> None:
    """A household 5 km north of the map's roads names that household in the MapError."""
    data = small_scenario()
    data["households"][2]["lat"] = round(data["households"][2]["lat"] + 0.045, 6)  # 0.045 deg lat = 5 km
    with pytest.raises(MapError) as info:
        load_scenario(write_scenario(tmp_path, data), settings)
    assert info.value.record == "household H003"
    assert info.value.field == "lat"
    assert "from the nearest road" in str(info.value)


MISSING_OR_BAD: list[tuple[str, str, Any, str, str]] = [
    # a household without people
    ("households", "people", None, "household H001", "people"),
    # a household without a position
    ("households", "lat", None, "household H001", "lat"),
    # a driver without seats
    ("drivers", "seats", None, "driver D01", "seats"),
    # a shelter without capacity
    ("shelters", "capacity", None, "shelter S1", "capacity"),
    # a household of nobody (present but bad)
    ("households", "people", 0, "household H001", "people"),
    # a latitude that is text
    ("households", "lat", "north", "household H001", "lat"),
    # a driver whose window ends before it starts
    ("drivers", "available_until_minute", -5, "driver D01", "available_until_minute"),
]


@pytest.mark.parametrize(("key", "name", "value", "record", "field"), MISSING_OR_BAD)
def test_missing_or_bad_field_names_record_and_field(
    tmp_path: Path, settings: Settings, key: str, name: str, value: Any, record: str, field: str
) -> None:
    """A missing (None) or bad field of the first record raises InputError naming it."""
    data = small_scenario()
    if value is None:
        del data[key][0][name]
    else:
        data[key][0][name] = value
    with pytest.raises(InputError) as info:
        load_scenario(write_scenario(tmp_path, data), settings)
    assert (info.value.record, info.value.field) == (record, field)


SCENARIO_LEVEL: list[tuple[str, Any, str, str]] = [
    # no alert at all
    ("alert", None, "scenario", "alert"),
    # an alert without a deadline
    ("alert", {"closed_ways": []}, "alert", "deadline_minutes"),
    # a deadline of zero
    ("alert", {"deadline_minutes": 0}, "alert", "deadline_minutes"),
    # closed ways that are not a list
    ("alert", {"deadline_minutes": 60, "closed_ways": 123}, "alert", "closed_ways"),
    # a flood zone that is a point
    ("alert", {"deadline_minutes": 60, "flood_zones": [{"type": "Point", "coordinates": [26.9, 60.5]}]},
     "alert", "flood_zones"),
    # no map
    ("map", None, "scenario", "map"),
    # households that are not a list
    ("households", {"H1": 2}, "scenario", "households"),
    # a negative pickup time
    ("service_minutes", {"pickup": -1}, "service_minutes", "pickup"),
]


@pytest.mark.parametrize(("key", "value", "record", "field"), SCENARIO_LEVEL)
def test_bad_scenario_sections_name_record_and_field(
    tmp_path: Path, settings: Settings, key: str, value: Any, record: str, field: str
) -> None:
    """A missing or malformed top-level section raises InputError naming the section and field."""
    data = small_scenario()
    if value is None:
        del data[key]
    else:
        data[key] = value
    with pytest.raises(InputError) as info:
        load_scenario(write_scenario(tmp_path, data), settings)
    assert (info.value.record, info.value.field) == (record, field)


def test_duplicate_household_id_in_a_scenario_is_an_input_error(tmp_path: Path, settings: Settings) -> None:
    """Two households with the same id are refused before the map is even read."""
    data = small_scenario(map_path=tmp_path / "no-map-needed.osm.pbf")
    data["households"][1]["id"] = "H001"
    with pytest.raises(InputError) as info:
        load_scenario(write_scenario(tmp_path, data), settings)
    assert (info.value.record, info.value.field) == ("household H001", "id")


def test_missing_scenario_file_and_unparsable_file(tmp_path: Path, settings: Settings) -> None:
    """A missing file is ("scenario", "path"); broken YAML and a non-mapping are ("scenario", "file")."""
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "absent.yaml", settings)
    assert (info.value.record, info.value.field) == ("scenario", "path")
    broken = tmp_path / "broken.yaml"
    broken.write_text("households: [\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(broken, settings)
    assert (info.value.record, info.value.field) == ("scenario", "file")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(listed, settings)
    assert (info.value.record, info.value.field) == ("scenario", "file")


def test_flood_zone_over_a_household_cuts_it_off(tmp_path: Path, settings: Settings) -> None:
    """A flood zone drawn around H004's front door, and H004 cannot walk: unserved as cut_off, with what to do."""
    data = small_scenario()
    h = data["households"][3]
    h["max_walk_meters"] = 0
    data["alert"]["flood_zones"] = [circle(h["lat"], h["lon"], 60)]
    scenario = load_scenario(write_scenario(tmp_path, data), settings)
    assert scenario.closed_mask.any()
    plan = _solve_valid(scenario)
    unserved = {u.household_id: u for u in plan.unserved}
    assert unserved.keys() == {"H004"}
    assert unserved["H004"].code == "cut_off"
    assert "needs a boat or the fire service" in unserved["H004"].reason
    assert plan.metrics.households_served == 5


def test_closed_ways_at_a_household_cut_it_off(tmp_path: Path, settings: Settings) -> None:
    """Closing every OSM way that touches H005's road node makes H005 cut_off; legs avoid closed roads."""
    data = small_scenario()
    open_scenario = load_scenario(write_scenario(tmp_path / "open", data), settings)
    graph = open_scenario.graph
    h = data["households"][4]
    h["max_walk_meters"] = 0  # no meeting point: it cannot walk to the next open road
    (node,) = snap_points(graph, ["household H005"], [h["lat"]], [h["lon"]]).node
    edges = np.unique(graph.geometry_edge[graph.geometry_nodes == node])
    ways = sorted({int(w) for w in graph.edge_way[edges]})
    assert ways
    data["alert"]["closed_ways"] = [*ways, 999_999_999_999]  # the last id is on no road of the map
    messages: list[str] = []
    scenario = load_scenario(write_scenario(tmp_path / "closed", data), settings, messages.append)
    assert any("999999999999" in m and "warning" in m for m in messages)
    assert scenario.closed_mask.sum() >= len(edges)
    plan = _solve_valid(scenario)
    codes = {u.household_id: u.code for u in plan.unserved}
    assert codes.get("H005") == "cut_off"
    assert all(code == "cut_off" for code in codes.values())
    assert "H005" not in {s.household_id for r in plan.routes for s in r.stops}


def test_json_scenario_loads_like_yaml(tmp_path: Path, settings: Settings) -> None:
    """The same scenario as JSON gives the same records and travel times as the YAML file."""
    data = small_scenario()
    from_yaml = load_scenario(write_scenario(tmp_path, data, "s.yaml"), settings).problem
    from_json = load_scenario(write_scenario(tmp_path, data, "s.json"), settings).problem
    assert from_json.households == from_yaml.households
    assert from_json.drivers == from_yaml.drivers
    assert from_json.shelters == from_yaml.shelters
    assert from_json.travel.locations == from_yaml.travel.locations
    np.testing.assert_array_equal(from_json.travel.minutes, from_yaml.travel.minutes)


def test_extra_fields_are_ignored_and_ids_become_text(tmp_path: Path, settings: Settings) -> None:
    """Unknown fields (a note, a colour) are ignored; a numeric id is read as text."""
    data = small_scenario(households=2, drivers=1)
    data["households"][0]["note"] = "dog barks"
    data["drivers"][0]["colour"] = "red"
    data["households"][1]["id"] = 42
    data["extra_section"] = {"anything": True}
    p = load_scenario(write_scenario(tmp_path, data), settings).problem
    assert [h.id for h in p.households] == ["H001", "42"]


def test_cache_dir_from_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no Settings given, EVAC_CACHE_DIR decides where the parsed graph is cached."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVAC_CACHE_DIR", str(cache))
    load_scenario(write_scenario(tmp_path, small_scenario(households=1, drivers=1)))
    assert cache.is_dir() and any(cache.iterdir())


# --- closed streets: meeting points ---------------------------------------------------------------------------


def _home_ways(household: dict[str, Any]) -> list[int]:
    """The OSM ways through the road node nearest a household's door."""
    graph = load_road_graph(KOTKA)
    node = int(snap_points(graph, ["h"], [household["lat"]], [household["lon"]]).node[0])
    edges = graph.geometry_edge[np.flatnonzero(graph.geometry_nodes == node)]
    return sorted({int(graph.edge_way[e]) for e in edges})


def test_closed_street_with_a_corner_in_reach_gets_a_meeting_point(settings: Settings) -> None:
    """H001's streets are closed: the car meets it at the nearest open corner within 250 m, named by its street."""
    data = small_scenario()
    data["alert"]["closed_ways"] = _home_ways(data["households"][0])
    scenario = problem_from_dict(data, settings=settings)
    meet = scenario.problem.meeting_points["H001"]
    assert 0 < meet.walk_meters <= 250 and meet.name and "road point" not in meet.name
    plan = _solve_valid(scenario)
    stops = [s for r in plan.routes for s in r.stops if s.household_id == "H001"]
    assert stops and all(s.meeting_point == meet and (s.lat, s.lon) == (meet.lat, meet.lon) for s in stops)
    assert plan.to_dict()["routes"] and "meeting_point" in next(
        st for r in plan.to_dict()["routes"] for st in r["stops"] if st.get("household_id") == "H001")
    # Without the rule (cannot walk) the same household is cut off with what to do.
    data["households"][0]["max_walk_meters"] = 0
    cut = problem_from_dict(data, settings=settings).problem
    assert "H001" not in cut.meeting_points
    assert cut.unreachable["H001"].startswith("its street is closed and it cannot walk to an open road")


def test_flooded_home_with_no_open_road_in_reach_needs_a_boat(settings: Settings) -> None:
    data = small_scenario()
    h = data["households"][0]
    data["alert"]["flood_zones"] = [circle(h["lat"], h["lon"], 400)]
    scenario = problem_from_dict(data, settings=settings)
    plan = _solve_valid(scenario)
    (reason,) = [u.reason for u in plan.unserved if u.household_id == "H001"]
    assert reason == ("inside the flood zone, and no open road is within its walk (250 m): needs a boat or the "
                      "fire service")


def test_a_flood_closes_only_the_flooded_part_of_a_street(settings: Settings) -> None:
    """A small flood in the middle of a long two-way street: a home on its dry part is served at the door,
    reached from the street's dry end, and the flooded steps stay closed."""
    graph = load_road_graph(KOTKA)
    pairs = {(int(t), int(h), int(w)) for t, h, w in zip(graph.edge_tail, graph.edge_head, graph.edge_way,
                                                           strict=True)}
    two_way = [e for e in range(graph.edge_count)
               if (int(graph.edge_head[e]), int(graph.edge_tail[e]), int(graph.edge_way[e])) in pairs]
    edge = max(two_way, key=lambda e: len(graph.edge_nodes(e)))
    nodes = graph.edge_nodes(edge)
    assert len(nodes) >= 6
    middle, dry = int(nodes[len(nodes) // 2]), int(nodes[1])
    data = small_scenario()
    data["households"][0].update(lat=float(graph.lat[dry]), lon=float(graph.lon[dry]), max_walk_meters=0)
    data["alert"]["flood_zones"] = [circle(float(graph.lat[middle]), float(graph.lon[middle]), 3)]
    scenario = problem_from_dict(data, settings=settings)
    steps = scenario.closures.segments
    assert steps is not None and scenario.closures.closed[edge] and scenario.closures.partial
    assert scenario.closed_mask.shape == graph.geometry_nodes.shape  # per step: the street is partly closed
    first, last = graph.geometry_offsets[edge], graph.geometry_offsets[edge + 1] - 1
    assert steps[first:last].any() and not steps[first:last].all()
    assert "H001" not in scenario.problem.meeting_points and "H001" not in scenario.problem.unreachable
    plan = _solve_valid(scenario)
    assert "H001" not in {u.household_id for u in plan.unserved}
