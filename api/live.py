"""Live operations on an alert: stop status reports, and the events that queue a re-plan (drop-outs, closures,
new requests, a coordinator's ask). Each takes the alert's lock first (``livestate.lock_alert``) so it is ordered
against re-plans being published, and commits its change, its audit entries and its re-plan job together.
"""

from __future__ import annotations

from sqlalchemy import select

from api import access, alerts, audit, crud, jobs, livestate, models, planning, schemas
from api import live_schemas as ls
from api.crud import Context, commit
from api.errors import Conflict, NotFound, StaleVersion
from api.messaging import outbox
from matcher.codes import ALLOWED, DONE, MISSED, StopStatus
from matcher.errors import InputError
from matcher.plan import Stop

#: Largest number of closures an alert keeps (the same bounds as when it is posted).
MAX_CLOSED_WAYS, MAX_FLOOD_ZONES = 10_000, 100


def _active(alert: models.Alert) -> None:
    if alert.status != "active":
        raise InputError(f"alert {alert.id}", "status", "the alert is closed: reopen it for live operations")


def _stop_public(row: models.StopStatus, plan_version: int) -> ls.StopStatusPublic:
    return ls.StopStatusPublic(plan_version=plan_version, driver_id=row.driver_id, stop_index=row.stop_index,
                               household_id=row.household_id, status=row.status,  # type: ignore[arg-type]
                               version=row.version, at=row.at, by_user_id=row.by_user_id, note=row.note)


# --- stop statuses ------------------------------------------------------------------------------------------


def _current(ctx: Context, alert: models.Alert, plan_version: int) -> models.Plan:
    """The alert's newest plan version, which a report must name (409 when it names an older one)."""
    plan = livestate.latest_plan(ctx.session, alert.id)
    if plan is None or plan_version > plan.version:
        raise NotFound(f"alert {alert.id} plan version", plan_version)
    if plan_version != plan.version:
        raise Conflict(f"plan version {plan_version} is no longer current (version {plan.version} is): "
                       "reload your manifest and report the stop again")
    return plan


def _route_stop(plan: models.Plan, driver_id: str, index: int) -> tuple[tuple[Stop, ...], Stop]:
    stop = plan.parsed.stop(driver_id, index)
    if stop is None:
        raise NotFound("stop", f"{driver_id}/{index} of plan version {plan.version}")
    return plan.parsed.stops_of(driver_id), stop


def _check_order(stops: tuple[Stop, ...], index: int, status: str, status_of: dict[int, str]) -> None:
    """Stops are done in driving order, so the leading done stops are exactly what has happened."""
    record = f"stop {index}"
    if status in DONE:
        waiting = next((i for i in range(index) if status_of.get(i) not in DONE), None)
        if waiting is not None:
            raise InputError(record, "stop_index", f"stop {waiting} before it is not done yet: stops are done in "
                                                   "order, report that one first")
    else:
        later = next((i for i in range(index + 1, len(stops)) if status_of.get(i) in DONE), None)
        if later is not None:
            raise InputError(record, "status", f"stop {later} after it is already done: a stop before a done "
                                               "stop cannot be undone")


