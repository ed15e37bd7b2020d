"""Inbound replies: what a person's answer does, decided from the newest message sent to their number.

To an alert's message, a household's ``1``/``YES``/``KYLLÄ``/``SÍ`` confirms, ``2`` withdraws it (it leaves the
alert's scope and the existing re-plan job takes its pickup out of the plan), ``3`` raises a help request for the
coordinators; a driver's ``1`` acknowledges. To a check-in, ``1`` confirms the record and ``2`` flags it for its
registrar. ``STOP`` opts the number out of SMS until ``START``. Anything else gets one short help text per person
and event, and never creates or changes a request. A reply from an unknown number, to an ended alert, or seen
before (same provider message id) changes nothing; every reply is kept and audited.
"""

from __future__ import annotations

import enum
import logging
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import audit, jobs, livestate, models, planning
from api.config import Settings
from api.messaging import outbox, phones
from api.messaging.texts import Template, render

log = logging.getLogger(__name__)

YES = frozenset({"1", "YES", "Y", "KYLLA", "KYLLÄ", "SI", "SÍ"})
WITHDRAW, HELP = frozenset({"2"}), frozenset({"3"})
#: Twilio's own opt-out and opt-in keywords (it blocks sends to an opted-out number too).
STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "LOPETA"})
START = frozenset({"START", "UNSTOP", "ALOITA"})


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    HELP = "help"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    HELP_TEXT = "help_text"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    UNKNOWN_NUMBER = "unknown_number"
    ALERT_ENDED = "alert_ended"
    CHECKIN_CONFIRMED = "checkin_confirmed"
    CHECKIN_CHANGED = "checkin_changed"


#: Outcomes that answer the message they reply to (it is then shown ``replied``).
ANSWERS = frozenset({Outcome.CONFIRMED, Outcome.WITHDRAWN, Outcome.HELP, Outcome.CHECKIN_CONFIRMED,
                     Outcome.CHECKIN_CHANGED})


def keyword(body: str) -> str:
    """The reply's first word, upper case, without punctuation (``"Kyllä!"`` -> ``KYLLÄ``)."""
    words = unicodedata.normalize("NFC", body or "").strip().upper().split()
    return "".join(ch for ch in words[0] if ch.isalnum()) if words else ""


def _context(session: Session, phone: str) -> models.Message | None:
    """The newest message that reached this number: what its reply answers."""
    return session.scalar(
        select(models.Message).where(models.Message.to_address == phone, models.Message.channel == "sms",
                                     models.Message.status.in_(("sent", "delivered", "replied")))
        .order_by(models.Message.sent_at.desc(), models.Message.id.desc()).limit(1))


def handle(session: Session, settings: Settings, provider_id: str, sender: str, body: str) -> Outcome:
    """Act on one inbound SMS (in the caller's transaction, which the caller commits)."""
    if session.scalar(select(models.Reply.id).where(models.Reply.provider_id == provider_id)) is not None:
        log.info("reply %s seen before: ignored", provider_id)
        return Outcome.DUPLICATE
    phone = phones.e164(sender, settings.phone_region) or sender.strip()
    context = _context(session, phone)
    word = keyword(body)
    if context is None:
        outcome = Outcome.UNKNOWN_NUMBER
        log.warning("reply from unknown number %s: nothing changed", phones.masked(phone))
    elif word in STOP or word in START:
        outcome = _opt(session, phone, opt_out=word in STOP)
    elif context.checkin_id is not None:
        outcome = _checkin(session, settings, context, word)
    elif context.alert_id is not None:
        outcome = _alert(session, settings, context, word)
    else:
        outcome = Outcome.IGNORED
    reply = models.Reply(provider_id=provider_id, from_address=phone, body=body[:1600],
                         message_id=None if context is None else context.id,
                         alert_id=None if context is None else context.alert_id,
                         recipient=None if context is None else context.recipient, outcome=outcome.value)
    session.add(reply)
    if context is not None and outcome in ANSWERS:
        context.status = "replied"
    session.flush()
    audit.record(session, None, "reply", "message", None if context is None else context.id, actor="sms",
                 reply_id=reply.id, outcome=outcome.value, recipient=reply.recipient, alert_id=reply.alert_id)
    return outcome


def _opt(session: Session, phone: str, opt_out: bool) -> Outcome:
    row = session.get(models.OptOut, phone)
    if row is None:
        session.add(models.OptOut(phone=phone, active=opt_out))
    else:
        row.active, row.at = opt_out, models.utcnow()
    return Outcome.OPTED_OUT if opt_out else Outcome.OPTED_IN


