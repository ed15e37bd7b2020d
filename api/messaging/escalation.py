"""Telling coordinators who went quiet: a household that has not confirmed its ride within
``confirm_within_minutes`` of being told, and a driver (reached by SMS) who has not acknowledged the plan within
``ack_within_minutes``. One message per person and alert to every active coordinator; only while the alert is
active. The sender runs this every minute or so."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import models
from api.config import Settings
from api.messaging import outbox
from api.messaging.reach import Senses
from api.messaging.texts import Template, render

HOUSEHOLD_TEMPLATES = (Template.HOUSEHOLD_ASSIGNED.value, Template.HOUSEHOLD_CHANGED.value)
DRIVER_TEMPLATES = (Template.DRIVER_PLAN.value, Template.DRIVER_CHANGED.value)


def _quiet(session: Session, templates: tuple[str, ...], minutes: float) -> list[models.Message]:
    """Messages of ``templates`` sent over ``minutes`` ago by SMS, on active alerts, whose person never answered
    any of them (a reply marks its message ``replied``)."""
    cutoff = models.utcnow() - timedelta(minutes=minutes)
    rows = session.scalars(
        select(models.Message).join(models.Alert, models.Alert.id == models.Message.alert_id)
        .where(models.Alert.status == "active", models.Message.template.in_(templates),
               models.Message.channel == "sms")
        .order_by(models.Message.id)).all()
    answered = {(r.alert_id, r.recipient) for r in rows if r.status == "replied"}
    quiet: dict[tuple[int | None, str], models.Message] = {}
    for row in rows:
        key = (row.alert_id, row.recipient)
        if key in answered or row.status not in ("sent", "delivered") or row.sent_at is None:
            continue
        if row.sent_at <= cutoff:
            quiet.setdefault(key, row)
    return list(quiet.values())


def _unphoneable(session: Session, household_id: str, template: Template) -> Template:
    """"Please call them" becomes "do not phone: text them or go to the door" for a household whose messages may
    not rely on voice (``api.messaging.reach``)."""
    if template != Template.COORDINATOR_UNCONFIRMED or not household_id.isdigit():
        return template
    row = session.get(models.Household, int(household_id))
    if row is not None and Senses.of(row.needs or []).no_voice:
        return Template.COORDINATOR_UNCONFIRMED_TEXT
    return template


def escalate(session: Session, settings: Settings) -> int:
    """Queue the coordinators' messages due now (in the caller's transaction); how many were queued."""
    coordinators = outbox.coordinators(session, settings)
    count = 0
    checks = ((HOUSEHOLD_TEMPLATES, settings.confirm_within_minutes, Template.COORDINATOR_UNCONFIRMED, "unconfirmed"),
              (DRIVER_TEMPLATES, settings.ack_within_minutes, Template.COORDINATOR_NO_ACK, "noack"))
    for templates, minutes, template, name in checks:
        if minutes <= 0:
            continue
        for row in _quiet(session, templates, minutes):
            who = row.recipient.partition(":")[2]
            car = row.event.rsplit(":", 1)[-1].lstrip("V") if name == "noack" else ""
            said = _unphoneable(session, who, template)
            for address in coordinators:
                body = render(said, address.language, household=who, car=car, alert=row.alert_id,
                              minutes=round(minutes))
                if outbox.queue(session, address, f"{name}:{row.alert_id}:{row.recipient}", said, body,
                                alert_id=row.alert_id, once=True) is not None:
                    count += 1
    return count
