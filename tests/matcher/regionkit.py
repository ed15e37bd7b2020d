"""Shared pieces for the regional tests: a zoned random scenario on the bundled Kotka map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.instances import random_instance
from matcher.roads.graph import RoadGraph

ROOT = Path(__file__).parents[2]
KOTKA = ROOT / "data" / "kotka.osm.pbf"


def zoned_scenario(graph: RoadGraph, households: int = 90, cars: int = 18, shelters: int = 4, seed: int = 3,
                   zones: int = 3, deadline: float = 180.0) -> dict[str, Any]:
    """A random Kotka scenario whose households and drivers carry a ``zone`` by longitude band (west to east)."""
    data = random_instance(graph, households, cars, shelters, seed=seed, map_path=KOTKA, deadline_minutes=deadline)
    lons = np.array([h["lon"] for h in data["households"]])
    edges = np.quantile(lons, np.linspace(0, 1, zones + 1)[1:-1])
    for record in data["households"] + data["drivers"]:
        record["zone"] = f"Z{int(np.searchsorted(edges, record['lon'])) + 1}"
    return data
