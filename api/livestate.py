"""The live state of an alert from its rows: stop statuses to stop reports, drop-outs, closures, the alert lock.

This module only translates: ``matcher.live.derive_state`` decides what the reports mean (a stop is done when
its status is ``picked_up``, ``dropped_off``, ``no_show`` or ``cannot_reach``; the history a re-plan keeps is
each route's leading done stops; a household is missed when the newest plan version with statuses for it has
``no_show`` or ``cannot_reach`` and no ``picked_up``). It also brings back records the history needs, and
carries statuses onto a new plan version.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api import models
from matcher.codes import MISSED, StopStatus
from matcher.live import Closures, LiveEvent, LiveState, StopReport, derive_state


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


def reports(session: Session, alert_id: int, up_to_version: int) -> list[StopReport]:
    """The alert's stop statuses on its plan versions up to ``up_to_version``, as the matcher's stop reports."""
    rows = session.execute(
        select(models.Plan.version, models.StopStatus.driver_id, models.StopStatus.stop_index,
               models.StopStatus.household_id, models.StopStatus.status)
        .join(models.Plan, models.Plan.id == models.StopStatus.plan_id)
        .where(models.Plan.alert_id == alert_id, models.Plan.version <= up_to_version)
    ).all()
    return [StopReport(driver, index, StopStatus(status), household, version)
            for version, driver, index, household, status in rows]


def missed_reports(session: Session, alert_id: int, household_id: str) -> list[models.StopStatus]:
    """The household's ``no_show``/``cannot_reach`` statuses on every plan version of the alert."""
    return list(session.scalars(
        select(models.StopStatus).join(models.Plan, models.Plan.id == models.StopStatus.plan_id)
        .where(models.Plan.alert_id == alert_id, models.StopStatus.household_id == household_id,
               models.StopStatus.status.in_([str(s) for s in MISSED]))))


def dropped_drivers(session: Session, alert_id: int) -> frozenset[str]:
    rows = session.scalars(select(models.Dropout.driver_id).where(models.Dropout.alert_id == alert_id))
    return frozenset(rows)


def minute_now(alert: models.Alert, at: datetime | None = None) -> float:
    """Minutes since the alert started (0 before it starts)."""
    elapsed = ((at or datetime.now(UTC)) - alert.start).total_seconds() / 60.0
    return max(0.0, elapsed)


#: What queued a re-plan (``PlanJob.reason``), as the re-plan policy knows it.
REASON_EVENTS = {"stop_status": LiveEvent.STOP_REPORT, "undo_stop": LiveEvent.STOP_REPORT,
                 "closure": LiveEvent.CLOSURE, "new_household": LiveEvent.NEW_REQUEST,
                 "dropout": LiveEvent.DROPOUT, "manual_replan": LiveEvent.COORDINATOR}


def _events(alert: models.Alert, base: models.Plan, state: LiveState, reason: str | None) -> frozenset[LiveEvent]:
    """What happened since ``base`` was made, read from the data (a queued re-plan may cover several events)."""
    events = {REASON_EVENTS[reason]} if reason in REASON_EVENTS else set()
    if state.new_requests:
        events.add(LiveEvent.NEW_REQUEST)
    was = base.scenario.get("alert", {})
    if (list(was.get("closed_ways", [])), len(was.get("flood_zones", []))) != \
            (list(state.closures.closed_ways), state.closures.flood_zones):
        events.add(LiveEvent.CLOSURE)
    if any(len(base.parsed.stops_of(d)) > state.completed.get(d, 0) for d in state.dropped_drivers):
        events.add(LiveEvent.DROPOUT)  # a driver who dropped out still had stops to drive
    return frozenset(events)


def live_state(session: Session, alert: models.Alert, base: models.Plan, minute: float,
               scenario: dict[str, Any] | None = None, reason: str | None = None) -> LiveState:
    """The live state of ``alert`` on its plan version ``base`` at ``minute`` (translation only: rows to reports,
    drop-outs and the alert's closures; ``matcher.live.derive_state`` decides what they mean).

    With the ``scenario`` about to be re-planned, households in it that ``base`` did not know are new requests;
    ``reason`` is what queued the re-plan.
    """
    known = {h["id"] for h in base.scenario.get("households", [])}
    new = frozenset(h["id"] for h in (scenario or {}).get("households", []) if h["id"] not in known)
    state = derive_state(base.parsed, reports(session, alert.id, base.version), minute, plan_version=base.version,
                         dropped_drivers=dropped_drivers(session, alert.id), new_requests=new,
                         closures=Closures(tuple(alert.closed_ways), len(alert.flood_zones)))
    return dataclasses.replace(state, events=_events(alert, base, state, reason))


def carry_over(scenario: dict[str, Any], base: models.Plan, live: LiveState) -> tuple[dict, frozenset[str]]:
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


def carry_statuses(session: Session, base: models.Plan, new: models.Plan, live: LiveState) -> int:
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