def _help_text(session: Session, context: models.Message, template: Template, event: str) -> None:
    address = outbox.Address(context.recipient, "sms", context.to_address, context.language)
    outbox.queue(session, address, event, template, render(template, context.language), alert_id=context.alert_id,
                 checkin_id=context.checkin_id, once=True)


def _alert(session: Session, settings: Settings, context: models.Message, word: str) -> Outcome:
    assert context.alert_id is not None
    alert = livestate.lock_alert(session, context.alert_id)
    if alert.status != "active":
        log.info("reply to message %s after alert %s ended: nothing changed", context.id, alert.id)
        return Outcome.ALERT_ENDED
    kind, _, raw_id = context.recipient.partition(":")
    if kind != "household":  # a driver: "1" acknowledges; other answers are kept for the coordinators
        return Outcome.CONFIRMED if word in YES else Outcome.IGNORED
    household_id = int(raw_id)
    if word in HELP:  # even after withdrawing: a person asking for help is always heard
        _ask_coordinators(session, settings, alert, household_id)
        return Outcome.HELP
    in_scope = alert.household_ids is None or household_id in alert.household_ids
    if word in YES or word in WITHDRAW:
        if not in_scope:  # withdrawn already: nothing brings the request back by text
            return Outcome.IGNORED
        return Outcome.CONFIRMED if word in YES else _withdraw(session, alert, household_id, context)
    _help_text(session, context, Template.HELP_TEXT, f"helptext:{alert.id}")
    return Outcome.HELP_TEXT


def _withdraw(session: Session, alert: models.Alert, household_id: int, context: models.Message) -> Outcome:
    on_board = session.scalar(
        select(models.StopStatus.id).join(models.Plan, models.Plan.id == models.StopStatus.plan_id)
        .where(models.Plan.alert_id == alert.id,
               models.StopStatus.household_id == planning.plan_id("household", household_id),
               models.StopStatus.status.in_(("picked_up", "dropped_off"))).limit(1))
    if on_board is not None:  # already in the car: too late to withdraw by text
        return Outcome.IGNORED
    scope = alert.household_ids
    if scope is None:
        scope = list(session.scalars(select(models.Household.id).order_by(models.Household.id)))
    alert.household_ids = sorted(h for h in scope if h != household_id)
    audit.record(session, None, "update", "alert", alert.id, actor="sms", fields=["household_ids"],
                 withdrawn=household_id)
    if livestate.latest_plan(session, alert.id) is not None:
        jobs.enqueue_replan(session, alert, None, "withdrawn")
    _help_text(session, context, Template.WITHDRAWN, f"withdrawn:{alert.id}")
    return Outcome.WITHDRAWN


def _ask_coordinators(session: Session, settings: Settings, alert: models.Alert, household_id: int) -> None:
    coordinators = session.scalars(select(models.User).where(models.User.role == "coordinator",
                                                             models.User.is_active.is_(True)))
    for user in coordinators:
        address = outbox.user_address(user, settings)
        body = render(Template.COORDINATOR_HELP, address.language, household=household_id, alert=alert.id)
        outbox.queue(session, address, f"help:{alert.id}:{household_id}", Template.COORDINATOR_HELP, body,
                     alert_id=alert.id, once=True)


def _checkin(session: Session, settings: Settings, context: models.Message, word: str) -> Outcome:
    del settings
    kind, _, raw_id = context.recipient.partition(":")
    if word in YES or word in WITHDRAW:
        now = models.utcnow()
        rows: list[models.Household] | list[models.Vehicle]
        if kind == "household":
            found = session.get(models.Household, int(raw_id))
            rows = [] if found is None else [found]
        else:
            rows = list(session.scalars(select(models.Vehicle).where(models.Vehicle.owner_id == int(raw_id))))
        for row in rows:
            if word in YES:
                row.confirmed_at, row.changed_at = now, None
            else:
                row.changed_at = now
            audit.record(session, None, "checkin", "household" if kind == "household" else "vehicle", row.id,
                         actor="sms", checkin_id=context.checkin_id, answer="confirmed" if word in YES else "changed")
        return Outcome.CHECKIN_CONFIRMED if word in YES else Outcome.CHECKIN_CHANGED
    _help_text(session, context, Template.CHECKIN_HELP, f"checkinhelp:{context.checkin_id}")
    return Outcome.HELP_TEXT
