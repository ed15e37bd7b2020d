"""Shortfall advice: what added capacity brings every household out in time, found by re-solving, not a rule of thumb.

The advice is worked out on the *drill picture*: the scenario with every scripted event of the timeline
applied from the start (roads closed, flood grown, scripted drop-outs gone, shelters full, late and absent
households as announced, new requests in). Cars are added at the doors of households the plan leaves out
for want of a car, a batch at a time, until none is left out for that reason; then the fewest of them that
still do it are kept (bisection over the order they were added), and the result is verified once more
through the ordinary scenario loader.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from matcher.check import assert_plan_valid
from matcher.codes import CAR_FIXABLE
from matcher.plan import Plan
from matcher.scenario import Scenario, problem_from_dict
from matcher.solver import solve
from scenarios.osmtags import nearest_street
from scenarios.world import DrillContext, stage_data

#: At most this many cars are suggested; past it the advice says so.
MAX_CARS = 60
#: Seats of a suggested car, and of a suggested wheelchair van (plus one wheelchair space).
CAR_SEATS, VAN_SEATS = 4, 3
#: A suggested car is sized for the household it is near, up to a people carrier.
MAX_SUGGESTED_SEATS = 8
#: Households per added car in a batch: a car does several trips before the deadline.
HOUSEHOLDS_PER_CAR = 4


def picture_data(ctx: DrillContext) -> dict[str, Any]:
    """The drill picture as a scenario mapping (map path absolute, so it can be saved anywhere)."""
    spec = ctx.spec
    data = stage_data(spec.scenario, ctx.map_events)
    data["map"] = str(ctx.map_path)
    dropped = {e.target for e in spec.timeline if e.action == "driver_drops_out"}
    absent = {e.target for e in spec.timeline if e.action == "no_show"}
    ready = {e.target: float(e.ready_minute or 0.0) for e in spec.timeline if e.action == "not_ready"}
    full = {e.target: e.capacity for e in spec.timeline if e.action == "shelter_fills"}
    data["drivers"] = [d for d in data.get("drivers") or [] if str(d["id"]) not in dropped]
    data["households"] = [dict(h, ready_from_minute=max(float(h.get("ready_from_minute", 0)), ready[str(h["id"])]))
                          if str(h["id"]) in ready else h
                          for h in data["households"] if str(h["id"]) not in absent]
    data["shelters"] = [dict(s, capacity=full[str(s["id"])]) if str(s["id"]) in full else s
                        for s in data.get("shelters") or []]
    return data


def _solve(ctx: DrillContext, data: dict[str, Any]) -> tuple[Scenario, Plan]:
    scenario = problem_from_dict(data, None, ctx.settings, graph=ctx.graph)
    return scenario, solve(scenario.problem, ctx.spec.params(ctx.spec.advice_time_limit_seconds))


def _short(plan: Plan) -> list[str]:
    return [u.household_id for u in plan.unserved if u.code in CAR_FIXABLE]


def _spread_out(candidates: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """``k`` households far apart (greedy farthest-point), starting from the most urgent, largest one."""
    ordered = sorted(candidates, key=lambda h: (int(h.get("priority", 3)), -int(h["people"]), str(h["id"])))
    chosen = [ordered[0]]
    xy = np.array([[float(h["lon"]) * math.cos(math.radians(float(h["lat"]))), float(h["lat"])] for h in ordered])
    dist = np.linalg.norm(xy - xy[0], axis=1)
    while len(chosen) < min(k, len(ordered)):
        nxt = int(np.argmax(dist))
        chosen.append(ordered[nxt])
        dist = np.minimum(dist, np.linalg.norm(xy - xy[nxt], axis=1))
    return chosen


def _car(number: int, at: dict[str, Any], deadline: float) -> dict[str, Any]:
    van = int(at.get("wheelchair_users", 0)) > 0
    # Big enough for the household it is suggested for (people and pets): a 4-seat car near a family of
    # five that no car of the roster can take whole would be advice that helps nobody.
    need = int(at.get("people", 1)) - int(at.get("wheelchair_users", 0)) + int(at.get("pets", 0) or 0)
    seats = VAN_SEATS if van else min(MAX_SUGGESTED_SEATS, max(CAR_SEATS, need))
    return {"id": f"EXTRA{number:02d}", "name": f"Suggested {'wheelchair van' if van else 'car'} {number}",
            "phone": "", "lat": float(at["lat"]), "lon": float(at["lon"]),
            "seats": seats, "wheelchair_spaces": 1 if van else 0,
            "available_from_minute": 0, "available_until_minute": deadline, "near_household": str(at["id"])}


def _with(data: dict[str, Any], cars: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["drivers"] = [*out["drivers"], *cars]
    return out


def _where(ctx: DrillContext, car: dict[str, Any], centre: tuple[float, float]) -> str:
    """Where a suggested car should come from, in words: street, part of town."""
    dlat, dlon = car["lat"] - centre[0], (car["lon"] - centre[1]) * math.cos(math.radians(centre[0]))
    part = ""
    if math.hypot(dlat, dlon) > 0.002:
        compass = ["east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"]
        part = compass[int(((math.degrees(math.atan2(dlat, dlon)) + 22.5) % 360) // 45)] + " end"
    street = nearest_street(ctx.graph, car["lat"], car["lon"])
    return ", ".join(p for p in (street and f"near {street}", part or "town centre") if p)


def shortfall_advice(ctx: DrillContext) -> dict[str, Any]:
    """What to add so that every household the drill picture leaves out for want of a car is served."""
    data = picture_data(ctx)
    deadline = ctx.spec.deadline
    added: list[dict[str, Any]] = []
    tried: dict[int, tuple[Scenario, Plan]] = {}

    def with_first(n: int) -> tuple[Scenario, Plan]:
        """The picture solved with the first ``n`` added cars (each count solved once)."""
        if n not in tried:
            tried[n] = _solve(ctx, _with(data, added[:n]))
        return tried[n]

    plan = with_first(0)[1]
    short = _short(plan)
    before = {u.household_id: u.code for u in plan.unserved}
    left = short
    while left and len(added) < MAX_CARS:
        records = {str(h["id"]): h for h in data["households"]}
        batch = _spread_out([records[h] for h in left], max(1, math.ceil(len(left) / HOUSEHOLDS_PER_CAR)))
        added += [_car(len(added) + k + 1, h, deadline) for k, h in enumerate(batch[: MAX_CARS - len(added)])]
        left = _short(with_first(len(added))[1])
    # The fewest of the added cars (in the order added) that still leave nobody short of a car.
    low, high = 0, len(added) if not left else 0
    while low < high:
        mid = (low + high) // 2
        if _short(with_first(mid)[1]):
            low = mid + 1
        else:
            high = mid
    keep = added[:high] if not left else added
    scenario, final = with_first(len(keep))
    assert_plan_valid(scenario.problem, final, scenario.graph, scenario.closed_mask)
    solves = len(tried)
    served = {s.household_id for r in final.routes for s in r.stops if s.type == "pickup"}
    hh = data["households"]
    centre = (float(np.median([h["lat"] for h in hh])), float(np.median([h["lon"] for h in hh])))
    fixable_elsewhere = sorted((u.household_id, u.code) for u in plan.unserved if u.code not in CAR_FIXABLE)
    return {
        "picture": "every scripted event of the timeline applied from the start",
        "unserved_before": len(plan.unserved),
        "short_of_cars_before": sorted(short),
        "added_drivers": [{k: v for k, v in car.items() if k != "near_household"} for car in keep],
        "where": [{"driver": car["id"], "near_household": car["near_household"], "where": _where(ctx, car, centre),
                   "wheelchair_spaces": car["wheelchair_spaces"], "seats": car["seats"]} for car in keep],
        "cars": sum(1 for c in keep if not c["wheelchair_spaces"]),
        "wheelchair_vans": sum(1 for c in keep if c["wheelchair_spaces"]),
        "serves": sorted(h for h in served if h in before),
        "still_short": sorted(_short(final)),
        "not_fixable_by_cars": [{"household": h, "code": c} for h, c in fixable_elsewhere],
        "unserved_after": len(final.unserved),
        "solves": solves,
    }
