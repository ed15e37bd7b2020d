"""The sender: claims queued messages like plan jobs, hands each to its channel once, records the provider's id.

Claiming is a ``SELECT ... FOR UPDATE SKIP LOCKED`` then a conditional ``UPDATE ... WHERE status = 'queued'`` (on
SQLite the lock clause is dropped and the conditional UPDATE alone makes the claim atomic), setting ``sending``,
``claimed_by`` and ``claimed_at``. Each message is recorded ``sent`` in its own commit right after the provider
accepts it. If the process dies between the two (``kill -9``), the row stays ``sending``; once its claim is older
than ``message_stale_seconds`` another sender takes it over and first asks the provider whether it has it (an SMS
body ends in the row's reference, ``[#id]``): found, it is recorded sent with the provider's id; not found, it is
queued again. So no message is lost and none goes twice to a person for one event. SMTP cannot be asked: a lost
e-mail record is sent again with the same Message-ID (docs/messages.md).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api import audit, models
from api.config import Settings
from api.db import Database
from api.jobs import _rowcount, worker_name
from api.messaging.channels import Channel, ChannelError, Outgoing, PermanentFailure, configured
from api.messaging.escalation import escalate
from api.messaging.texts import Template

log = logging.getLogger(__name__)

SUBJECTS = {Template.CHECKIN_HOUSEHOLD.value: "Monthly check-in", Template.CHECKIN_VOLUNTEER.value: "Monthly check-in",
            Template.COORDINATOR_HELP.value: "Help request"}
#: How often a sender looks for households and drivers gone quiet (``api.messaging.escalation``).
ESCALATE_SECONDS = 60.0
#: A message over the per-person limit waits this long before it is looked at again.
PERSON_WAIT = timedelta(minutes=5)


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
        # Sends wait on the provider's answer: a few at once keep the sender busy (each records its own message).
        self._next_escalation = 0.0
        self._pool = ThreadPoolExecutor(settings.notifier_threads, thread_name_prefix="message-send")

    # --- one cycle ------------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Take over stale claims, then claim and send one batch; how many messages were handled."""
        if not self.channels:
            return 0
        with self.db.sessions() as session:
            self.recover(session)
            self._escalate(session)
            ids = self.claim(session)
        # One person's messages go one after another (in order, and counted against their limit one by one);
        # different people's at once.
        by_person: dict[str, list[int]] = {}
        for message_id, to in ids:
            by_person.setdefault(to, []).append(message_id)
        list(self._pool.map(self._deliver_in_turn, by_person.values()))
        return len(ids)

    def _deliver_in_turn(self, ids: list[int]) -> None:
        for i, message_id in enumerate(ids):
            if self._stop.is_set():
                self.release(ids[i:])
                return
            self.deliver(message_id)

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

    def claim(self, session: Session) -> list[tuple[int, str]]:
        """Claim up to a batch of due messages on this sender's channels; ``(id, address)`` each. Commits."""
        room = self._global_room(session)
        now = models.utcnow()
        if room == 0:
            session.commit()
            return []
        ids = session.scalars(
            select(models.Message.id)
            .where(models.Message.status == "queued", models.Message.send_after <= now,
                   models.Message.channel.in_(sorted(self.channels)))
            .order_by(models.Message.send_after, models.Message.id).limit(room)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            session.commit()
            return []
        claimed = session.execute(
            update(models.Message)
            .where(models.Message.id.in_(ids), models.Message.status == "queued")
            .values(status="sending", claimed_by=self.worker, claimed_at=now)
            .returning(models.Message.id, models.Message.to_address)
        ).all()
        session.commit()
        return sorted((int(r[0]), str(r[1])) for r in claimed)

    def _hold(self, session: Session, message_id: int) -> models.Message | None:
        """The row, if this sender still holds it; its claim is refreshed so no one takes it over. Commits."""
        held = session.execute(
            update(models.Message)
            .where(models.Message.id == message_id, models.Message.claimed_by == self.worker,
                   models.Message.status == "sending")
            .values(claimed_at=models.utcnow())
        )
        session.commit()
        return session.get(models.Message, message_id, populate_existing=True) if _rowcount(held) else None

    def _blocked(self, session: Session, row: models.Message) -> str | None:
        """Why ``row`` may not go now: opted out (final), or its person's hourly limit (it waits)."""
        if row.channel == "sms":
            opt = session.get(models.OptOut, row.to_address)
            if opt is not None and opt.active:
                return "opted out"
        limit = self.settings.per_person_per_hour
        if limit:
            since = models.utcnow() - timedelta(hours=1)
            recent = session.scalar(select(func.count()).select_from(models.Message).where(
                models.Message.to_address == row.to_address, models.Message.sent_at >= since))
            if int(recent or 0) >= limit:
                return "person limit"
        return None

    def deliver(self, message_id: int) -> None:
        """Send one claimed message and record the outcome (each in its own commit)."""
        with self.db.sessions() as session:
            row = self._hold(session, message_id)
            if row is None:
                return
            blocked = self._blocked(session, row)
            if blocked == "opted out":
                self._finish(session, row, status="failed", error="not sent: the number answered STOP")
                return
            if blocked is not None:
                self._finish(session, row, status="queued", send_after=models.utcnow() + PERSON_WAIT,
                             claimed_by=None, error=f"waiting: more than {self.settings.per_person_per_hour} "
                                                    "messages to this person within an hour")
                return
            channel, outgoing = self.channels[row.channel], _outgoing(row)
        self.pace[row.channel].wait()
        try:
            provider_id = channel.send(outgoing)
        except ChannelError as exc:
            with self.db.sessions() as session:
                self._failed(session, message_id, exc)
            return
        except Exception as exc:  # a bug or an unexpected answer: retried like a network fault, and logged
            log.exception("message %s: sending failed", message_id)
            with self.db.sessions() as session:
                self._failed(session, message_id, ChannelError(f"internal error: {type(exc).__name__}"))
            return
        with self.db.sessions() as session:
            row = session.get_one(models.Message, message_id)
            self._finish(session, row, status="sent", provider_id=provider_id, sent_at=models.utcnow(), error=None)

    def _finish(self, session: Session, row: models.Message, **values: object) -> None:
        done = session.execute(
            update(models.Message)
            .where(models.Message.id == row.id, models.Message.claimed_by == self.worker,
                   models.Message.status == "sending")
            .values(**values)
        )
        if _rowcount(done):
            audit.record(session, None, "send" if values.get("status") == "sent" else "defer", "message", row.id,
                         actor=self.worker, channel=row.channel, template=row.template, recipient=row.recipient,
                         alert_id=row.alert_id, status=values.get("status"), error=values.get("error"))
        session.commit()

    def _failed(self, session: Session, message_id: int, exc: ChannelError) -> None:
        row = session.get_one(models.Message, message_id)
        attempts = row.attempts + 1
        final = isinstance(exc, PermanentFailure) or attempts >= self.settings.message_max_attempts
        backoff = self.settings.message_backoff_seconds * 2 ** (attempts - 1)
        values: dict[str, object] = {"attempts": attempts, "error": str(exc)[:1000]}
        if final:
            values["status"] = "failed"
        else:
            values.update(status="queued", claimed_by=None, send_after=models.utcnow() + timedelta(seconds=backoff))
        log.warning("message %s: %s (attempt %s%s)", message_id, exc, attempts, ", giving up" if final else "")
        self._finish(session, row, **values)

    def release(self, ids: list[int]) -> None:
        """Hand back claimed messages not yet sent (a stop was asked for)."""
        with self.db.sessions() as session:
            session.execute(update(models.Message).where(
                models.Message.id.in_(ids), models.Message.claimed_by == self.worker,
                models.Message.status == "sending").values(status="queued", claimed_by=None))
            session.commit()

    # --- crash recovery ---------------------------------------------------------------------------------------

    def recover(self, session: Session) -> int:
        """Take over messages whose sender went silent mid-send: recorded sent if the provider has them, else
        queued again. Commits; how many were taken over."""
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
            try:
                found = self.channels[row.channel].find_sent(_outgoing(row))
            except ChannelError as exc:
                log.warning("message %s: provider lookup failed (%s); trying again later", row.id, exc)
                continue  # still ours and claimed now: looked at again once stale
            if found is not None:
                self._finish(session, row, status="sent", provider_id=found, sent_at=models.utcnow(), error=None)
                log.warning("message %s: its sender stopped after sending; recorded from the provider", row.id)
            else:
                self._finish(session, row, status="queued", claimed_by=None,
                             error="its sender stopped before sending; queued again")
        return taken

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
