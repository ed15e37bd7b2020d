"""Drill files: the solver's scenario format plus a ``drill:`` block (timeline, randomness, runs, seed), validated.

Every bad field raises ``InputError("drill", "<path.to.field>", ...)`` so a coordinator can find it in the file.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from matcher.errors import InputError
from matcher.problem import Household
from matcher.roads.closures import flood_geometry
from matcher.roads.load import DEFAULT_KMH
from matcher.scenario import read_scenario_file
from matcher.solver import SolveParams
from scenarios.freshness import DEFAULT_DAYS, check_confirmed

#: Timeline actions; each timeline entry has ``minute`` and exactly one of these keys.
ACTIONS = ("close_roads", "flood_zone", "driver_drops_out", "no_show", "not_ready", "new_request", "shelter_fills")
#: Actions that change the map or the list of places, so the travel times are rebuilt.
MAP_ACTIONS = frozenset({"close_roads", "flood_zone", "new_request"})
#: Road classes the noise can be given for: OSM highway values the map loader drives on, and ``default``.
ROAD_CLASSES = frozenset(DEFAULT_KMH) | {"default"}


def _fail(name: str, message: str) -> InputError:
    return InputError("drill", name, message)


def _number(value: Any, name: str, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _fail(name, f"{value!r} is not a number")
    if not low <= value <= high:
        raise _fail(name, f"{value} is not between {low:g} and {high:g}")
    return float(value)


def _whole(value: Any, name: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(name, f"{value!r} is not a whole number >= {low}")
    return value


def circle_zone(lat: float, lon: float, radius_m: float, points: int = 24) -> dict[str, Any]:
    """A GeoJSON polygon approximating a circle: a flood zone written as centre and radius."""
    dlat = radius_m / 111_320.0
    dlon = dlat / math.cos(math.radians(lat))
    ring = [[round(lon + dlon * math.cos(2 * math.pi * k / points), 7),
             round(lat + dlat * math.sin(2 * math.pi * k / points), 7)] for k in range(points)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@dataclass(frozen=True)
class Event:
    """One timeline entry: at ``minute``, ``action`` happens to ``target`` (ways, zone, id or record)."""

    minute: float
    action: str
    target: Any
    ready_minute: float | None = None
    capacity: int | None = None
    note: str = ""
    #: position in the file's timeline, for error messages
    number: int = 0

    def describe(self) -> str:
        """The event in words, for the report and the run log."""
        words = {
            "close_roads": lambda: f"roads closed (OSM ways {', '.join(map(str, self.target))})",
            "flood_zone": lambda: "the flood zone grows",
            "driver_drops_out": lambda: f"driver {self.target} drops out",
            "no_show": lambda: f"household {self.target} is not at home any more",
            "not_ready": lambda: f"household {self.target} is not ready until minute {self.ready_minute:g}",
            "new_request": lambda: f"new request from household {self.target['id']}",
            "shelter_fills": lambda: f"shelter {self.target} is full at {self.capacity} people",
        }[self.action]()
        return f"{words}: {self.note}" if self.note else words


@dataclass(frozen=True)
class Randomness:
    """What varies between replications; ``travel_noise`` maps a road class to a lognormal sigma."""

    no_show_probability: float = 0.0
    dropout_probability: float = 0.0
    dropout_window: tuple[float, float] = (0.0, 90.0)
    late_probability: float = 0.0
    late_mean_minutes: float = 15.0
    travel_noise: Mapping[str, float] = field(default_factory=lambda: {"default": 0.0})

    def sigma(self, road_class: str) -> float:
        return float(self.travel_noise.get(road_class, self.travel_noise.get("default", 0.0)))


@dataclass(frozen=True)
class DrillSpec:
    """A validated drill: the scenario data (without ``drill``), where relative paths start, and the drill block."""

    name: str
    scenario: dict[str, Any]
    base: Path | None
    timeline: tuple[Event, ...]
    randomness: Randomness
    runs: int = 20
    seed: int = 0
    date: str | None = None
    plan_time_limit_seconds: float = 2.0
    replan_time_limit_seconds: float = 0.2
    advice_time_limit_seconds: float = 1.0
    #: The first plan and the advice's solves stop here whatever work is left: far past their limits, so a busy
    #: machine gives the same report. Re-plans keep the service's own stop (they rehearse what it would do).
    safety_stop_seconds: float = 60.0
    path: Path | None = None
    #: Records not confirmed (``confirmed_at``) within this many days of the drill date are listed as stale.
    freshness_days: int = DEFAULT_DAYS

    @property
    def deadline(self) -> float:
        return float(self.scenario["alert"]["deadline_minutes"])

    def params(self, time_limit_seconds: float, improve: bool = True) -> SolveParams:
        """Solver parameters for the drill's solves and re-plans: its seed, and its safety stop instead of the
        service's, counted in this process's CPU seconds so that a busy machine does not move it."""
        return SolveParams(time_limit_seconds=time_limit_seconds, seed=self.seed, improve=improve,
                           safety_stop_seconds=self.safety_stop_seconds, safety_clock="cpu")


def _ids(data: Mapping[str, Any], key: str) -> set[str]:
    return {str(r.get("id")) for r in data.get(key) or [] if isinstance(r, dict)}


def _zone(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, dict) and {"lat", "lon", "radius_m"} <= value.keys():
        zone = circle_zone(_number(value["lat"], f"{name}.lat", -90, 90),
                           _number(value["lon"], f"{name}.lon", -180, 180),
                           _number(value["radius_m"], f"{name}.radius_m", 1, 100_000))
    elif isinstance(value, dict):
        zone = value
    else:
        raise _fail(name, "must be a GeoJSON Polygon or {lat, lon, radius_m}")
    try:
        flood_geometry([zone])
    except InputError as exc:
        raise _fail(name, exc.message.replace("zone 1 ", "")) from None
    return zone


def _household(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict) or "id" not in value:
        raise _fail(name, "must be a household record with at least id, lat, lon and people")
    allowed = {f.name for f in fields(Household)}
    values = {k: v for k, v in value.items() if k in allowed}
    values["id"] = str(values["id"])
    if "needs" in values and isinstance(values["needs"], list):
        values["needs"] = tuple(values["needs"])
    try:
        Household(**values)
    except InputError as exc:
        raise _fail(f"{name}.{exc.field}", exc.message) from None
    except TypeError as exc:
        raise _fail(name, str(exc)) from None
    return dict(value, id=values["id"])


_Make = Callable[..., Event]


def _close_roads(value: Any, where: str, make: _Make) -> Event:
    ways = value if isinstance(value, list) else [value]
    if not ways or any(isinstance(w, bool) or not isinstance(w, int) for w in ways):
        raise _fail(where, "must be an OSM way id or a list of them")
    return make(tuple(ways))


def _new_request(value: Any, where: str, make: _Make, households: set[str]) -> Event:
    record = _household(value, where)
    if record["id"] in households:
        raise _fail(f"{where}.id", f"household {record['id']} already exists")
    households.add(record["id"])
    return make(record)


def _shelter_fills(target: str, item: dict[str, Any], name: str, make: _Make, data: Mapping[str, Any]) -> Event:
    if target not in _ids(data, "shelters"):
        raise _fail(f"{name}.shelter_fills", f"unknown shelter {target!r}")
    if "capacity" not in item:
        raise _fail(f"{name}.capacity", "is required: the people the shelter holds from now on")
    return make(target, capacity=_whole(item["capacity"], f"{name}.capacity"))


def _not_ready(target: str, item: dict[str, Any], name: str, make: _Make, minute: float) -> Event:
    if "ready_minute" not in item:
        raise _fail(f"{name}.ready_minute", "is required: the minute the household will be ready")
    return make(target, ready_minute=_number(item["ready_minute"], f"{name}.ready_minute", minute))


def _event(item: Any, number: int, data: Mapping[str, Any], households: set[str], deadline: float) -> Event:
    name = f"timeline[{number}]"
    if not isinstance(item, dict):
        raise _fail(name, "must be a mapping like {minute: 20, close_roads: [123456]}")
    actions = [a for a in ACTIONS if a in item]
    if len(actions) != 1:
        raise _fail(name, f"needs exactly one of {', '.join(ACTIONS)} (found {', '.join(actions) or 'none'})")
    if "minute" not in item:
        raise _fail(f"{name}.minute", "is required")
    minute = _number(item["minute"], f"{name}.minute", 0, deadline)
    action = actions[0]
    value, where = item[action], f"{name}.{action}"
    make = functools.partial(Event, minute, action, note=str(item.get("note") or ""), number=number)
    if action == "close_roads":
        return _close_roads(value, where, make)
    if action == "flood_zone":
        return make(_zone(value, where))
    if action == "new_request":
        return _new_request(value, where, make, households)
    target = str(value)
    if action == "driver_drops_out" and target not in _ids(data, "drivers"):
        raise _fail(where, f"unknown driver {target!r}")
    if action in ("no_show", "not_ready") and target not in households:
        raise _fail(where, f"unknown household {target!r}")
    if action == "shelter_fills":
        return _shelter_fills(target, item, name, make, data)
    if action == "not_ready":
        return _not_ready(target, item, name, make, minute)
    return make(target)


def _randomness(raw: Any) -> Randomness:
    if raw is None:
        return Randomness()
    if not isinstance(raw, dict):
        raise _fail("randomness", "must be a mapping")
    late = raw.get("late_readiness") or {}
    if not isinstance(late, dict):
        raise _fail("randomness.late_readiness", "must be {probability: 0.1, mean_minutes: 15}")
    window = raw.get("dropout_window_minutes", [0, 90])
    if not isinstance(window, list) or len(window) != 2:
        raise _fail("randomness.dropout_window_minutes", "must be [first minute, last minute]")
    low = _number(window[0], "randomness.dropout_window_minutes[0]")
    high = _number(window[1], "randomness.dropout_window_minutes[1]", low)
    noise = raw.get("travel_noise", {"default": 0.0})
    if isinstance(noise, (int, float)) and not isinstance(noise, bool):
        noise = {"default": noise}
    if not isinstance(noise, dict):
        raise _fail("randomness.travel_noise", "must be a sigma or {road class: sigma}, e.g. {default: 0.15}")
    sigmas: dict[str, float] = {}
    for road_class, sigma in noise.items():
        if road_class not in ROAD_CLASSES:
            raise _fail(f"randomness.travel_noise.{road_class}",
                        f"unknown road class; use default or one of {', '.join(sorted(DEFAULT_KMH))}")
        sigmas[str(road_class)] = _number(sigma, f"randomness.travel_noise.{road_class}", 0, 2)
    return Randomness(
        no_show_probability=_number(raw.get("no_show_probability", 0.0), "randomness.no_show_probability", 0, 1),
        dropout_probability=_number(raw.get("dropout_probability", 0.0), "randomness.dropout_probability", 0, 1),
        dropout_window=(low, high),
        late_probability=_number(late.get("probability", 0.0), "randomness.late_readiness.probability", 0, 1),
        late_mean_minutes=_number(late.get("mean_minutes", 15.0), "randomness.late_readiness.mean_minutes", 0, 600),
        travel_noise=sigmas,
    )


def drill_from_dict(data: Mapping[str, Any], base: Path | None = None, path: Path | None = None) -> DrillSpec:
    """Validate a drill mapping (a scenario with a ``drill`` block); the scenario itself is checked when built."""
    block = data.get("drill")
    if not isinstance(block, dict):
        raise _fail("drill", "is required: a drill file is a scenario with a drill: block (timeline, runs, seed)")
    alert = data.get("alert")
    if not isinstance(alert, dict) or "deadline_minutes" not in alert:
        raise InputError("alert", "deadline_minutes", "is required")
    deadline = _number(alert["deadline_minutes"], "alert.deadline_minutes", 1)
    timeline = block.get("timeline") or []
    if not isinstance(timeline, list):
        raise _fail("timeline", "must be a list of events")
    households = _ids(data, "households")
    events = [_event(item, k, data, households, deadline) for k, item in enumerate(timeline)]
    date = block.get("date")
    if date is not None:
        try:
            date = dt.date.fromisoformat(str(date)).isoformat()
        except ValueError:
            raise _fail("date", f"{date!r} is not a date like 2026-10-01") from None
    scenario = copy.deepcopy({k: v for k, v in data.items() if k != "drill"})
    check_confirmed(scenario)
    return DrillSpec(
        name=str(block.get("name") or data.get("name") or "drill"),
        scenario=scenario,
        base=base,
        # A stable sort: events at one minute keep their file order.
        timeline=tuple(sorted(events, key=lambda e: e.minute)),
        randomness=_randomness(block.get("randomness")),
        runs=_whole(block.get("runs", 20), "runs", 1),
        seed=_whole(block.get("seed", 0), "seed"),
        date=date,
        plan_time_limit_seconds=_number(block.get("plan_time_limit_seconds", 2.0), "plan_time_limit_seconds",
                                        0.05, 600),
        replan_time_limit_seconds=_number(block.get("replan_time_limit_seconds", 0.2), "replan_time_limit_seconds",
                                          0.01, 60),
        advice_time_limit_seconds=_number(block.get("advice_time_limit_seconds", 1.0), "advice_time_limit_seconds",
                                          0.05, 600),
        safety_stop_seconds=_number(block.get("safety_stop_seconds", 60.0), "safety_stop_seconds", 1, 3600),
        path=path,
        freshness_days=_whole(block.get("freshness_days", DEFAULT_DAYS), "freshness_days", 1),
    )


def load_drill(path: str | Path) -> DrillSpec:
    """Read and validate a drill file (YAML or JSON)."""
    path = Path(path)
    data = read_scenario_file(path)
    return drill_from_dict(data, path.parent.resolve(), path)
