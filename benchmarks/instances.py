"""Random evacuation instances on a real road map, as scenario dicts (the scenario file format), and back.

``random_instance`` makes the benchmark sizes and the demo scenario: households at random road nodes of
the map's core, one car per five households, shelters with about 1.2 times the room needed. Names and
phone numbers are synthetic. The same graph and seed always give the same instance.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from matcher.problem import Problem
from matcher.roads.graph import RoadGraph
from matcher.scenario import problem_on_graph

#: The map's core: the 2nd to 98th percentile of node positions (extracts keep long ways far outside).
CORE_PERCENTILES = (2.0, 98.0)
WHEELCHAIR_SHARE = 0.1
SHELTER_ROOM_FACTOR = 1.2
ALERT_START = "2026-09-14T18:00:00+02:00"


def core_nodes(graph: RoadGraph) -> np.ndarray:
    """Indices of the graph's nodes inside the core box of the map."""
    lo, hi = CORE_PERCENTILES
    lon_lo, lon_hi = np.percentile(graph.lon, [lo, hi])
    lat_lo, lat_hi = np.percentile(graph.lat, [lo, hi])
    inside = (graph.lon >= lon_lo) & (graph.lon <= lon_hi) & (graph.lat >= lat_lo) & (graph.lat <= lat_hi)
    return np.flatnonzero(inside)


#: ``far_shelters``: homes and car starts in this inner share of the core (by distance from its centre),
#: shelters in this outer share.
FAR_INNER_SHARE = 0.5
FAR_OUTER_SHARE = 0.1