def set_stop_status(
    ctx: Context, alert_id: int, data: ls.StopStatusUpdate, minute: float | None
) -> tuple[ls.StopStatusPublic, models.PlanJob | None]:
    """Record a stop's status on the current plan version (its driver or a coordinator); 409 on a stale version."""
    alert = alerts.get_alert(ctx, alert_id)
    coordinator = access.is_coordinator(ctx.user)
    if not coordinator and (alert.status != "active" or data.driver_id not in access.own_driver_ids(ctx.user,
                                                                                                     ctx.session)):
        raise NotFound("stop", f"{data.driver_id}/{data.stop_index} of plan version {data.plan_version}")
    _active(alert)
    alert = livestate.lock_alert(ctx.session, alert.id)
    plan = _current(ctx, alert, data.plan_version)
    stops, stop = _route_stop(plan, data.driver_id, data.stop_index)
    if data.status not in ALLOWED[stop.type]:
        allowed = ", ".join(sorted(ALLOWED[stop.type]))
        raise InputError(f"stop {data.stop_index}", "status", f"a {stop.type} stop takes one of: {allowed}")
    rows = {i: row for (d, i), row in livestate.statuses(ctx.session, plan.id).items() if d == data.driver_id}
    row = rows.get(data.stop_index)
    if (None if row is None else row.version) != data.version:
        raise StaleVersion("stop", f"{data.driver_id}/{data.stop_index}", data.version,
                           None if row is None else row.version)
    _check_order(stops, data.stop_index, data.status, {i: r.status for i, r in rows.items()})
    if row is None:
        row = models.StopStatus(plan_id=plan.id, driver_id=data.driver_id, stop_index=data.stop_index,
                                household_id=stop.household_id, status=data.status)
        ctx.session.add(row)
    row.status, row.note, row.by_user_id, row.at = data.status, data.note, ctx.user.id, models.utcnow()
    ctx.session.flush()
    audit.record(ctx.session, ctx.user, "update", "stop_status", row.id, alert_id=alert.id,
                 plan_version=plan.version, driver_id=data.driver_id, stop_index=data.stop_index, status=data.status)
    outbox.stop_reported(ctx.session, ctx.settings, alert, plan, row, stop)
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "stop_status", minute) if data.replan else None
    commit(ctx.session, "stop", f"{data.driver_id}/{data.stop_index}")
    return _stop_public(row, plan.version), job


def undo_miss(ctx: Context, alert_id: int, data: ls.StopUndo, minute: float | None
              ) -> tuple[ls.StopUndone, models.PlanJob | None]:
    """Take back a mistaken ``no_show``/``cannot_reach`` (its driver or a coordinator): the stop is waiting again.

    The report is removed from the current version and from the versions a re-plan carried it onto, so the
    household is no longer missed; the re-plan queued with it puts the household back in the plan.
    """
    alert = alerts.get_alert(ctx, alert_id)
    where = f"{data.driver_id}/{data.stop_index} of plan version {data.plan_version}"
    if not access.is_coordinator(ctx.user) and (
            alert.status != "active" or data.driver_id not in access.own_driver_ids(ctx.user, ctx.session)):
        raise NotFound("stop", where)
    _active(alert)
    alert = livestate.lock_alert(ctx.session, alert.id)
    plan = _current(ctx, alert, data.plan_version)
    stops, stop = _route_stop(plan, data.driver_id, data.stop_index)
    rows = {i: row for (d, i), row in livestate.statuses(ctx.session, plan.id).items() if d == data.driver_id}
    row = rows.get(data.stop_index)
    if row is None or row.status not in MISSED:
        raise Conflict(f"stop {where} has no no-show or cannot-reach report to take back")
    if row.version != data.version:
        raise StaleVersion("stop", f"{data.driver_id}/{data.stop_index}", data.version, row.version)
    _check_order(stops, data.stop_index, StopStatus.ON_THE_WAY, {i: r.status for i, r in rows.items()})
    undone = StopStatus(row.status)
    copies = livestate.missed_reports(ctx.session, alert.id, str(stop.household_id))
    for entry in copies:
        audit.record(ctx.session, ctx.user, "delete", "stop_status", entry.id, alert_id=alert.id,
                     plan_version=plan.version, driver_id=entry.driver_id, stop_index=entry.stop_index,
                     status=entry.status, undo=True, note=data.note)
        ctx.session.delete(entry)
    ctx.session.flush()
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "undo_stop", minute) if data.replan else None
    commit(ctx.session, "stop", f"{data.driver_id}/{data.stop_index}")
    return ls.StopUndone(plan_version=plan.version, driver_id=data.driver_id, stop_index=data.stop_index,
                         household_id=stop.household_id, undone=undone, removed=len(copies)), job


