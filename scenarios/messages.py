"""The drill's ``log`` channel: the messages the service would send for the drill's plan, written to the report.

Each driver with pickups and each household in a route gets the same template the service sends (in the
household's language), and unserved households the "help is being arranged" text; one JSON line per message in
``messages.jsonl`` (the format of the service's log channel), so a coordinator reads exactly what people would get.
Times are minutes after the alert (``T+25``): a drill has no clock.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from api.messaging import reach
from api.messaging.reach import Senses
from api.messaging.texts import Part, Template, language_of, render, render_part
from matcher.plan import Plan
from matcher.problem import Problem

WINDOW_MINUTES = 15


def _t(minute: float) -> str:
    return f"T+{round(minute)}"


def write_messages(path: Path, problem: Problem, plan: Plan) -> dict[str, Any]:
    """Write ``messages.jsonl``; how many messages of each template."""
    lines: list[dict[str, Any]] = []
    first: dict[str, tuple[str, float]] = {}
    for route in plan.routes:
        pickups = [s for s in route.stops if s.type == "pickup" and s.household_id is not None]
        if not pickups:
            continue
        driver = problem.driver(route.driver_id)
        for stop in pickups:
            hid = str(stop.household_id)
            if hid not in first or stop.arrive_minute < first[hid][1]:
                first[hid] = (route.driver_id, stop.arrive_minute)
        place = problem.household(str(pickups[0].household_id))
        body = render(Template.DRIVER_PLAN, "en", pickups=len(pickups), time=_t(pickups[0].arrive_minute),
                      place=f"{place.lat:.5f}, {place.lon:.5f}", link="/app/manifest")
        door = reach.door_words(Senses.of(place.needs), "en")
        if any(not Senses.of(problem.household(str(s.household_id)).needs).standard for s in pickups[1:]):
            door = f"{door} {render_part(Part.DOOR_LATER, 'en')}".strip()
        body = f"{body} {door}" if door else body
        lines.append({"to": driver.id, "template": Template.DRIVER_PLAN.value, "body": body})
    for hid, (driver_id, minute) in sorted(first.items()):
        household, driver = problem.household(hid), problem.driver(driver_id)
        start = math.floor(minute / 5.0) * 5.0
        language = language_of(household.language)
        # The service's wording rule: a household that cannot rely on seeing the car or on a call is told how the
        # driver will make themselves known instead.
        address = reach.Address(hid, "log", "", language, Senses.of(household.needs))
        body = reach.household_pickup(Template.HOUSEHOLD_ASSIGNED, address,
                                      driver=(driver.name or driver.id).split(" ")[0], car=driver.id,
                                      start=_t(start), end=_t(start + WINDOW_MINUTES))
        lines.append({"to": hid, "template": Template.HOUSEHOLD_ASSIGNED.value, "language": language, "body": body})
    for unserved in plan.unserved:
        language = language_of(problem.household(unserved.household_id).language)
        lines.append({"to": unserved.household_id, "template": Template.HOUSEHOLD_UNSERVED.value,
                      "language": language, "body": render(Template.HOUSEHOLD_UNSERVED, language)})
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps({"channel": "log", **line}, ensure_ascii=False, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["template"]] = counts.get(line["template"], 0) + 1
    return {"file": path.name, "count": len(lines), "by_template": dict(sorted(counts.items()))}
