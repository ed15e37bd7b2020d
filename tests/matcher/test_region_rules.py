"""Zoned solves honour the scenario's rules and closed streets as a single solve does: a zone solve is a
single solve of part of the problem, so it gets the same rules, meeting points and reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from matcher.check import assert_plan_valid
from matcher.plan import Plan
from matcher.problem import Rules
from matcher.region import Region, RegionParams, region_from_dict, solve_region
from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph
from matcher.roads.snap import snap_points
from tests.matcher.regionkit import KOTKA, zoned_scenario

PARAMS = RegionParams(time_limit_seconds=2.0, seed=4)


@pytest.fixture(scope="module")
def kotka() -> RoadGraph:
    return parse_road_graph(KOTKA)


def _solved(region: Region, graph: RoadGraph) -> Plan:
    """Solve by zones and check the plan on the roads, closed steps included."""
    plan = solve_region(region, PARAMS)
    assert_plan_valid(region.problem, plan, graph, region.closures.mask if region.closures else None)
    return plan


def _home_ways(graph: RoadGraph, household: dict[str, Any]) -> list[int]:
    """The OSM ways through the road node nearest a household's door."""
    node = int(snap_points(graph, ["h"], [household["lat"]], [household["lon"]]).node[0])
    edges = graph.geometry_edge[np.flatnonzero(graph.geometry_nodes == node)]
    return sorted({int(graph.edge_way[e]) for e in edges})


def test_zoned_solve_keeps_the_scenarios_rules(kotka: RoadGraph) -> None:
    """Four people and two dogs, every car with four seats: only ``seats_per_pet: 0`` (pets on laps, the
    scenario's rule) lets a car take them. One shelter takes pets, the others not; the checker holds the pet
    rules on the zoned plan."""
    data = zoned_scenario(kotka)
    data["rules"] = {"seats_per_pet": 0, "pickup_targets": {1: 20}, "medical_max_ride_minutes": 40}
    for d in data["drivers"]:
        d["seats"] = 4
    data["households"][0].update(people=4, wheelchair_users=0, pets=2)
    for k, s in enumerate(data["shelters"]):
        s.update(pets_allowed=k == 0, capacity=200)
    region = region_from_dict(data, kotka, params=PARAMS)
    assert region.problem.rules == Rules(seats_per_pet=0, medical_max_ride_minutes=40, pickup_targets=((1, 20),))
    plan = _solved(region, kotka)
    h1 = data["households"][0]["id"]
    assert h1 not in {u.household_id for u in plan.unserved}
    (drop,) = [s for r in plan.routes for s in r.stops if s.type == "dropoff" and h1 in s.household_ids]
    assert drop.shelter_id == data["shelters"][0]["id"]
    assert plan.metrics.pickup_targets_total > 0  # the scenario's targets, priority 1 only


def test_zoned_solve_meets_a_closed_street_at_its_corner(kotka: RoadGraph) -> None:
    """A household whose streets are all closed is picked up at a meeting point within its walk, named and
    checked, as in a single solve; the same household unable to walk is cut off with what to do."""
    data = zoned_scenario(kotka)
    h = data["households"][1]
    data["alert"]["closed_ways"] = _home_ways(kotka, h)
    region = region_from_dict(data, kotka, params=PARAMS)
    meet = region.problem.meeting_points[h["id"]]
    assert 0 < meet.walk_meters <= 250 and "road point" not in meet.name
    plan = _solved(region, kotka)
    stops = [s for r in plan.routes for s in r.stops if s.household_id == h["id"]]
    assert stops and all(s.meeting_point == meet and (s.lat, s.lon) == (meet.lat, meet.lon) for s in stops)
    h["max_walk_meters"] = 0
    cut = region_from_dict(data, kotka, params=PARAMS)
    assert h["id"] not in cut.problem.meeting_points
    plan = _solved(cut, kotka)
    (reason,) = [u.reason for u in plan.unserved if u.household_id == h["id"]]
    assert reason.startswith("its street is closed and it cannot walk to an open road")