def list_stop_statuses(ctx: Context, alert_id: int, plan_version: int | None) -> list[ls.StopStatusPublic]:
    """Statuses of a plan version (default: the newest); non-coordinators see their own routes' only."""
    alert = alerts.get_alert(ctx, alert_id)
    plan = (livestate.latest_plan(ctx.session, alert.id) if plan_version is None else ctx.session.scalar(
        select(models.Plan).where(models.Plan.alert_id == alert.id, models.Plan.version == plan_version)))
    if plan is None:
        raise NotFound(f"alert {alert.id} plan version", plan_version if plan_version is not None else "(none yet)")
    mine = None if access.is_coordinator(ctx.user) else access.own_driver_ids(ctx.user, ctx.session)
    if mine is not None and alert.status != "active":
        mine = set()
    rows = sorted(livestate.statuses(ctx.session, plan.id).values(), key=lambda r: (r.driver_id, r.stop_index))
    return [_stop_public(r, plan.version) for r in rows if mine is None or r.driver_id in mine]


# --- events that queue a re-plan ----------------------------------------------------------------------------


def _dropout_public(row: models.Dropout) -> ls.DropoutPublic:
    return ls.DropoutPublic(alert_id=row.alert_id, driver_id=row.driver_id, vehicle_id=planning.db_id(row.driver_id),
                            by_user_id=row.by_user_id, at=row.at, note=row.note)


def _in_current_plan(ctx: Context, alert: models.Alert, data: ls.DropoutCreate, vehicle_ids: list[int]) -> None:
    """A drop-out names a car that drives in the current plan version (anything else would only re-plan)."""
    plan = livestate.latest_plan(ctx.session, alert.id)
    planned = set() if plan is None else plan.parsed.driver_ids()
    outside = [v for v in vehicle_ids if planning.plan_id("vehicle", v) not in planned]
    if outside:
        what = f"vehicle {outside[0]} is" if data.vehicle_id is not None else "none of your vehicles is"
        raise InputError("dropout", "vehicle_id", f"{what} in the current plan of alert {alert.id}: only a car that "
                                                  "has a route can drop out")


def drop_out(
    ctx: Context, alert_id: int, data: ls.DropoutCreate, minute: float | None
) -> tuple[list[ls.DropoutPublic], models.PlanJob]:
    """A vehicle can drive no more (its driver, or a coordinator); riders on board are still delivered."""
    alert = alerts.get_alert(ctx, alert_id)
    if data.vehicle_id is not None:
        vehicle_ids = [crud.find_vehicle(ctx, data.vehicle_id).id]
    elif access.is_coordinator(ctx.user):
        raise InputError("dropout", "vehicle_id", "name the vehicle that drops out")
    else:
        vehicle_ids = sorted(planning.db_id(d) or 0 for d in access.own_driver_ids(ctx.user, ctx.session))
        if not vehicle_ids:
            raise InputError("dropout", "vehicle_id", "you have no approved vehicles registered")
        plan = livestate.latest_plan(ctx.session, alert.id)
        planned = set() if plan is None else plan.parsed.driver_ids()
        vehicle_ids = [v for v in vehicle_ids if planning.plan_id("vehicle", v) in planned] or vehicle_ids
    _active(alert)
    alert = livestate.lock_alert(ctx.session, alert.id)
    _in_current_plan(ctx, alert, data, vehicle_ids)
    already = livestate.dropped_drivers(ctx.session, alert.id)
    drivers = [planning.plan_id("vehicle", v) for v in vehicle_ids if planning.plan_id("vehicle", v) not in already]
    if not drivers:
        raise Conflict(f"vehicle {', '.join(map(str, vehicle_ids))} already dropped out of alert {alert.id}")
    rows = [models.Dropout(alert_id=alert.id, driver_id=d, by_user_id=ctx.user.id, note=data.note) for d in drivers]
    ctx.session.add_all(rows)
    ctx.session.flush()
    for row in rows:
        audit.record(ctx.session, ctx.user, "create", "dropout", row.id, alert_id=alert.id, driver_id=row.driver_id)
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "dropout", minute)
    commit(ctx.session, "dropout", alert.id)
    return [_dropout_public(r) for r in rows], job


