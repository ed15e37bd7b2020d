"""Zones: reading a zones file (bad ones named), zone fields, road-network clusters, cars lent, room split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.errors import InputError
from matcher.region import RegionParams, region_from_dict
from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph
from matcher.zones import parse_zones, read_zones_file
from tests.matcher.regionkit import KOTKA, zoned_scenario

SQUARE = [[[26.0, 60.0], [27.5, 60.0], [27.5, 61.0], [26.0, 61.0], [26.0, 60.0]]]


@pytest.fixture(scope="module")
def kotka() -> RoadGraph:
    return parse_road_graph(KOTKA)


def _feature(name: Any, geometry: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": name} if name is not None else {}, "geometry": geometry}


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.mark.parametrize(
    ("data", "record", "field", "words"),
    [
        # not a FeatureCollection at all
        ({"type": "Polygon", "coordinates": SQUARE}, "zones file", "type", "FeatureCollection"),
        # a feature without a name
        (_collection(_feature(None, {"type": "Polygon", "coordinates": SQUARE})), "zones file feature #1",
         "properties.name", "required"),
        # a point is not an area
        (_collection(_feature("Harbour", {"type": "Point", "coordinates": [26.9, 60.4]})),
         "zones file feature #1 'Harbour'", "geometry", "Polygon"),
        # a bow tie crosses itself
        (_collection(_feature("Bow", {"type": "Polygon", "coordinates": [[[26, 60], [27, 61], [27, 60], [26, 61],
                                                                         [26, 60]]]})),
         "zones file feature #1 'Bow'", "geometry", "not a valid polygon"),
        # a ring of two points
        (_collection(_feature("Thin", {"type": "Polygon", "coordinates": [[[26, 60], [27, 61]]]})),
         "zones file feature #1 'Thin'", "geometry", "not a valid polygon"),
        # latitude and longitude swapped far out of range
        (_collection(_feature("Far", {"type": "Polygon", "coordinates": [[[60, 260], [61, 260], [61, 261],
                                                                         [60, 260]]]})),
         "zones file feature #1 'Far'", "geometry", "WGS84"),
        # the same name twice
        (_collection(_feature("A", {"type": "Polygon", "coordinates": SQUARE}),
                     _feature("A", {"type": "Polygon", "coordinates": SQUARE})),
         "zones file feature #2 'A'", "properties.name", "duplicate"),
        # nothing in it
        (_collection(), "zones file", "features", "no zone"),
    ],
)
def test_bad_zones_files_name_the_feature(data: dict[str, Any], record: str, field: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_zones(data)
    assert (caught.value.record, caught.value.field) == (record, field)
    assert words in caught.value.message


def test_unreadable_zones_file(tmp_path: Path) -> None:
    bad = tmp_path / "zones.geojson"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="zones file: file"):
        read_zones_file(bad)
    with pytest.raises(InputError, match="no such file"):
        read_zones_file(tmp_path / "missing.geojson")


def test_unknown_zone_name_names_the_record(kotka: RoadGraph) -> None:
    """A household registered in a zone the zones file does not have is an input error naming it."""
    data = zoned_scenario(kotka, zones=2)
    data["households"][4]["zone"] = "Atlantis"
    zones = parse_zones(_collection(_feature("Z1", {"type": "Polygon", "coordinates": SQUARE}),
                                    _feature("Z2", {"type": "Polygon", "coordinates": SQUARE})))
    with pytest.raises(InputError) as caught:
        region_from_dict(data, kotka, zones_file=zones)
    assert caught.value.record == f"household {data['households'][4]['id']}"
    assert caught.value.field == "zone"
    assert "Atlantis" in caught.value.message


def test_zones_file_places_unzoned_records(kotka: RoadGraph) -> None:
    """Records without a zone field go to the polygon containing them (west and east halves of the map)."""
    data = zoned_scenario(kotka, zones=2)
    for record in data["households"] + data["drivers"]:
        del record["zone"]
    middle = float(np.median([h["lon"] for h in data["households"]]))
    west = [[[20.0, 59.0], [middle, 59.0], [middle, 61.0], [20.0, 61.0], [20.0, 59.0]]]
    east = [[[middle, 59.0], [30.0, 59.0], [30.0, 61.0], [middle, 61.0], [middle, 59.0]]]
    zones = parse_zones(_collection(_feature("West", {"type": "Polygon", "coordinates": west}),
                                    _feature("East", {"type": "Polygon", "coordinates": east})))
    region = region_from_dict(data, kotka, zones_file=zones)
    assert region.zones.names == ("West", "East")
    for h, z in zip(region.problem.households, region.zones.household_zone, strict=True):
        assert region.zones.names[z] == ("West" if h.lon < middle else "East")


def test_clusters_on_the_road_network(kotka: RoadGraph) -> None:
    """Without zones: about households / zone_households clusters, each household in one, the same every time."""
    data = zoned_scenario(kotka, households=120, cars=24)
    for record in data["households"] + data["drivers"]:
        del record["zone"]
    params = RegionParams(zone_households=30)
    one = region_from_dict(data, kotka, params=params)
    two = region_from_dict(data, kotka, params=params)
    assert 3 <= len(one.zones.names) <= 4
    assert np.array_equal(one.zones.household_zone, two.zones.household_zone)
    sizes = np.bincount(one.zones.household_zone)
    assert sizes.min() >= 10  # no degenerate sliver
    assert all(one.zones.neighbours[z] for z in range(len(one.zones.names)))


def test_cars_follow_work_and_room_is_split(kotka: RoadGraph) -> None:
    """Every driver registered in zone Z1: the other zones borrow cars; each shelter's room is split, not grown."""
    data = zoned_scenario(kotka, zones=3)
    for d in data["drivers"]:
        d["zone"] = "Z1"
    region = region_from_dict(data, kotka)
    counts = np.bincount(region.serving, minlength=3)
    assert counts.sum() == len(data["drivers"])
    assert (counts > 0).all(), counts
    room = region.capacity.sum(axis=0)
    assert np.array_equal(room, [s["capacity"] for s in data["shelters"]])


