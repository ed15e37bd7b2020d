"""Roster freshness for the drill report: which drivers and households were not confirmed within the freshness
setting (the service's ``EVAC_CHECKIN_STALE_DAYS``, 45 days by default) on the drill's date.

A registry is only as good as its last check-in: someone who moved, sold the car or now needs a wheelchair is the
classic failure of special-needs registries, and a drill that plans with them overstates what the town can do. A
drill file (or the service's drill, which writes them from its records) carries ``confirmed_at`` on the records
(an ISO date or date-time; ``null``: never confirmed). When no record carries the field at all, there is nothing
to say and the report leaves the section out. Counted against the drill date, so the same drill gives the same
report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from matcher.errors import InputError

#: The service's default (``EVAC_CHECKIN_STALE_DAYS``).
DEFAULT_DAYS = 45
KINDS = (("households", "household"), ("drivers", "driver"))


def parse_confirmed(value: Any, record: str) -> dt.date | None:
    """A record's ``confirmed_at`` as a date (``None``: never confirmed); ``InputError`` naming the record and field
    when it is not an ISO date or date-time."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):  # YAML reads 2026-10-01 as a date
        return value
    try:
        return dt.datetime.fromisoformat(str(value)).date()
    except ValueError:
        raise InputError(record, "confirmed_at", f"{value!r} is not a date like 2026-10-01 (or a date-time, or "
                         "null for never confirmed)") from None


def carries_confirmed(scenario: Mapping[str, Any]) -> bool:
    return any(isinstance(r, dict) and "confirmed_at" in r for key, _ in KINDS for r in scenario.get(key) or [])


def check_confirmed(scenario: Mapping[str, Any]) -> None:
    """Validate every record's ``confirmed_at`` (raises ``InputError``)."""
    for key, kind in KINDS:
        for record in scenario.get(key) or []:
            if isinstance(record, dict) and "confirmed_at" in record:
                parse_confirmed(record["confirmed_at"], f"{kind} {record.get('id')}")


def roster_freshness(scenario: Mapping[str, Any], as_of: str, days: int = DEFAULT_DAYS) -> dict[str, Any] | None:
    """Per kind: how many records, how many not confirmed within ``days`` of ``as_of`` (never confirmed counts),
    and which (id, name, confirmed date, days since); ``None`` when no record carries ``confirmed_at``."""
    if not carries_confirmed(scenario):
        return None
    today = dt.date.fromisoformat(as_of)
    out: dict[str, Any] = {"days": days, "as_of": as_of}
    for key, kind in KINDS:
        stale = []
        records = [r for r in scenario.get(key) or [] if isinstance(r, dict)]
        for record in records:
            confirmed = parse_confirmed(record.get("confirmed_at"), f"{kind} {record.get('id')}")
            age = None if confirmed is None else (today - confirmed).days
            if age is None or age > days:
                stale.append({"id": str(record.get("id")), "name": str(record.get("name") or ""),
                              "confirmed_at": None if confirmed is None else confirmed.isoformat(),
                              "days_since": age})
        out[key] = {"total": len(records), "stale": len(stale),
                    "never_confirmed": sum(1 for s in stale if s["confirmed_at"] is None), "records": stale}
    return out
