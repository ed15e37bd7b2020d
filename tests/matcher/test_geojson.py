"""Tests for the GeoJSON form of a plan: features per leg, stop, shelter and unserved household; ids only."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import shapely.geometry
import shapely.validation

from matcher.geojson import plan_to_geojson
from matcher.plan import Leg
from tests.factories import PERSONAL_DATA, example_plan, example_problem, example_problem_with_personal_data


def _features(collection: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in collection["features"] if f["properties"]["feature"] == kind]


def test_feature_counts_and_kinds() -> None:
    """One LineString per leg, one Point per stop, per shelter and per unserved household."""
    problem = example_problem()
    collection = plan_to_geojson(example_plan(problem), problem)
    assert collection["type"] == "FeatureCollection"
    assert len(_features(collection, "leg")) == 7
    assert len(_features(collection, "stop")) == 7
    assert len(_features(collection, "shelter")) == 2
    assert len(_features(collection, "unserved")) == 1
    assert {f["geometry"]["type"] for f in _features(collection, "leg")} == {"LineString"}
    assert {f["geometry"]["type"] for f in collection["features"]} - {"LineString"} == {"Point"}


def test_leg_and_stop_properties() -> None:
    """A leg names its driver, index, minutes and target; a stop its times, people and ids; coordinates are lon, lat."""
    problem = example_problem()
    collection = plan_to_geojson(example_plan(problem), problem)
    d1, h1, s1 = problem.driver("D1"), problem.household("H1"), problem.shelter("S1")
    first_leg = _features(collection, "leg")[0]
    assert first_leg["geometry"]["coordinates"] == [[d1.lon, d1.lat], [h1.lon, h1.lat]]
    assert first_leg["properties"] == {
        "feature": "leg",
        "driver_id": "D1",
        "leg": 0,
        "minutes": 5,
        "meters": None,
        "road_path": False,
        "to_type": "pickup",
        "to_id": "H1",
    }
    dropoff = _features(collection, "stop")[2]
    assert dropoff["geometry"]["coordinates"] == [s1.lon, s1.lat]
    assert dropoff["properties"] == {
        "feature": "stop",
        "type": "dropoff",
        "driver_id": "D1",
        "stop": 2,
        "arrive_minute": 28,
        "depart_minute": 30,
        "people": 4,
        "wheelchair_users": 1,
        "shelter_id": "S1",
        "household_ids": ["H1", "H2"],
    }
    split = [f["properties"] for f in _features(collection, "stop") if f["properties"].get("household_id") == "H4"]
    assert [(p["part"], p["parts"], p["driver_id"]) for p in split] == [(1, 2, "D1"), (2, 2, "D2")]


def test_road_path_is_used_when_present() -> None:
    """A leg with road coordinates is drawn along them, not as a straight line."""
    problem = example_problem()
    plan = example_plan(problem)
    path = ((8.0, 50.0), (8.001, 50.001), (8.002, 50.0))
    route = dataclasses.replace(plan.routes[1], legs=(Leg(7, 900.04, path), plan.routes[1].legs[1]))
    plan = dataclasses.replace(plan, routes=(plan.routes[0], route))
    leg = next(f for f in _features(plan_to_geojson(plan, problem), "leg") if f["properties"]["driver_id"] == "D2")
    assert leg["geometry"]["coordinates"] == [list(c) for c in path]
    assert leg["properties"]["road_path"] is True
    assert leg["properties"]["meters"] == 900.0


def test_shelters_and_unserved() -> None:
    """Shelters carry capacity, access and people assigned; unserved households their reason and code."""
    problem = example_problem()
    collection = plan_to_geojson(example_plan(problem), problem)
    shelters = {f["properties"]["shelter_id"]: f["properties"] for f in _features(collection, "shelter")}
    assert shelters["S1"] == {
        "feature": "shelter",
        "shelter_id": "S1",
        "name": "North school",
        "capacity": 10,
        "wheelchair_accessible": True,
        "pets_allowed": False,
        "pet_capacity": None,
        "medical_support": False,
        "people_assigned": 9,
    }
    assert shelters["S2"]["people_assigned"] == 0 and shelters["S2"]["wheelchair_accessible"] is False
    [unserved] = _features(collection, "unserved")
    h3 = problem.household("H3")
    assert unserved["geometry"]["coordinates"] == [h3.lon, h3.lat]
    assert unserved["properties"]["household_id"] == "H3"
    assert unserved["properties"]["code"] == "not_enough_cars"
    assert unserved["properties"]["reason"] == "no car left with a wheelchair space before the deadline"


def test_no_personal_data_and_valid_json() -> None:
    """Names, phones, needs and languages of households and drivers never appear; the result dumps to JSON."""
    problem = example_problem_with_personal_data()
    text = json.dumps(plan_to_geojson(example_plan(problem), problem))
    for secret in PERSONAL_DATA:
        assert secret not in text
    assert "phone" not in text and '"name": "North school"' in text


def _assert_valid_geojson(collection: dict[str, Any]) -> None:
    """Every geometry reads in shapely and is valid; no LineString has fewer than two distinct positions."""
    for feature in collection["features"]:
        geometry = feature["geometry"]
        if geometry["type"] == "LineString":
            assert len(geometry["coordinates"]) >= 2, feature["properties"]
        shape = shapely.geometry.shape(geometry)
        assert shape.is_valid, (feature["properties"], shapely.validation.explain_validity(shape))


def test_zero_length_legs_are_points_and_every_geometry_is_valid() -> None:
    """A leg between two stops at one place (one road position, or none) is a Point, never a short LineString."""
    problem = example_problem()
    plan = example_plan(problem)
    here = (8.0, 50.0)
    route = dataclasses.replace(plan.routes[1], legs=(Leg(0, 0.0, (here,)), Leg(0, 0.0, (here, here))))
    plan = dataclasses.replace(plan, routes=(plan.routes[0], route))
    collection = plan_to_geojson(plan, problem)
    legs = [f for f in _features(collection, "leg") if f["properties"]["driver_id"] == "D2"]
    assert [f["geometry"] for f in legs] == [{"type": "Point", "coordinates": list(here)}] * 2
    _assert_valid_geojson(collection)
    _assert_valid_geojson(plan_to_geojson(example_plan(problem), problem))
