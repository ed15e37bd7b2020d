"""A plan as a GeoJSON FeatureCollection for maps: legs, stops, shelters and unserved households, ids only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from matcher.plan import Plan, Route, Stop
from matcher.problem import Problem

# No names, phones, needs or languages leave through this module: a map gets shared widely, so ids only.


def _point(lat: float, lon: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _minutes(value: float) -> float:
    return round(value, 2)


def _stop_target(stop: Stop) -> str | None:
    return stop.household_id if stop.type == "pickup" else stop.shelter_id


def _route_features(route: Route, problem: Problem) -> list[dict[str, Any]]:
    """One LineString per leg, then one Point per stop, in driving order."""
    features: list[dict[str, Any]] = []
    known = {d.id: d for d in problem.drivers}
    start = known.get(route.driver_id)
    previous: list[float] | None = None if start is None else [start.lon, start.lat]
    for i, (stop, leg) in enumerate(zip(route.stops, route.legs, strict=False)):
        here = [stop.lon, stop.lat]
        # A table-based plan has no road path: draw a straight line between the places, and say so.
        road = bool(leg.polyline)
        straight = [previous, here] if previous is not None else [here, here]
        line = leg.lonlat.tolist() if road else straight
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {
                    "feature": "leg",
                    "driver_id": route.driver_id,
                    "leg": i,
                    "minutes": _minutes(leg.minutes),
                    "meters": None if leg.meters is None else round(leg.meters, 1),
                    "road_path": road,
                    "to_type": stop.type,
                    "to_id": _stop_target(stop),
                },
            }
        )
        previous = here
    for i, stop in enumerate(route.stops):
        properties: dict[str, Any] = {
            "feature": "stop",
            "type": stop.type,
            "driver_id": route.driver_id,
            "stop": i,
            "arrive_minute": _minutes(stop.arrive_minute),
            "depart_minute": _minutes(stop.depart_minute),
            "people": stop.people,
            "wheelchair_users": stop.wheelchair_users,
        }
        if stop.type == "pickup":
            properties["household_id"] = stop.household_id
            if stop.parts is not None and stop.parts > 1:
                properties.update(part=stop.part, parts=stop.parts)
        else:
            properties["shelter_id"] = stop.shelter_id
            properties["household_ids"] = list(stop.household_ids)
        features.append(_point(stop.lat, stop.lon, properties))
    return features


def plan_to_geojson(plan: Plan, problem: Problem) -> dict[str, Any]:
    """The plan as a GeoJSON FeatureCollection (coordinates ``[lon, lat]``), JSON-serialisable as is.

    Every feature's ``properties.feature`` is ``leg``, ``stop``, ``shelter`` or ``unserved``. Legs without a road
    path (times from a table) are straight lines with ``road_path: false``. Times are minutes after the alert
    start. Unserved ids the problem does not know are left out (there is no place to draw them).
    """
    features: list[dict[str, Any]] = []
    for route in plan.routes:
        features += _route_features(route, problem)
    assigned: Counter[str] = Counter()
    for route in plan.routes:
        for stop in route.stops:
            if stop.type == "dropoff" and stop.shelter_id:
                assigned[stop.shelter_id] += stop.people
    for shelter in problem.shelters:
        properties = {
            "feature": "shelter",
            "shelter_id": shelter.id,
            "name": shelter.name,
            "capacity": shelter.capacity,
            "wheelchair_accessible": shelter.wheelchair_accessible,
            "people_assigned": assigned[shelter.id],
        }
        features.append(_point(shelter.lat, shelter.lon, properties))
    households = {h.id: h for h in problem.households}
    for unserved in plan.unserved:
        household = households.get(unserved.household_id)
        if household is None:
            continue
        properties = {
            "feature": "unserved",
            "household_id": unserved.household_id,
            "people": household.people,
            "wheelchair_users": household.wheelchair_users,
            "code": unserved.code,
            "reason": unserved.reason,
        }
        features.append(_point(household.lat, household.lon, properties))
    return {
        "type": "FeatureCollection",
        "scenario": plan.scenario,
        "metrics": plan.metrics.to_dict(),
        "features": features,
    }
