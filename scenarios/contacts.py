"""Contact lists for the monthly swap: per driver the households they would serve, per household their driver.

Written as CSV (for a spreadsheet or a printout) and vCard 3.0 (to import on a phone), all marked with the
drill date, from the plan made for the scenario as registered (before anything goes wrong).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from matcher.plan import Plan
from matcher.problem import Driver, Household, Problem

DRIVER_COLUMNS = ["drill_date", "driver_id", "driver_name", "driver_phone", "stop", "household_id", "household_name",
                  "household_phone", "people", "wheelchair_users", "needs", "pets", "language", "lat", "lon",
                  "pickup_minute", "shelter_id", "shelter_name"]
HOUSEHOLD_COLUMNS = ["drill_date", "household_id", "household_name", "household_phone", "people", "driver_id",
                     "driver_name", "driver_phone", "pickup_minute", "shelter_id", "shelter_name", "note"]


def _vcard_text(value: str) -> str:
    """vCard escaping: backslash, comma, semicolon and newlines."""
    return re.sub(r"([\\,;])", r"\\\1", value).replace("\n", "\\n")


def vcard(name: str, phone: str, note: str, date: str, uid: str) -> str:
    """One vCard 3.0 entry (CRLF line ends, as the format requires)."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_text(name)}", f"N:{_vcard_text(name)};;;;",
             f"UID:{_vcard_text(uid)}", f"NOTE:{_vcard_text(note)}", f"CATEGORIES:Evacuation drill {date}"]
    if phone:
        lines.insert(4, f"TEL;TYPE=CELL:{_vcard_text(phone)}")
    return "\r\n".join([*lines, "END:VCARD"]) + "\r\n"


def _assignments(problem: Problem, plan: Plan) -> dict[str, list[tuple[int, Household, float, str]]]:
    """Per driver: (stop number, household, pickup minute, shelter id) in driving order."""
    out: dict[str, list[tuple[int, Household, float, str]]] = {}
    for route in plan.routes:
        pending: list[tuple[int, Household, float]] = []
        for k, stop in enumerate(route.stops, start=1):
            if stop.type == "pickup":
                pending.append((k, problem.household(str(stop.household_id)), stop.arrive_minute))
            else:
                out.setdefault(route.driver_id, []).extend((k0, h, m, str(stop.shelter_id)) for k0, h, m in pending)
                pending = []
    return out


def write_contacts(folder: Path, problem: Problem, plan: Plan, date: str) -> dict[str, Any]:
    """Write drivers.csv, households.csv and vCards under ``folder``; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("drivers", "households"):
        (folder / sub).mkdir(exist_ok=True)
        for old in (folder / sub).glob("*.vcf"):  # last month's cards must not linger
            old.unlink()
    jobs = _assignments(problem, plan)
    driver_of: dict[str, tuple[Driver, float, str]] = {}
    with (folder / "drivers.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(DRIVER_COLUMNS)
        for d in problem.drivers:
            cards = []
            seen: set[str] = set()
            for k, h, minute, sid in jobs.get(d.id, []):
                shelter = problem.shelter(sid)
                driver_of.setdefault(h.id, (d, minute, sid))
                out.writerow([date, d.id, d.name, d.phone, k, h.id, h.name, h.phone, h.people, h.wheelchair_users,
                              ";".join(h.needs), h.pets, h.language, h.lat, h.lon, round(minute), sid, shelter.name])
                if h.id not in seen:
                    seen.add(h.id)
                    note = (f"Evacuation drill {date}: you pick up {h.people} people ({h.wheelchair_users} in "
                            f"wheelchairs) at {h.lat}, {h.lon} about minute {round(minute)} for {shelter.name or sid}")
                    cards.append(vcard(h.name or h.id, h.phone, note, date, f"evac-{date}-{h.id}"))
            if cards:
                (folder / "drivers" / f"{d.id}.vcf").write_text("".join(cards), encoding="utf-8", newline="")
    with (folder / "households.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HOUSEHOLD_COLUMNS)
        for h in problem.households:
            if h.id not in driver_of:
                out.writerow([date, h.id, h.name, h.phone, h.people, "", "", "", "", "", "",
                              "no driver in the plan: the coordinator will call"])
                continue
            d, minute, sid = driver_of[h.id]
            shelter = problem.shelter(sid)
            out.writerow([date, h.id, h.name, h.phone, h.people, d.id, d.name, d.phone, round(minute), sid,
                          shelter.name, ""])
            note = f"Evacuation drill {date}: your driver for {shelter.name or sid} if the storm comes"
            (folder / "households" / f"{h.id}.vcf").write_text(
                vcard(d.name or d.id, d.phone, note, date, f"evac-{date}-{d.id}"), encoding="utf-8", newline="")
    return {"drivers_csv": "contacts/drivers.csv", "households_csv": "contacts/households.csv",
            "driver_vcards": len(list((folder / "drivers").glob("*.vcf"))),
            "household_vcards": len(list((folder / "households").glob("*.vcf")))}