def add_closures(
    ctx: Context, alert_id: int, data: ls.ClosureCreate, minute: float | None
) -> tuple[models.Alert, models.PlanJob]:
    """Roads closed since the alert was posted are added to it (a coordinator), reopened ones taken off, and a
    re-plan is queued."""
    alert = alerts.get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="report road closures")
    _active(alert)
    if not data.closed_ways and not data.flood_zones and not data.reopened_ways:
        raise InputError("closure", "closed_ways", "give closed OSM way ids, flood-zone polygons, or both")
    both = sorted(set(data.closed_ways) & set(data.reopened_ways))
    if both:
        raise InputError("closure", "reopened_ways", f"ways {both} cannot be closed and reopened at once")
    zones = [zone.model_dump() for zone in data.flood_zones]
    planning.check_alert(alert.deadline_minutes, list(data.closed_ways), zones)
    alert = livestate.lock_alert(ctx.session, alert.id)
    not_closed = sorted(set(data.reopened_ways) - set(alert.closed_ways))
    if not_closed:
        raise InputError("closure", "reopened_ways", f"ways {not_closed[:10]} are not closed in this alert")
    ways = sorted((set(alert.closed_ways) | set(data.closed_ways)) - set(data.reopened_ways))
    all_zones = list(alert.flood_zones) + [z for z in zones if z not in alert.flood_zones]
    if len(ways) > MAX_CLOSED_WAYS or len(all_zones) > MAX_FLOOD_ZONES:
        raise InputError("closure", "closed_ways", f"an alert keeps at most {MAX_CLOSED_WAYS} closed ways and "
                                                   f"{MAX_FLOOD_ZONES} flood zones")
    alert.closed_ways, alert.flood_zones = ways, all_zones  # new lists, so the JSON columns are written
    audit.record(ctx.session, ctx.user, "update", "alert", alert.id, fields=["closed_ways", "flood_zones"],
                 closed_ways=list(data.closed_ways), reopened_ways=list(data.reopened_ways), flood_zones=len(zones))
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "closure", minute)
    commit(ctx.session, "alert", alert.id)
    return alert, job


def add_household(
    ctx: Context, alert_id: int, data: schemas.HouseholdCreate, minute: float | None
) -> tuple[models.Household, models.Alert, models.PlanJob]:
    """A new request during the alert: register the household, put it in the alert's scope, queue a re-plan."""
    alert = alerts.get_alert(ctx, alert_id)
    access.require_role(ctx.user, "registrar", "coordinator", action="register households")
    _active(alert)
    household = crud.new_household(ctx, data)
    ctx.session.add(household)
    ctx.session.flush()
    audit.record(ctx.session, ctx.user, "create", "household", household.id, alert_id=alert.id)
    alert = livestate.lock_alert(ctx.session, alert.id)
    if alert.household_ids is not None:  # ``None`` is every household: it is in scope already
        alert.household_ids = sorted({*alert.household_ids, household.id})
        audit.record(ctx.session, ctx.user, "update", "alert", alert.id, fields=["household_ids"],
                     added=household.id)
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "new_household", minute)
    commit(ctx.session, "alert", alert.id)
    return household, alert, job


def request_replan(ctx: Context, alert_id: int, minute: float | None, confirm: bool = False) -> models.PlanJob:
    """A coordinator asks for a re-plan from the live state now (or at ``minute``); ``confirm`` lets it publish
    even if it serves far fewer households than the current version (``jobs.check_served``)."""
    alert = alerts.get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="ask for re-plans")
    _active(alert)
    alert = livestate.lock_alert(ctx.session, alert.id)
    job = jobs.enqueue_replan(ctx.session, alert, ctx.user, "manual_replan", minute, confirmed=confirm)
    commit(ctx.session, "plan_job", job.id)
    return job
