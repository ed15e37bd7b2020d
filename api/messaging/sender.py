"""The sender: claims queued messages like plan jobs, hands each to its channel once, records the provider's id.

A cycle is three kinds of transaction, whatever the batch size:

1. **Claim** (one transaction per batch): ``SELECT ... FOR UPDATE SKIP LOCKED`` then a conditional ``UPDATE ...
   WHERE status = 'queued'`` (on SQLite the lock clause is dropped and the conditional UPDATE alone makes the claim
   atomic), setting ``sending``, ``claimed_by`` and ``claimed_at``. In the same transaction the batch is checked
   against opt-outs (those fail: "the number answered STOP") and the per-person limit (those wait).
2. **Send**, on a few threads (one person's messages in order). Each SMS is checked against opt-outs again just
   before it goes: a batch can wait on the provider's pace for a minute, and a STOP in that time must hold. The
   batch's claim is refreshed in one UPDATE when it gets older than a third of ``message_stale_seconds``; a message
   this sender no longer holds is not sent. On a channel that cannot be asked afterwards whether it has a message
   (SMTP), ``handed_at`` is committed just before the step after which the provider may have it (DATA).
3. **Record**: each accepted message is recorded ``sent`` with the provider's id right after the provider answers;
   records that finish together share one commit (a group commit), so a busy sender commits a few times per batch
   instead of three times per message.

If the process dies between "the provider has it" and "recorded" (``kill -9``), the row stays ``sending``; once its
claim is older than ``message_stale_seconds`` another sender takes it over. Where the provider can be asked (SMS:
each body ends in the row's reference ``[#id]``; the log file), it is recorded sent with the provider's id if the
provider has it and queued again if not. Where it cannot (SMTP): a row without ``handed_at`` never reached DATA and
is queued again; a row with it may have gone, so it is **not** sent again but marked ``unknown`` for a coordinator
to resend or leave (docs/messages.md). So no message is lost and none goes twice to a person for one event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from api import models
from api.config import Settings
from api.db import Database
from api.jobs import _rowcount, worker_name
from api.messaging.channels import (
    Channel,
    ChannelError,
    ClaimLost,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    configured,
)
from api.messaging.escalation import escalate
from api.messaging.texts import Template

log = logging.getLogger(__name__)

SUBJECTS = {Template.CHECKIN_HOUSEHOLD.value: "Monthly check-in", Template.CHECKIN_VOLUNTEER.value: "Monthly check-in",
            Template.COORDINATOR_HELP.value: "Help request"}
#: How often a sender looks for households and drivers gone quiet (``api.messaging.escalation``).
ESCALATE_SECONDS = 60.0
#: A message over the per-person limit waits this long before it is looked at again.
PERSON_WAIT = timedelta(minutes=5)
OPTED_OUT_NOTE = "not sent: the number answered STOP"
UNKNOWN_NOTE = ("the sender lost touch while handing it to the mail server: it may have gone, so it is not sent "
                "again by itself; resend it only if the person did not get it")


_messages = cast(Table, models.Message.__table__)
#: "Sent, with the provider's id", for many rows at once (executemany) and only if still this sender's claim.
_RECORD_SENT = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"), _messages.c.claimed_by == bindparam("b_worker"),
           _messages.c.status == "sending")
    .values(status="sent", provider_id=bindparam("b_provider"), sent_at=bindparam("b_at"), error=None)
)


def _outgoing(row: models.Message) -> Outgoing:
    return Outgoing(id=row.id, to=row.to_address, body=row.body, subject=SUBJECTS.get(row.template, "Evacuation"),
                    claimed_at=row.created_at)


class _Pace:
    """At most ``per_second`` sends per channel from this process (0: no limit); shared by the send threads."""

    def __init__(self, per_second: float) -> None:
        self.gap = 1.0 / per_second if per_second > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.gap:
            return
        with self.lock:  # each caller books the next free slot, then sleeps until it outside the lock
            now = time.monotonic()
            slot = max(now, self.next)
            self.next = slot + self.gap
        if slot > now:
            time.sleep(slot - now)


@dataclass(frozen=True)
class _Claimed:
    """A claimed row, as the send threads need it (no ORM object crosses threads)."""

    id: int
    channel: str
    to: str
    template: str
    recipient: str
    alert_id: int | None
    outgoing: Outgoing


@dataclass(frozen=True)
class _Outcome:
    message: _Claimed
    values: dict[str, Any]


class _Lease:
    """The batch's claim: refreshed in one UPDATE when older than ``every`` seconds; the ids still held."""

    def __init__(self, sender: Sender, ids: list[int], every: float) -> None:
        self.sender, self.every = sender, every
        self.held, self.open = set(ids), set(ids)
        self.renewed = time.monotonic()
        self.lock = threading.Lock()

    def holds(self, message_id: int) -> bool:
        with self.lock:
            if time.monotonic() - self.renewed > self.every:
                self.held = self.sender.refresh(sorted(self.open & self.held))
                self.renewed = time.monotonic()
            return message_id in self.held

    def done(self, message_id: int) -> None:
        with self.lock:
            self.open.discard(message_id)


