"""What every replication of a drill shares: the road graph, the map at each stage of the timeline, the base plan.

A *stage* is the scenario after the first ``k`` map-changing events (closures, flood growth, new requests).
The timeline is fixed, so stage problems and the base plan are the same in every replication: a worker
builds them once and keeps them for all the replications it runs.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.check import assert_plan_valid
from matcher.errors import InputError
from matcher.plan import Plan
from matcher.region import Region, RegionParams, plan_is_regional, region_from_dict, solve_region
from matcher.roads.closures import edge_closures
from matcher.roads.load import load_road_graph
from matcher.scenario import Scenario, problem_from_dict, resolve_map
from matcher.settings import Settings, get_settings
from matcher.solver import solve
from matcher.travel import LocationRef
from scenarios.osmtags import edge_classes
from scenarios.spec import MAP_ACTIONS, DrillSpec, Event

Split = npt.NDArray[np.float64]


def stage_data(scenario: dict[str, Any], events: list[Event] | tuple[Event, ...]) -> dict[str, Any]:
    """The scenario mapping with these map events applied (closed ways, flood zones, new households)."""
    data = copy.deepcopy(scenario)
    alert = data.setdefault("alert", {})
    alert["closed_ways"] = list(alert.get("closed_ways") or [])
    alert["flood_zones"] = list(alert.get("flood_zones") or [])
    data["households"] = list(data.get("households") or [])
    for event in events:
        if event.action == "close_roads":
            alert["closed_ways"].extend(w for w in event.target if w not in alert["closed_ways"])
        elif event.action == "flood_zone":
            alert["flood_zones"].append(event.target)
        elif event.action == "new_request":
            data["households"].append(dict(event.target))
    return data


class DrillContext:
    """The drill's road graph, stage problems (built on demand, then kept) and the base plan."""

    def __init__(self, spec: DrillSpec, map_path: Path | None = None, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or get_settings()
        self.map_path = map_path or resolve_map(spec.scenario, spec.base)
        self.graph = load_road_graph(self.map_path, self.settings.cache_dir)
        #: OSM way id -> street name, for the words of the reports.
        self.street_names = self.graph.way_names()
        self.map_events = [e for e in spec.timeline if e.action in MAP_ACTIONS]
        self._check_ways()
        self._stages: dict[int, Scenario] = {}
        self._regions: dict[int, Region] = {}
        self._splits: dict[tuple[int, LocationRef, LocationRef], tuple[float, Split]] = {}
        classes = edge_classes(self.graph)
        self.sigmas = np.array(sorted({spec.randomness.sigma(c) for c in classes} | {spec.randomness.sigma("default")}))
        self._edge_group = np.searchsorted(self.sigmas, [spec.randomness.sigma(c) for c in classes])
        self._default_group = int(np.searchsorted(self.sigmas, spec.randomness.sigma("default")))
        for k in range(self.stage_count):  # a tenth of a second each; a re-plan should not pay for it
            self.stage(k)

    def _check_ways(self) -> None:
        known = set(self.graph.edge_way.tolist())
        for event in self.map_events:
            unknown = [w for w in event.target if w not in known] if event.action == "close_roads" else []
            if unknown:
                raise InputError("drill", f"timeline[{event.number}].close_roads",
                                 f"way {unknown[0]} is not a drivable road of the map {self.map_path.name}")

    @property
    def stage_count(self) -> int:
        return len(self.map_events) + 1

    def stage(self, k: int) -> Scenario:
        """The scenario after the first ``k`` map events: its problem, graph and closures."""
        if k not in self._stages:
            data = stage_data(self.spec.scenario, self.map_events[:k])
            data["map"] = str(self.map_path)
            if self.regional:
                # A regional drill: the bounded table of ``matcher.region`` (a full one would not fit), zones kept.
                region = region_from_dict(data, self.graph, params=self.region_params, settings=self.settings)
                self._regions[k] = region
                closures = region.closures if region.closures is not None else edge_closures(self.graph, (), ())
                self._stages[k] = Scenario(None, self.map_path, region.problem, self.graph, closures, data)
            else:
                self._stages[k] = problem_from_dict(data, None, self.settings, graph=self.graph)
        return self._stages[k]

    def region(self, k: int) -> Region:
        """The regional problem of stage ``k`` (a regional drill only): zones and bounded table after k map events."""
        self.stage(k)
        return self._regions[k]

    @functools.cached_property
    def regional(self) -> bool:
        """Whether the drill's plan is made by zones: households carry zones, or there are too many for one solve."""
        households = self.spec.scenario.get("households") or []
        zoned = any(isinstance(h, dict) and h.get("zone") for h in households)
        return plan_is_regional(len(households), zoned, self.settings)

    @property
    def region_params(self) -> RegionParams:
        return RegionParams(time_limit_seconds=self.spec.plan_time_limit_seconds, seed=self.spec.seed,
                            zone_households=self.settings.zone_households)

    @property
    def final_stage(self) -> Scenario:
        return self.stage(self.stage_count - 1)

    @functools.cached_property
    def base_plan(self) -> Plan:
        """The plan for the scenario as registered, before anything happens; checked on the real roads."""
        scenario = self.stage(0)
        if self.regional:
            plan = solve_region(self._regions[0], self.region_params)
        else:
            plan = solve(scenario.problem, self.spec.params(self.spec.plan_time_limit_seconds))
        assert_plan_valid(scenario.problem, plan, scenario.graph, scenario.closed_mask)
        return plan

    @functools.cached_property
    def _steps(self) -> dict[tuple[float, float, float, float], tuple[int, float]]:
        """Each road step (lon, lat -> lon, lat) of the graph: its noise group and seconds."""
        g = self.graph
        nodes, seconds, edge = g.geometry_nodes, g.segment_seconds, g.geometry_edge
        lon, lat = g.lon.tolist(), g.lat.tolist()
        steps: dict[tuple[float, float, float, float], tuple[int, float]] = {}
        for p in range(len(nodes) - 1):
            if edge[p] == edge[p + 1]:
                a, b = int(nodes[p]), int(nodes[p + 1])
                steps.setdefault((lon[a], lat[a], lon[b], lat[b]), (int(self._edge_group[edge[p]]), float(seconds[p])))
        return steps

    def leg_split(self, k: int, origin: LocationRef, target: LocationRef) -> tuple[float, Split]:
        """Planned minutes from ``origin`` to ``target`` at stage ``k``, and their share per noise group."""
        key = (k, origin, target)
        if key not in self._splits:
            travel = self.stage(k).problem.travel
            i, j = travel.index(origin.kind, origin.id), travel.index(target.kind, target.id)
            minutes = float(travel.minutes[i, j])
            split = np.zeros(len(self.sigmas))
            if math.isfinite(minutes) and minutes > 0:
                coords = travel.leg(i, j).coordinates
                for p, q in itertools.pairwise(coords):
                    group, seconds = self._steps.get((p[0], p[1], q[0], q[1]), (self._default_group, 0.0))
                    split[group] += seconds
                total = split.sum()
                # Shares of the graph's seconds, scaled to the matrix minutes (snapped ends make them differ a little).
                if total > 0:
                    split *= minutes / total
                else:
                    split[self._default_group] = minutes
            self._splits[key] = (minutes, split)
        return self._splits[key]