def _far_split(graph: RoadGraph, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The core's inner nodes (homes, cars) and its outermost nodes (shelters), by distance from its centre.

    Distances in degrees scaled by the latitude's cosine: enough to rank nodes of one town.
    """
    lon, lat = graph.lon[pool], graph.lat[pool]
    c_lon, c_lat = float(np.median(lon)), float(np.median(lat))
    dist = np.hypot((lon - c_lon) * np.cos(np.radians(c_lat)), lat - c_lat)
    order = pool[np.argsort(dist, kind="stable")]
    inner = order[: int(FAR_INNER_SHARE * len(order))]
    outer = order[len(order) - int(FAR_OUTER_SHARE * len(order)):]
    return inner, outer


def _exactly(rng: np.random.Generator, n: int, share: float, at_least: int = 0) -> np.ndarray:
    """A bool mask with ``round(share * n)`` (at least ``at_least``, at most n) random true entries."""
    k = min(n, max(at_least, round(share * n)))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def _capacities(rng: np.random.Generator, total: int, n: int) -> list[int]:
    """``n`` uneven capacities (0.5x to 1.5x the mean) summing to ``total``."""
    weights = rng.uniform(0.5, 1.5, size=n)
    caps = np.floor(weights / weights.sum() * total).astype(int)
    caps[np.argsort(-weights)[: total - int(caps.sum())]] += 1
    return [int(c) for c in caps]


def random_instance(
    graph: RoadGraph,
    households: int,
    cars: int | None = None,
    shelters: int = 5,
    seed: int = 0,
    *,
    name: str | None = None,
    map_path: str | os.PathLike[str] | None = None,
    deadline_minutes: float = 180.0,
    needs: bool = False,
    far_shelters: bool = False,
) -> dict[str, Any]:
    """A scenario dict: households of 1-4 people (10% with a wheelchair user), priorities 1-3.

    ``cars`` defaults to one per five households (4 seats; 10% with one wheelchair space, at least one);
    shelters get capacities summing to 1.2 times the people, and at least two are wheelchair accessible.
    Every place is a distinct road node of the map's core, so it snaps to that node. ``map_path`` is
    written as the scenario's ``map``. With ``needs`` the records get the demo's realistic mix
    (``scenarios.demo.needs_mix``: pets in about a third of households, a few medical needs, two
    languages); 85% of drivers take pets, two shelters take pets (room for 60% of the pets each) and two
    have medical support. The records without ``needs`` are the same as with it. With ``far_shelters`` the
    homes and car starts lie in the inner half of the core and the shelters in its outermost tenth (an
    evacuation out of town: every trip is long; pair it with a longer ``deadline_minutes``, e.g. 240).
    """
    rng = np.random.default_rng(seed)
    cars = max(1, households // 5) if cars is None else cars
    pool = core_nodes(graph)
    if len(pool) < households + cars + shelters:
        raise ValueError(f"the map's core has {len(pool)} road nodes, fewer than the {households + cars + shelters} "
                         "places asked for")
    if far_shelters:
        inner, outer = _far_split(graph, pool)
        if len(inner) < households + cars or len(outer) < shelters:
            raise ValueError(f"the map's core has {len(inner)} inner and {len(outer)} outer road nodes, fewer than "
                             f"the {households + cars} homes and cars and {shelters} shelters asked for")
        nodes = np.concatenate([rng.choice(inner, size=households + cars, replace=False),
                                rng.choice(outer, size=shelters, replace=False)])
    else:
        nodes = rng.choice(pool, size=households + cars + shelters, replace=False)
    home, start, site = np.split(nodes, [households, households + cars])

    def where(node: int) -> dict[str, float]:
        return {"lat": round(float(graph.lat[node]), 7), "lon": round(float(graph.lon[node]), 7)}

    people = rng.integers(1, 5, size=households)
    wheel = _exactly(rng, households, WHEELCHAIR_SHARE)
    priority = rng.integers(1, 4, size=households)
    hh = [
        {"id": f"H{i + 1}", "name": f"Household {i + 1}", "phone": f"+358 40 000 {i + 1:04d}", **where(node),
         "people": int(people[i]), "wheelchair_users": int(wheel[i]), "priority": int(priority[i]),
         "ready_from_minute": 0}
        for i, node in enumerate(home)
    ]
    wheel_car = _exactly(rng, cars, WHEELCHAIR_SHARE, at_least=1)
    dd = [
        {"id": f"D{i + 1}", "name": f"Driver {i + 1}", "phone": f"+358 50 000 {i + 1:04d}", **where(node),
         "seats": 4, "wheelchair_spaces": int(wheel_car[i]), "available_from_minute": 0,
         "available_until_minute": deadline_minutes}
        for i, node in enumerate(start)
    ]
    room = _capacities(rng, round(SHELTER_ROOM_FACTOR * int(people.sum())), shelters)
    accessible = _exactly(rng, shelters, 0.5, at_least=min(2, shelters))
    ss = [
        {"id": f"S{i + 1}", "name": f"Shelter {i + 1}", **where(node), "capacity": room[i],
         "wheelchair_accessible": bool(accessible[i])}
        for i, node in enumerate(site)
    ]
    if needs:
        add_needs(hh, dd, ss, seed)
    scenario: dict[str, Any] = {"name": name or f"Random {households} households (seed {seed})"}
    if map_path is not None:
        scenario["map"] = str(map_path)
    scenario.update(
        alert={"start": ALERT_START, "deadline_minutes": deadline_minutes, "closed_ways": [], "flood_zones": []},
        service_minutes={"pickup": 3, "dropoff": 2},
        shelters=ss,
        drivers=dd,
        households=hh,
    )
    return scenario


def add_needs(households: list[dict[str, Any]], drivers: list[dict[str, Any]], shelters: list[dict[str, Any]],
              seed: int) -> None:
    """Give the records a realistic needs mix in place (its own random stream: the base records stay as they are)."""
    from scenarios.demo import needs_mix  # the demo's mix, so the benchmark and the drills share it

    rng = np.random.default_rng([seed, 9])
    for h in households:
        h.update(needs_mix(rng, int(h["people"])))
    for d in drivers:
        d["takes_pets"] = bool(rng.random() >= 0.15)
        d["languages"] = ["fi", "sv"] if rng.random() < 0.3 else ["fi"]
    pets = sum(int(h.get("pets", 0)) for h in households)
    for k, s in enumerate(shelters):
        s["pets_allowed"] = k in (0, 1)
        s["pet_capacity"] = int(np.ceil(0.6 * pets)) if k in (0, 1) else 0
        s["medical_support"] = k in (1, 2)
        s["wheelchair_accessible"] = s["wheelchair_accessible"] or k == 1
        s["languages"] = ["fi", "sv"]


def strip_needs(scenario: dict[str, Any]) -> dict[str, Any]:
    """The same scenario without needs, pets, languages or what cars and shelters take: the rules have nothing
    to act on (the benchmark's "without the needs rules")."""
    out = dict(scenario)
    out["households"] = [{k: v for k, v in h.items() if k not in ("needs", "pets", "language")}
                         for h in scenario["households"]]
    out["drivers"] = [{k: v for k, v in d.items() if k not in ("takes_pets", "languages")}
                      for d in scenario["drivers"]]
    out["shelters"] = [{k: v for k, v in s.items() if k not in ("pets_allowed", "pet_capacity", "medical_support",
                                                                 "languages")} for s in scenario["shelters"]]
    return out


def write_scenario(scenario: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the scenario as YAML; its ``map`` becomes relative to the file's folder, as the format wants."""
    out = Path(path)
    data = dict(scenario)
    if "map" in data:
        data["map"] = os.path.relpath(Path(data["map"]).resolve(), out.resolve().parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return out


def build_problem(scenario: dict[str, Any], graph: RoadGraph) -> Problem:
    """The scenario's problem with travel times on ``graph`` (closures applied), through the project's loader."""
    return problem_on_graph(scenario, graph)[0]


def with_rules(problem: Problem, **rules: Any) -> Problem:
    """The same problem (same matrix) under other rules, e.g. ``pickup_targets=()``."""
    return dataclasses.replace(problem, rules=dataclasses.replace(problem.rules, **rules))