def test_zones_file_written_and_read(tmp_path: Path) -> None:
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(_collection(_feature("Old town", {"type": "Polygon", "coordinates": SQUARE}))))
    assert read_zones_file(path).names == ("Old town",)


def test_a_zone_with_wheelchair_work_gets_a_wheelchair_car(kotka: RoadGraph) -> None:
    """One wheelchair household in a zone: a proportional share would give that zone no wheelchair car."""
    data = zoned_scenario(kotka, households=90, cars=18, zones=3)
    for h in data["households"]:
        h["wheelchair_users"] = 0
    for h in [h for h in data["households"] if h["zone"] == "Z1"][:10]:
        h["wheelchair_users"] = 1  # ten in Z1 ...
    next(h for h in data["households"] if h["zone"] == "Z3")["wheelchair_users"] = 1  # ... and one in Z3
    for d in data["drivers"]:
        d["wheelchair_spaces"] = 0
    for d in [d for d in data["drivers"] if d["zone"] == "Z1"][:3]:
        d["wheelchair_spaces"] = 1  # three wheelchair cars: by share, 2.7 for Z1 and 0.3 for Z3
    region = region_from_dict(data, kotka)
    wheel = np.array([d["wheelchair_spaces"] > 0 for d in data["drivers"]])
    z3 = region.zones.names.index("Z3")
    assert (region.serving[wheel] == z3).sum() >= 1


def test_wheelchair_cars_follow_wheelchair_users_not_household_size(kotka: RoadGraph) -> None:
    """Wheelchair cars follow the trips they must make: one per wheelchair user, whatever the household's size.

    Z1 has one wheelchair household of four people, Z3 three of one person each, the same way from their
    shelters; four wheelchair cars. Shared by seats (the old weight) Z1's household counted as much as Z3's three
    and each zone got two; by wheelchair trips Z3 gets three."""
    data = zoned_scenario(kotka, households=90, cars=18, zones=3)
    for h in data["households"]:
        h["wheelchair_users"] = 0
    big = next(h for h in data["households"] if h["zone"] == "Z1")
    big.update(people=4, wheelchair_users=1)
    for h in [h for h in data["households"] if h["zone"] == "Z3"][:3]:
        h.update(people=1, wheelchair_users=1)
    for d in data["drivers"]:
        d["wheelchair_spaces"] = 0
    for d in [d for d in data["drivers"] if d["zone"] == "Z2"][:4]:
        d["wheelchair_spaces"] = 1
    region = region_from_dict(data, kotka)
    wheel = np.array([d["wheelchair_spaces"] > 0 for d in data["drivers"]])
    per_zone = np.bincount(region.serving[wheel], minlength=3)
    names = region.zones.names
    assert per_zone[names.index("Z3")] >= 2 * per_zone[names.index("Z1")], per_zone


def test_cars_are_shared_so_the_most_work_per_car_is_least() -> None:
    """Adams' apportionment: every zone with work gets a car first, then each car goes where the work per car is
    largest; the largest work per car is the least any split reaches (checked against every split)."""
    import itertools

    from matcher.zones import _fewest_per_car

    weight = np.array([7.0, 3.0, 2.5, 0.0, 1.0])
    for total in range(4, 12):
        got = _fewest_per_car(total, weight)
        assert got.sum() == total and got[3] == 0 and (got[weight > 0] > 0).all()
        worst = max(w / c for w, c in zip(weight, got, strict=True) if w > 0)
        best = min(max(w / c for w, c in zip(weight, split, strict=True) if w > 0)
                   for split in itertools.product(range(1, total + 1), repeat=4)
                   for split in [(*split[:3], 0, split[3])] if sum(split) == total)
        assert worst == pytest.approx(best)