class Sender:
    """Delivers the outbox on the channels it has; runs as ``evac notifier``, in ``evac worker`` and in servers."""

    def __init__(self, db: Database, settings: Settings, channels: dict[str, Channel] | None = None) -> None:
        self.db, self.settings = db, settings
        self.channels = configured(settings) if channels is None else channels
        self.worker = worker_name()
        self.pace = {"sms": _Pace(settings.sms_per_second), "email": _Pace(settings.email_per_second),
                     "log": _Pace(0)}
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._next_escalation = 0.0
        # Sends wait on the provider's answer: a few at once keep the sender busy.
        self._pool = ThreadPoolExecutor(settings.notifier_threads, thread_name_prefix="message-send")
        # Group commit: outcomes wait in ``_pending``; whoever holds ``_flushing`` writes all of them in one commit.
        self._pending: list[_Outcome] = []
        self._pending_lock, self._flushing = threading.Lock(), threading.Lock()

    # --- one cycle ------------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Take over stale claims, then claim and send one batch; how many messages were handled."""
        if not self.channels:
            return 0
        with self.db.sessions() as session:
            self.recover(session)
            self._escalate(session)
            batch, handled = self.claim(session)
        if batch:
            lease = _Lease(self, [m.id for m in batch], max(0.5, self.settings.message_stale_seconds / 3))
            # One person's messages go one after another (in order); different people's at once.
            by_person: dict[str, list[_Claimed]] = {}
            for message in batch:
                by_person.setdefault(message.to, []).append(message)
            list(self._pool.map(lambda ms: self._deliver_in_turn(ms, lease), by_person.values()))
        return handled

    def _deliver_in_turn(self, messages: list[_Claimed], lease: _Lease) -> None:
        for i, message in enumerate(messages):
            if self._stop.is_set():
                self.release([m.id for m in messages[i:]])
                return
            self.deliver(message, lease)
            lease.done(message.id)

    def _escalate(self, session: Session) -> None:
        """Queue coordinators' messages about people gone quiet, at most every ``ESCALATE_SECONDS``."""
        if time.monotonic() < self._next_escalation:
            return
        self._next_escalation = time.monotonic() + ESCALATE_SECONDS
        if escalate(session, self.settings):
            session.commit()
        else:
            session.rollback()

    def _global_room(self, session: Session) -> int:
        limit = self.settings.global_per_minute
        if not limit:
            return self.settings.notifier_batch
        since = models.utcnow() - timedelta(minutes=1)
        sent = session.scalar(select(func.count()).select_from(models.Message).where(models.Message.sent_at >= since))
        return max(0, min(self.settings.notifier_batch, limit - int(sent or 0)))

    def claim(self, session: Session) -> tuple[list[_Claimed], int]:
        """Claim up to a batch of due messages on this sender's channels, and settle in the same transaction those
        that may not go (opted out: failed; over the per-person limit: waiting). ``(to send, rows handled)``.
        Commits."""
        room = self._global_room(session)
        now = models.utcnow()
        ids = [] if room == 0 else session.scalars(
            select(models.Message.id)
            .where(models.Message.status == "queued", models.Message.send_after <= now,
                   models.Message.channel.in_(sorted(self.channels)))
            .order_by(models.Message.send_after, models.Message.id).limit(room)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            session.commit()
            return [], 0
        claimed = session.scalars(
            update(models.Message)
            .where(models.Message.id.in_(ids), models.Message.status == "queued")
            .values(status="sending", claimed_by=self.worker, claimed_at=now, handed_at=None)
            .returning(models.Message.id)
        ).all()
        rows = session.scalars(select(models.Message).where(models.Message.id.in_(claimed))
                               .order_by(models.Message.id)).all()
        batch = self._settle(session, rows)
        session.commit()
        return batch, len(rows)

    def _settle(self, session: Session, rows: Any) -> list[_Claimed]:
        """Fail the claimed rows to numbers that answered STOP, hold back those over a person's hourly limit; the
        rest, to send."""
        phones = sorted({r.to_address for r in rows if r.channel == "sms"})
        opted = set(session.scalars(select(models.OptOut.phone).where(
            models.OptOut.phone.in_(phones), models.OptOut.active.is_(True)))) if phones else set()
        limit = self.settings.per_person_per_hour
        room: Counter[str] = Counter()
        if limit:
            since = models.utcnow() - timedelta(hours=1)
            recent = {str(r[0]): int(r[1]) for r in session.execute(
                select(models.Message.to_address, func.count()).where(
                    models.Message.to_address.in_(sorted({r.to_address for r in rows})),
                    models.Message.sent_at >= since).group_by(models.Message.to_address)).all()}
            room.update({to: limit - int(recent.get(to, 0)) for to in {r.to_address for r in rows}})
        out: list[_Claimed] = []
        for row in rows:
            if row.channel == "sms" and row.to_address in opted:
                self._settle_one(session, row, status="failed", error=OPTED_OUT_NOTE)
            elif limit and room[row.to_address] <= 0:
                self._settle_one(session, row, status="queued", claimed_by=None,
                                 send_after=models.utcnow() + PERSON_WAIT,
                                 error=f"waiting: more than {limit} messages to this person within an hour")
            else:
                room[row.to_address] -= 1
                out.append(_Claimed(row.id, row.channel, row.to_address, row.template, row.recipient, row.alert_id,
                                    _outgoing(row)))
        return out

    def _settle_one(self, session: Session, row: models.Message, **values: Any) -> None:
        for key, value in values.items():
            setattr(row, key, value)
        session.add(models.AuditEntry(
            user_id=None, actor=self.worker, action="defer", entity="message", entity_id=row.id,
            detail={"channel": row.channel, "template": row.template, "recipient": row.recipient,
                    "alert_id": row.alert_id, "status": values.get("status"), "error": values.get("error")}))

    def refresh(self, ids: list[int]) -> set[int]:
        """Renew this sender's claim on ``ids``; those it still holds. Commits."""
        if not ids:
            return set()
        with self.db.sessions() as session:
            held = session.scalars(
                update(models.Message)
                .where(models.Message.id.in_(ids), models.Message.claimed_by == self.worker,
                       models.Message.status == "sending")
                .values(claimed_at=models.utcnow()).returning(models.Message.id)).all()
            session.commit()
        return set(held)

    def _handing(self, message_id: int) -> Callable[[], None]:
        """The mark a channel that cannot be asked afterwards sets just before its point of no return."""
        def mark() -> None:
            with self.db.sessions() as session:
                done = session.execute(
                    update(models.Message)
                    .where(models.Message.id == message_id, models.Message.claimed_by == self.worker,
                           models.Message.status == "sending")
                    .values(handed_at=models.utcnow(), claimed_at=models.utcnow()))
                session.commit()
            if not _rowcount(done):
                raise ClaimLost(f"message {message_id} is no longer this sender's")
        return mark

    def deliver(self, message: _Claimed, lease: _Lease) -> None:
        """Send one claimed message and record the outcome."""
        self.pace[message.channel].wait()  # before the lease check: a wait for a slot may be long
        if not lease.holds(message.id):
            return  # another sender took it over: it is theirs now
        if message.channel == "sms" and self._opted_out(message.to):
            self._record(_Outcome(message, {"status": "failed", "error": OPTED_OUT_NOTE}))
            return
        channel = self.channels[message.channel]
        try:
            provider_id = channel.send(message.outgoing, self._handing(message.id))
        except ClaimLost:
            return
        except OutcomeUnknown as exc:
            log.warning("message %s: %s; marked unknown", message.id, exc)
            self._record(_Outcome(message, {"status": "unknown", "error": f"{UNKNOWN_NOTE} ({exc})"}))
            return
        except ChannelError as exc:
            self._record(_Outcome(message, self._failure(message.id, exc)))
            return
        except Exception as exc:  # a bug or an unexpected answer: retried like a network fault, and logged
            log.exception("message %s: sending failed", message.id)
            self._record(_Outcome(message, self._failure(message.id, ChannelError(
                f"internal error: {type(exc).__name__}"))))
            return
        self._record(_Outcome(message, {"status": "sent", "provider_id": provider_id, "sent_at": models.utcnow(),
                                        "error": None}))

    def _opted_out(self, phone: str) -> bool:
        with self.db.sessions() as session:
            return bool(session.scalar(select(models.OptOut.active).where(models.OptOut.phone == phone)))

    def _failure(self, message_id: int, exc: ChannelError) -> dict[str, Any]:
        with self.db.sessions() as session:
            attempts = int(session.scalar(select(models.Message.attempts).where(models.Message.id == message_id))
                           or 0) + 1
        final = isinstance(exc, PermanentFailure) or attempts >= self.settings.message_max_attempts
        backoff = self.settings.message_backoff_seconds * 2 ** (attempts - 1)
        values: dict[str, Any] = {"attempts": attempts, "error": str(exc)[:1000]}
        if final:
            values["status"] = "failed"
        else:
            values.update(status="queued", claimed_by=None, send_after=models.utcnow() + timedelta(seconds=backoff))
        log.warning("message %s: %s (attempt %s%s)", message_id, exc, attempts, ", giving up" if final else "")
        return values

    # --- recording (group commit) -------------------------------------------------------------------------------

    def _record(self, outcome: _Outcome) -> None:
        """Record ``outcome``; returns once it is committed (by this thread, or by one that took it along)."""
        with self._pending_lock:
            self._pending.append(outcome)
        with self._flushing:
            with self._pending_lock:
                outcomes, self._pending = self._pending, []
            if outcomes:
                with self.db.sessions() as session:
                    self._write(session, outcomes)
                    session.commit()

    def _write(self, session: Session, outcomes: list[_Outcome]) -> None:
        """Each outcome on its row if this sender still holds it (sent ones in one executemany UPDATE, a statement
        compiled once); audited. Runs in the caller's transaction."""
        sent = [o for o in outcomes if o.values.get("status") == "sent"]
        recorded: set[int] = set()
        if sent:
            session.execute(_RECORD_SENT, [{"b_id": o.message.id, "b_worker": self.worker,
                                            "b_provider": o.values["provider_id"], "b_at": o.values["sent_at"]}
                                           for o in sent])
            # Our UPDATE holds these rows (PostgreSQL row locks; SQLite's write lock) until the commit, so this
            # reads what it did: rows recorded with our provider id were still ours.
            ours = {o.message.id: o.values["provider_id"] for o in sent}
            recorded |= {int(r[0]) for r in session.execute(
                select(models.Message.id, models.Message.provider_id)
                .where(models.Message.id.in_(sorted(ours)), models.Message.claimed_by == self.worker,
                       models.Message.status == "sent")).all() if ours.get(int(r[0])) == r[1]}
        for outcome in outcomes:
            if outcome.values.get("status") == "sent":
                continue
            done = session.execute(
                update(models.Message)
                .where(models.Message.id == outcome.message.id, models.Message.claimed_by == self.worker,
                       models.Message.status == "sending")
                .values(**outcome.values))
            if _rowcount(done):
                recorded.add(outcome.message.id)
        entries = [{"user_id": None, "actor": self.worker, "entity": "message", "entity_id": o.message.id,
                    "action": "send" if o.values.get("status") == "sent" else "defer", "at": models.utcnow(),
                    "detail": {"channel": o.message.channel, "template": o.message.template,
                               "recipient": o.message.recipient, "alert_id": o.message.alert_id,
                               "status": o.values.get("status"), "error": o.values.get("error")}}
                   for o in outcomes if o.message.id in recorded]
        if entries:
            session.execute(insert(models.AuditEntry), entries)

    def release(self, ids: list[int]) -> None:
        """Hand back claimed messages not yet sent (a stop was asked for)."""
        with self.db.sessions() as session:
            session.execute(update(models.Message).where(
                models.Message.id.in_(ids), models.Message.claimed_by == self.worker,
                models.Message.status == "sending").values(status="queued", claimed_by=None, handed_at=None))
            session.commit()

    # --- crash recovery ---------------------------------------------------------------------------------------

    def recover(self, session: Session) -> int:
        """Take over messages whose sender went silent mid-send: recorded sent if the provider has them, queued again
        if it does not or if they never reached the provider, ``unknown`` if the provider cannot be asked and they
        may have reached it. Commits; how many were taken over."""
        cutoff = models.utcnow() - timedelta(seconds=self.settings.message_stale_seconds)
        stale = session.scalars(
            select(models.Message).where(models.Message.status == "sending", models.Message.claimed_at < cutoff,
                                         models.Message.channel.in_(sorted(self.channels)))
            .order_by(models.Message.id).limit(self.settings.notifier_batch)
        ).all()
        taken = 0
        for row in stale:
            took = session.execute(
                update(models.Message)
                .where(models.Message.id == row.id, models.Message.status == "sending",
                       models.Message.claimed_by == row.claimed_by, models.Message.claimed_at == row.claimed_at)
                .values(claimed_by=self.worker, claimed_at=models.utcnow())
            )
            session.commit()
            if not _rowcount(took):
                continue  # another sender took it over first
            taken += 1
            self._take_over(session, row)
        return taken

    def _take_over(self, session: Session, row: models.Message) -> None:
        channel = self.channels[row.channel]
        message = _Claimed(row.id, row.channel, row.to_address, row.template, row.recipient, row.alert_id,
                           _outgoing(row))
        if not channel.can_look_up:
            if row.handed_at is None:
                values: dict[str, Any] = {"status": "queued", "claimed_by": None,
                                          "error": "its sender stopped before handing it over; queued again"}
            else:
                values = {"status": "unknown", "error": UNKNOWN_NOTE}
                log.warning("message %s: its sender stopped while handing it over; marked unknown", row.id)
            self._write(session, [_Outcome(message, values)])
            session.commit()
            return
        try:
            found = channel.find_sent(message.outgoing)
        except ChannelError as exc:
            log.warning("message %s: provider lookup failed (%s); trying again later", row.id, exc)
            return  # still ours and claimed now: looked at again once stale
        if found is not None:
            values = {"status": "sent", "provider_id": found, "sent_at": models.utcnow(), "error": None}
            log.warning("message %s: its sender stopped after sending; recorded from the provider", row.id)
        else:
            values = {"status": "queued", "claimed_by": None,
                      "error": "its sender stopped before sending; queued again"}
        self._write(session, [_Outcome(message, values)])
        session.commit()

    # --- the loop ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the database may be briefly unreachable; keep going
                log.exception("sender: cycle failed")
                handled = 0
            if not handled:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="message-sender", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True)
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
