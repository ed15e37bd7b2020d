"""Make the bundled demo scenario on the Kotka map: ``python -m scenarios.demo`` rewrites kotka_storm.yaml.

The people are invented (names "Household 17", phones in a reserved-looking range); the places are
real road positions of the map, so every record snaps. Same seed, same file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from matcher.roads.load import load_road_graph

HERE = Path(__file__).parent
MAP = HERE.parent / "data" / "kotka.osm.pbf"
OUT = HERE / "kotka_storm.yaml"


def _circle(lon: float, lat: float, radius_m: float, points: int = 16) -> dict[str, Any]:
    """A GeoJSON polygon approximating a circle (flood zones are drawn by hand like this)."""
    dlat = radius_m / 111_320.0
    dlon = dlat / math.cos(math.radians(lat))
    angles = [2 * math.pi * k / points for k in range(points)]
    ring = [[round(lon + dlon * math.cos(a), 6), round(lat + dlat * math.sin(a), 6)] for a in angles]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


#: Share of households with each need in the demo and the drills: pets in about a third of households,
#: a few oxygen, power-dependent and dialysis users, two languages (Finnish and a Swedish-speaking minority).
NEED_SHARES: tuple[tuple[str, float], ...] = (
    ("oxygen", 0.03), ("power_dependent", 0.02), ("dialysis", 0.01), ("service_animal", 0.02),
    ("cannot_share", 0.02), ("hearing", 0.04), ("vision", 0.03), ("cognitive", 0.04), ("stretcher", 0.005),
)
#: Free-text needs a registrar might write: kept and shown to the driver.
OTHER_NEEDS = ("needs help on the stairs", "diabetic: bring insulin", "walks with a frame")


def needs_mix(rng: np.random.Generator, people: int) -> dict[str, Any]:
    """The needs, pets and language of one invented household (fields to add to its record)."""
    needs = [need for need, share in NEED_SHARES if rng.random() < share]
    if people >= 2 and rng.random() < 0.05:
        needs.append("attendant")
    if rng.random() < 0.03:
        needs.append(str(rng.choice(OTHER_NEEDS)))
    out: dict[str, Any] = {}
    if needs:
        out["needs"] = needs
    if rng.random() < 0.33:
        out["pets"] = int(rng.choice([1, 1, 1, 2]))
    out["language"] = str(rng.choice(["fi"] * 8 + ["sv"] * 2))
    return out


def demo_scenario(seed: int = 2026, households: int = 300, cars: int = 60) -> dict[str, Any]:
    """The demo: 300 households, 60 cars, 4 shelters, one flood zone, a 3-hour deadline."""
    graph = load_road_graph(MAP)
    rng = np.random.default_rng(seed)
    lon, lat = graph.lon, graph.lat

    def place() -> tuple[float, float]:
        n = int(rng.integers(graph.node_count))
        # A few metres off the road, as a front door is.
        return round(float(lat[n]) + rng.normal(0, 0.0001), 6), round(float(lon[n]) + rng.normal(0, 0.0002), 6)

    corners = [(lon.min(), lat.min()), (lon.max(), lat.min()), (lon.min(), lat.max()), (lon.max(), lat.max())]
    shelters = []
    for k, (cx, cy) in enumerate(corners):
        # Shelters sit a quarter of the way in from each corner: schools and halls, not the map's edge.
        tx, ty = cx + (lon.mean() - cx) / 2, cy + (lat.mean() - cy) / 2
        n = int(np.argmin((lon - tx) ** 2 + (lat - ty) ** 2))
        shelters.append({
            "id": f"S{k + 1}", "name": ["Harbour school", "Sports hall", "Church hall", "Library"][k],
            "lat": round(float(lat[n]), 6), "lon": round(float(lon[n]), 6),
            "capacity": 300, "wheelchair_accessible": k % 2 == 0,
            # Two take pets (the sports hall has room for many), two have power and staff for medical needs.
            "pets_allowed": k in (0, 1), "pet_capacity": [60, 100, 0, 0][k],
            "medical_support": k in (0, 2),
            "languages": [["fi", "sv"], ["fi"], ["fi", "en"], ["fi", "sv", "en"]][k],
        })
    drivers = []
    for k in range(cars):
        la, lo = place()
        wheel = 1 if k % 8 == 0 else 0
        drivers.append({
            "id": f"D{k + 1:02d}", "name": f"Volunteer {k + 1}", "phone": f"+358 40 000 {k + 1:04d}",
            "lat": la, "lon": lo, "seats": int(rng.choice([3, 4, 4, 4, 6])), "wheelchair_spaces": wheel,
            "available_from_minute": int(rng.choice([0, 0, 0, 10, 20])),
            "available_until_minute": int(rng.choice([180, 180, 180, 120])),
            # Some volunteers are allergic or drive a small car.
            "takes_pets": bool(rng.random() >= 0.15),
            "languages": [["fi"], ["fi"], ["fi", "en"], ["fi", "sv"], ["sv", "fi", "en"]][int(rng.integers(5))],
        })
    homes = []
    for k in range(households):
        la, lo = place()
        people = int(rng.choice([1, 1, 2, 2, 2, 3, 4, 5, 7]))
        wheel = 1 if rng.random() < 0.08 else 0
        record: dict[str, Any] = {
            "id": f"H{k + 1:03d}", "name": f"Household {k + 1}", "phone": f"+358 50 000 {k + 1:04d}",
            "lat": la, "lon": lo, "people": people, "wheelchair_users": min(wheel, people),
            "priority": int(rng.choice([1, 2, 2, 3, 3, 3])),
            "ready_from_minute": int(rng.choice([0, 0, 0, 15, 30])),
        }
        record.update(needs_mix(rng, people))
        homes.append(record)
    if not any("stretcher" in h.get("needs", ()) for h in homes):
        # One bedridden resident, so the demo shows what the plan says about a stretcher.
        homes[149]["needs"] = [*homes[149].get("needs", []), "stretcher"]
    # The flood zone covers low ground in the middle of the district, between the shelters.
    flood = _circle(float(np.quantile(lon, 0.45)), float(np.quantile(lat, 0.55)), 160.0)
    return {
        "name": "Kotka harbour district storm (demo)",
        "map": "../data/kotka.osm.pbf",
        "alert": {"start": "2026-09-14T18:00:00+03:00", "deadline_minutes": 180, "closed_ways": [],
                  "flood_zones": [flood]},
        "service_minutes": {"pickup": 3, "dropoff": 2},
        "shelters": shelters,
        "drivers": drivers,
        "households": homes,
    }


def main() -> None:
    header = "# Generated by `python -m scenarios.demo` (fixed seed); invented people on real Kotka roads.\n"
    OUT.write_text(header + yaml.safe_dump(demo_scenario(), sort_keys=False, width=200), encoding="utf-8")


if __name__ == "__main__":
    main()
