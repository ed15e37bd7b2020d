"""The live state of an alert: stop statuses to a ``LiveInput``, drop-outs, records history needs, the alert lock.

A driver's stop is *done* when its status is ``picked_up``, ``dropped_off``, ``no_show`` or ``cannot_reach``;
the stops a re-plan keeps as history are each route's leading done stops (``completed``). A household is a
no-show when the newest plan version that has statuses for it has ``no_show`` or ``cannot_reach`` and no
``picked_up``; it then leaves the plan with code ``no_show``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api import models, planning
from matcher.codes import DONE, MISSED, StopStatus
from matcher.plan import Plan


def lock_alert(session: Session, alert_id: int) -> models.Alert:
    """Order this transaction's live change against others on the alert and against re-plan publishing.

    PostgreSQL: a row lock on the alert (``FOR NO KEY UPDATE``, so inserts referencing it are not blocked).
    SQLite: a no-op write, which takes the database's single write lock now, so what is read next is current.
    Returns the alert as it is now.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(models.Alert.id).where(models.Alert.id == alert_id).with_for_update(key_share=True))
    else:
        session.execute(text("UPDATE alerts SET version = version WHERE id = :id"), {"id": alert_id})
    return session.get_one(models.Alert, alert_id, populate_existing=True)


def latest_plan(session: Session, alert_id: int) -> models.Plan | None:
    """The alert's newest plan version, the one being followed."""
    return session.scalar(select(models.Plan).where(models.Plan.alert_id == alert_id)
                          .order_by(models.Plan.version.desc()).limit(1))


def statuses(session: Session, plan_id: int) -> dict[tuple[str, int], models.StopStatus]:
    """The plan version's stop statuses by ``(driver id, stop index)``."""
    rows = session.scalars(select(models.StopStatus).where(models.StopStatus.plan_id == plan_id))
    return {(row.driver_id, row.stop_index): row for row in rows}


def completed(plan: Plan, status_of: dict[tuple[str, int], str]) -> dict[str, int]:
    """Per driver, how many leading stops of their route are done."""
    out: dict[str, int] = {}
    for route in plan.routes:
        driver, n = route.driver_id, 0
        while n < len(route.stops) and status_of.get((driver, n)) in DONE:
            n += 1
        if n:
            out[driver] = n
    return out


def missed(session: Session, alert_id: int, up_to_version: int) -> tuple[frozenset[str], frozenset[str]]:
    """``(no_shows, cannot_reach)``: households missed at their stop, by their newest version with statuses."""
    rows = session.execute(
        select(models.Plan.version, models.StopStatus.household_id, models.StopStatus.status)
        .join(models.Plan, models.Plan.id == models.StopStatus.plan_id)
        .where(models.Plan.alert_id == alert_id, models.Plan.version <= up_to_version,
               models.StopStatus.household_id.is_not(None))
    ).all()
    newest: dict[str, int] = {}
    for version, household, _ in rows:
        newest[str(household)] = max(version, newest.get(str(household), 0))
    seen: dict[str, set[str]] = {}
    for version, household, status in rows:
        if version == newest[str(household)]:
            seen.setdefault(str(household), set()).add(status)
    # A household of which any part was picked up is on its way, whatever happened at its other stops.
    no_shows = {h for h, s in seen.items() if s & MISSED and StopStatus.PICKED_UP not in s}
    unreachable = {h for h in no_shows if StopStatus.CANNOT_REACH in seen[h] and StopStatus.NO_SHOW not in seen[h]}
    return frozenset(no_shows), frozenset(unreachable)


def dropped_drivers(session: Session, alert_id: int) -> frozenset[str]:
    rows = session.scalars(select(models.Dropout.driver_id).where(models.Dropout.alert_id == alert_id))
    return frozenset(rows)


def minute_now(alert: models.Alert, at: datetime | None = None) -> float:
    """Minutes since the alert started (0 before it starts)."""
    elapsed = ((at or datetime.now(UTC)) - alert.start).total_seconds() / 60.0
    return max(0.0, elapsed)


def live_input(session: Session, alert: models.Alert, base: models.Plan, minute: float) -> planning.LiveInput:
    """The live state of ``alert`` on its plan version ``base`` at ``minute``."""
    status_of = {key: row.status for key, row in statuses(session, base.id).items()}
    no_shows, unreachable = missed(session, alert.id, base.version)
    return planning.LiveInput(minute, completed(base.parsed, status_of), dropped_drivers(session, alert.id),
                              no_shows, unreachable)


def carry_over(scenario: dict[str, Any], base: models.Plan, live: planning.LiveInput) -> tuple[dict, frozenset[str]]:
    """The scenario plus the records the base plan's history still needs but the rosters no longer hold.

    A household picked up, a driver who drove, or a shelter in the plan may since have been deleted (or its
    owner deactivated); they come from the base plan's own scenario. Drivers brought back this way drive no
    more (they are returned as dropped); shelters brought back take nobody new (capacity 0).
    """
    out = copy.deepcopy(scenario)
    previous = base.scenario
    picked: set[str] = set()
    shelters: set[str] = set()
    drivers = {d for d, n in live.completed.items() if n > 0}
    for driver, i, stop in base.parsed.stops():
        if stop.type == "dropoff":
            shelters.add(str(stop.shelter_id))
        elif i < live.completed.get(driver, 0):
            picked.add(str(stop.household_id))
    wanted = {"households": picked, "drivers": drivers, "shelters": shelters}
    brought: dict[str, set[str]] = {}
    for kind, ids in wanted.items():
        have = {record["id"] for record in out.get(kind, [])}
        for record in previous.get(kind, []):
            if record["id"] in ids and record["id"] not in have:
                out.setdefault(kind, []).append({**record, "capacity": 0} if kind == "shelters" else dict(record))
                brought.setdefault(kind, set()).add(record["id"])
    return out, frozenset(brought.get("drivers", set()))


def carry_statuses(session: Session, base: models.Plan, new: models.Plan, live: planning.LiveInput) -> int:
    """Copy the base version's statuses onto the new version: completed stops keep theirs (same place in the
    route, as history is kept), and an ``on_the_way`` stays when the driver's stop there is still the same."""
    copied = 0
    for (driver, index), row in statuses(session, base.id).items():
        stop, old = new.parsed.stop(driver, index), base.parsed.stop(driver, index)
        if stop is None or old is None:
            continue
        history = index < live.completed.get(driver, 0)
        if history or (row.status == StopStatus.ON_THE_WAY and old.same_place(stop)):
            session.add(models.StopStatus(plan_id=new.id, driver_id=driver, stop_index=index,
                                          household_id=row.household_id, status=row.status,
                                          by_user_id=row.by_user_id, at=row.at, note=row.note))
            copied += 1
    return copied


def newest_version(session: Session, alert_id: int) -> int:
    return int(session.scalar(select(func.max(models.Plan.version)).where(models.Plan.alert_id == alert_id)) or 0)
