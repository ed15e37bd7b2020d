"""Message operations behind the routes: the alert's messages and replies, check-ins, stale records, live changes."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api import access, alerts, audit, csvio, livestate, models, planning
from api.config import Settings
from api.crud import Context, commit
from api.errors import Conflict, NotFound
from api.messaging import channels, outbox, phones
from api.messaging import schemas as ms
from api.messaging.texts import Template, render


def _public(row: models.Message, settings: Settings) -> ms.MessagePublic:
    note = row.error
    if row.status == "queued":
        note = channels.not_sent_reason(row.channel, settings) or row.error
    to = phones.masked(row.to_address) if row.channel == "sms" else row.to_address
    return ms.MessagePublic(id=row.id, alert_id=row.alert_id, checkin_id=row.checkin_id, recipient=row.recipient,
                            channel=row.channel, to=to, template=row.template,  # type: ignore[arg-type]
                            language=row.language, body=row.body, status=row.status,  # type: ignore[arg-type]
                            attempts=row.attempts, note=note, created_at=row.created_at, send_after=row.send_after,
                            sent_at=row.sent_at, delivered_at=row.delivered_at)


def alert_messages(ctx: Context, alert_id: int, status: str | None, offset: int, limit: int) -> ms.AlertMessages:
    """A coordinator's view of what the alert sent to whom, newest first; audited (bodies name people and
    times)."""
    alert = alerts.get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="read the messages of an alert")
    query = select(models.Message).where(models.Message.alert_id == alert.id)
    if status is not None:
        query = query.where(models.Message.status == status)
    rows = ctx.session.scalars(query.order_by(models.Message.id.desc()).offset(offset).limit(limit)).all()
    counts = {str(r[0]): int(r[1]) for r in ctx.session.execute(
        select(models.Message.status, func.count()).where(models.Message.alert_id == alert.id)
        .group_by(models.Message.status)).all()}
    queued_channels = set(ctx.session.scalars(select(models.Message.channel).distinct().where(
        models.Message.alert_id == alert.id, models.Message.status == "queued")))
    blocked = sorted({f"{c}: {r}" for c in queued_channels if (r := channels.not_sent_reason(c, ctx.settings))})
    audit.record(ctx.session, ctx.user, "list", "message", None, alert_id=alert.id, count=len(rows))
    commit(ctx.session, "message")
    return ms.AlertMessages(summary=ms.MessageSummary(counts=counts, blocked=blocked),
                            messages=[_public(r, ctx.settings) for r in rows])


def resend(ctx: Context, message_id: int) -> ms.MessagePublic:
    """Queue an ``unknown`` message again, on a coordinator's word that it did not arrive. Only ``unknown`` ones:
    anything else is either on its way or known to have gone (409)."""
    access.require_role(ctx.user, "coordinator", action="resend messages")
    row = ctx.session.get(models.Message, message_id)
    if row is None:
        raise NotFound("message", message_id)
    if row.status != "unknown":
        raise Conflict(f"message {message_id} is {row.status}: only a message whose outcome is unknown is resent")
    row.status, row.claimed_by, row.handed_at, row.send_after = "queued", None, None, models.utcnow()
    row.error = "resent by a coordinator after its outcome was unknown"
    audit.record(ctx.session, ctx.user, "resend", "message", row.id, recipient=row.recipient, alert_id=row.alert_id)
    commit(ctx.session, "message", row.id)
    return _public(row, ctx.settings)


def alert_replies(ctx: Context, alert_id: int, offset: int, limit: int) -> list[ms.ReplyPublic]:
    alert = alerts.get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="read the replies of an alert")
    rows = ctx.session.scalars(select(models.Reply).where(models.Reply.alert_id == alert.id)
                               .order_by(models.Reply.id).offset(offset).limit(limit)).all()
    audit.record(ctx.session, ctx.user, "list", "reply", None, alert_id=alert.id, count=len(rows))
    commit(ctx.session, "reply")
    return [ms.ReplyPublic(id=r.id, alert_id=r.alert_id, message_id=r.message_id, recipient=r.recipient,
                           outcome=r.outcome, body=r.body, received_at=r.received_at) for r in rows]


def live_change(session: Session, alert_id: int) -> ms.LiveChange:
    """The alert's newest version and last stop report: cheap, and what the pages' live updates compare."""
    plan = livestate.latest_plan(session, alert_id)
    last = None if plan is None else session.scalar(
        select(func.max(models.StopStatus.at)).where(models.StopStatus.plan_id == plan.id))
    alert = session.get_one(models.Alert, alert_id)
    return ms.LiveChange(alert_id=alert_id, version=0 if plan is None else plan.version, status_at=last,
                         status=alert.status)


# --- check-ins -----------------------------------------------------------------------------------------------


def start_checkin(ctx: Context, data: ms.CheckinCreate) -> ms.CheckinPublic:
    """Ask every volunteer with a car and every household with a phone to confirm their record."""
    access.require_role(ctx.user, "coordinator", action="start check-ins")
    checkin = models.Checkin(started_by=ctx.user.id, note=data.note)
    ctx.session.add(checkin)
    ctx.session.flush()
    event, count = f"checkin:{checkin.id}", 0
    for household in ctx.session.scalars(select(models.Household).order_by(models.Household.id)):
        address = outbox.household_address(household, ctx.settings)
        if address is not None:
            outbox.queue(ctx.session, address, event, Template.CHECKIN_HOUSEHOLD,
                         render(Template.CHECKIN_HOUSEHOLD, address.language), checkin_id=checkin.id)
            count += 1
    cars = ctx.session.execute(
        select(models.User, func.sum(models.Vehicle.seats), func.sum(models.Vehicle.wheelchair_spaces))
        .join(models.Vehicle, models.Vehicle.owner_id == models.User.id).where(models.User.is_active.is_(True))
        .group_by(models.User.id).order_by(models.User.id)).all()
    for user, seats, wheelchair in cars:
        address = outbox.user_address(user, ctx.settings)
        body = render(Template.CHECKIN_VOLUNTEER, address.language, seats=int(seats or 0),
                      wheelchair=int(wheelchair or 0))
        outbox.queue(ctx.session, address, event, Template.CHECKIN_VOLUNTEER, body, checkin_id=checkin.id)
        count += 1
    audit.record(ctx.session, ctx.user, "create", "checkin", checkin.id, messages=count)
    commit(ctx.session, "checkin", checkin.id)
    return ms.CheckinPublic(id=checkin.id, started_by=checkin.started_by, started_at=checkin.started_at,
                            note=checkin.note, messages=count)


def list_checkins(ctx: Context) -> list[ms.CheckinPublic]:
    access.require_role(ctx.user, "coordinator", action="list check-ins")
    counts = Counter(ctx.session.scalars(select(models.Message.checkin_id).where(
        models.Message.checkin_id.is_not(None))))
    rows = ctx.session.scalars(select(models.Checkin).order_by(models.Checkin.id.desc()).limit(100))
    return [ms.CheckinPublic(id=c.id, started_by=c.started_by, started_at=c.started_at, note=c.note,
                             messages=counts[c.id]) for c in rows]


def answer(ctx: Context, data: ms.CheckinAnswer) -> list[ms.StaleRecord]:
    """Confirm (or flag as changed) records the user may change: their own cars, the households they registered
    (coordinators: any). 404 for a record they may not know about; nothing is written then."""
    now = models.utcnow()
    households = [ctx.session.get(models.Household, i) for i in sorted(set(data.household_ids))]
    vehicles = [ctx.session.get(models.Vehicle, i) for i in sorted(set(data.vehicle_ids))]
    for hid, h in zip(sorted(set(data.household_ids)), households, strict=True):
        if h is None or not access.can_change_household(ctx.user, h):
            raise NotFound("household", hid)
    for vid, v in zip(sorted(set(data.vehicle_ids)), vehicles, strict=True):
        if v is None or not access.can_read_vehicle(ctx.user, v):
            raise NotFound("vehicle", vid)
    out = []
    for kind, rows in (("household", households), ("vehicle", vehicles)):
        for row in rows:
            assert row is not None
            if data.changed:
                row.changed_at = now
            else:
                row.confirmed_at, row.changed_at = now, None
            audit.record(ctx.session, ctx.user, "checkin", kind, row.id, answer="changed" if data.changed else
                         "confirmed")
            out.append(_stale_public(kind, row))
    commit(ctx.session, "checkin answer")
    return out


def _stale_public(kind: str, row: models.Household | models.Vehicle) -> ms.StaleRecord:
    if isinstance(row, models.Household):
        return ms.StaleRecord(kind="household", id=row.id, label=row.name, owner_id=row.registrar_id,
                              confirmed_at=row.confirmed_at, changed_at=row.changed_at)
    return ms.StaleRecord(kind="vehicle", id=row.id, label=row.label, owner_id=row.owner_id,
                          confirmed_at=row.confirmed_at, changed_at=row.changed_at)


def stale(ctx: Context, days: int | None, kind: str | None, offset: int, limit: int) -> list[ms.StaleRecord]:
    """Records not confirmed within ``days`` (default the setting) or flagged changed: coordinators see all,
    registrars their households, volunteers their cars."""
    cutoff = models.utcnow() - timedelta(days=days or ctx.settings.checkin_stale_days)
    out: list[ms.StaleRecord] = []
    coordinator = access.is_coordinator(ctx.user)
    if kind in (None, "household"):
        q = select(models.Household).where(or_(models.Household.confirmed_at.is_(None),
                                               models.Household.confirmed_at < cutoff,
                                               models.Household.changed_at.is_not(None)))
        if not coordinator:
            q = q.where(models.Household.registrar_id == ctx.user.id)
        out += [_stale_public("household", h) for h in ctx.session.scalars(q.order_by(models.Household.id)
                                                                            .limit(offset + limit))]
    if kind in (None, "vehicle"):
        q2 = select(models.Vehicle).where(or_(models.Vehicle.confirmed_at.is_(None),
                                              models.Vehicle.confirmed_at < cutoff,
                                              models.Vehicle.changed_at.is_not(None)))
        if not coordinator:
            q2 = q2.where(models.Vehicle.owner_id == ctx.user.id)
        out += [_stale_public("vehicle", v) for v in ctx.session.scalars(q2.order_by(models.Vehicle.id)
                                                                          .limit(offset + limit))]
    page = out[offset:offset + limit]  # households first, then vehicles, each by id
    audit.record(ctx.session, ctx.user, "list", "stale_records", None, count=len(page))
    commit(ctx.session, "stale records")
    return page


# --- contact lists per team ---------------------------------------------------------------------------------------

CONTACT_COLUMNS = ["checkin_date", "driver_id", "driver_name", "driver_phone", "stop", "household_id",
                   "household_name", "household_phone", "address", "people", "wheelchair_users", "language",
                   "pickup_minute", "confirmed_at"]


def team_contacts(ctx: Context, checkin_id: int, driver_id: str) -> tuple[str, str]:
    """A driver's team after a check-in, as CSV: the driver and the households their car picks up in the newest
    plan version of the newest alert, each marked with the check-in's date. Coordinators, or the car's owner.
    Returns ``(file name, CSV text)``; audited as an export."""
    checkin = ctx.session.get(models.Checkin, checkin_id)
    if checkin is None:
        raise NotFound("check-in", checkin_id)
    vehicle_id = planning.db_id(driver_id)
    vehicle = None if vehicle_id is None else ctx.session.get(models.Vehicle, vehicle_id)
    if vehicle is None or not access.can_read_vehicle(ctx.user, vehicle):
        raise NotFound("team", driver_id)
    alert_id = ctx.session.scalar(select(models.Plan.alert_id).order_by(models.Plan.id.desc()).limit(1))
    plan = None if alert_id is None else livestate.latest_plan(ctx.session, alert_id)
    route = None if plan is None else next((r for r in plan.parsed.routes if r.driver_id == driver_id), None)
    stops = [] if route is None else [(i + 1, s) for i, s in enumerate(route.stops) if s.type == "pickup"]
    ids = sorted({planning.db_id(str(s.household_id)) or 0 for _, s in stops})
    homes = {h.id: h for h in ctx.session.scalars(select(models.Household).where(models.Household.id.in_(ids)))}
    owner = ctx.session.get_one(models.User, vehicle.owner_id)
    date = checkin.started_at.date().isoformat()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CONTACT_COLUMNS)
    for number, stop in stops:
        home = homes.get(planning.db_id(str(stop.household_id)) or 0)
        if home is None:
            continue
        writer.writerow([csvio._cell(v) for v in (
            date, driver_id, owner.name, owner.phone, number, stop.household_id, home.name, home.phone, home.address,
            home.people, home.wheelchair_users, home.language, round(stop.arrive_minute),
            home.confirmed_at.date().isoformat() if home.confirmed_at else "")])
    audit.record(ctx.session, ctx.user, "export", "team_contacts", vehicle.id, checkin_id=checkin.id,
                 households=ids)
    commit(ctx.session, "team contacts")
    return f"contacts-{driver_id}-{date}.csv", out.getvalue()
