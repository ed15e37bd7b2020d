"""Route test: the legs of the plan made before the storm that the drill's closures make impassable or much slower."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from matcher.travel import LocationRef
from scenarios.world import DrillContext

#: A leg is "much slower" when its best road now takes this many times as long, and at least this many minutes more.
SLOWER_FACTOR = 1.5
SLOWER_MINUTES = 3.0


def _closed_steps(ctx: DrillContext) -> dict[tuple[float, float, float, float], int]:
    """Road steps closed by the drill (not by the scenario itself), with their OSM way."""
    g = ctx.graph
    newly = ctx.final_stage.closures.closed & ~ctx.stage(0).closures.closed
    lon, lat = g.lon.tolist(), g.lat.tolist()
    steps: dict[tuple[float, float, float, float], int] = {}
    for e in np.flatnonzero(newly):
        nodes = g.edge_nodes(int(e)).tolist()
        for a, b in itertools.pairwise(nodes):
            steps[(lon[a], lat[a], lon[b], lat[b])] = int(g.edge_way[e])
    return steps


def route_test(ctx: DrillContext) -> list[dict[str, Any]]:
    """Every leg of the base plan that the drill's closures cut or slow down, worst first."""
    closed = _closed_steps(ctx)
    before, after = ctx.stage(0).problem.travel, ctx.final_stage.problem.travel
    rows: list[dict[str, Any]] = []
    for route in ctx.base_plan.routes:
        here = LocationRef("driver", route.driver_id)
        for stop, leg in zip(route.stops, route.legs, strict=True):
            there = stop.place
            coords = leg.coordinates
            ways = sorted({closed[key] for p, q in itertools.pairwise(coords)
                           if (key := (p[0], p[1], q[0], q[1])) in closed})
            was = float(before.minutes[before.index(here.kind, here.id), before.index(there.kind, there.id)])
            now = float(after.minutes[after.index(here.kind, here.id), after.index(there.kind, there.id)])
            slower = math.isfinite(now) and now >= SLOWER_FACTOR * was and now - was >= SLOWER_MINUTES
            if ways or not math.isfinite(now) or slower:
                verdict = "no road left" if not math.isfinite(now) else "closed road on the way" if ways \
                    else "much slower"
                rows.append({"driver": route.driver_id, "from": f"{here.kind} {here.id}",
                             "to": f"{there.kind} {there.id}", "planned_minutes": round(was, 1),
                             "now_minutes": round(now, 1) if math.isfinite(now) else None, "closed_ways": ways,
                             "streets": sorted({ctx.street_names.get(w, str(w)) for w in ways}), "verdict": verdict})
            here = there
    return sorted(rows, key=lambda r: (r["now_minutes"] is not None, -((r["now_minutes"] or 0) - r["planned_minutes"]),
                                       r["driver"], r["to"]))
