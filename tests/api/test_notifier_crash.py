"""``kill -9`` of a real ``evac notifier`` process mid-batch, on SQLite and PostgreSQL: no message is lost and none is
sent twice, over SMS (the provider is asked afterwards) and e-mail (a real aiosmtpd server, which cannot be asked).

SMS: the local Messages API server holds its answers after storing the ``HOLD_AT``-th message, so the process
(sending several at once on its threads) dies exactly between "the provider has it" and "we recorded it"; the next
notifier finds those at the provider and records them instead of sending them again, and sends the rest of the
batch it had claimed. E-mail: the SMTP server holds its answer to DATA the same way; the next notifier marks those
``unknown`` instead of sending them again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from api import models
from api.config import Settings
from api.db import Database
from api.messaging.localsms import LocalSMS
from tests.api.messaging_helpers import FROM, SID, TOKEN, Inbox, free_port

MESSAGES = 30
HOLD_AT = 8
EVAC = str(Path(sys.executable).parent / "evac")


def _seed(db: Database) -> None:
    with db.session() as session:
        for i in range(MESSAGES):
            session.add(models.Message(event="crash-test", recipient=f"household:{i}", channel="sms",
                                       to_address=f"+35840{i:07d}", template="reminder", language="en",
                                       body=f"Reminder {i}", status="queued"))


def _notifier(settings: Settings, sms: LocalSMS) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EVAC_DATABASE_URL": settings.database_url, "EVAC_SMS_PROVIDER": "twilio",
           "EVAC_TWILIO_BASE_URL": sms.base_url, "EVAC_TWILIO_ACCOUNT_SID": SID, "EVAC_TWILIO_AUTH_TOKEN": TOKEN,
           "EVAC_TWILIO_FROM": FROM, "EVAC_SMS_PER_SECOND": "0", "EVAC_NOTIFIER_BATCH": "5",
           "EVAC_MESSAGE_STALE_SECONDS": "1", "EVAC_POLL_SECONDS": "0.1", "EVAC_PER_PERSON_PER_HOUR": "0",
           "EVAC_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256"}
    return subprocess.Popen([EVAC, "notifier"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _until(check: Callable[[], bool], what: str, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _count(db: Database, status: str) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(models.Message)
                                  .where(models.Message.status == status)) or 0)


def test_kill_9_mid_batch_loses_and_duplicates_nothing(settings: Settings) -> None:
    db = Database(settings)
    _seed(db)
    with LocalSMS(SID, TOKEN) as sms:
        sms.state.hold_from = HOLD_AT
        first = _notifier(settings, sms)
        try:
            _until(lambda: len(sms.received) >= HOLD_AT, "the held send")
            time.sleep(0.2)  # nothing more can arrive: the process is stuck in the held request
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL
        held = len(sms.received)
        # At least the held message(s) reached the provider but were never recorded; they are still claimed.
        assert HOLD_AT <= held < MESSAGES
        assert _count(db, "sent") <= held - 1
        assert _count(db, "sending") >= held - _count(db, "sent")
        sms.release()

        second = _notifier(settings, sms)
        try:
            _until(lambda: _count(db, "sent") == MESSAGES, "every message recorded sent")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        bodies = [s.body for s in sms.received]
        assert len(bodies) == MESSAGES and len(set(bodies)) == MESSAGES, "each message handed over exactly once"
        with db.sessions() as session:
            rows = list(session.scalars(select(models.Message).order_by(models.Message.id)))
        by_body = {s.body: s.sid for s in sms.received}
        for row in rows:
            assert by_body[f"{row.body} [#{row.id}]"] == row.provider_id
    db.dispose()


# --- e-mail: SMTP cannot be asked afterwards ----------------------------------------------------------------------

class HoldingInbox(Inbox):
    """An SMTP handler that keeps every message and, from the ``hold_from``-th on, answers DATA only once released:
    the server has the message, the sender never hears so (the window a ``kill -9`` leaves behind)."""

    def __init__(self, hold_from: int) -> None:
        super().__init__()
        self.hold_from = hold_from
        self.gate = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(message_from_bytes(envelope.content))
            hold = len(self.mails) >= self.hold_from
        while hold and not self.gate.is_set():
            await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


def _seed_mail(db: Database) -> None:
    with db.session() as session:
        for i in range(MESSAGES):
            session.add(models.Message(event="crash-test", recipient=f"user:{i}", channel="email",
                                       to_address=f"person{i}@example.org", template="reminder", language="en",
                                       body=f"Reminder {i}", status="queued"))


def _mail_notifier(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EVAC_DATABASE_URL": settings.database_url, "EVAC_SMS_PROVIDER": "none",
           "EVAC_SMTP_HOST": "127.0.0.1", "EVAC_SMTP_PORT": str(port), "EVAC_SMTP_STARTTLS": "false",
           "EVAC_EMAIL_PER_SECOND": "0", "EVAC_NOTIFIER_BATCH": "5", "EVAC_MESSAGE_STALE_SECONDS": "1",
           "EVAC_POLL_SECONDS": "0.1", "EVAC_PER_PERSON_PER_HOUR": "0",
           "EVAC_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256"}
    return subprocess.Popen([EVAC, "notifier"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_while_the_mail_server_has_the_message_never_sends_it_twice(settings: Settings) -> None:
    """The e-mails in DATA when the sender is killed reached the server; SMTP cannot be asked whether they did, so
    the next sender marks them ``unknown`` (for a coordinator) instead of sending them again, and sends every
    other message of the batch exactly once."""
    db = Database(settings)
    _seed_mail(db)
    inbox = HoldingInbox(HOLD_AT)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        first = _mail_notifier(settings, port)
        try:
            _until(lambda: len(inbox.mails) >= HOLD_AT, "the held DATA")
            time.sleep(0.3)  # the rest of the batch reaches DATA too, or is held back behind it
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL
        held = len(inbox.mails)
        with db.sessions() as session:
            in_data = session.scalar(select(func.count()).select_from(models.Message).where(
                models.Message.status == "sending", models.Message.handed_at.is_not(None)))
        assert in_data is not None and in_data >= 1, "the held message was marked as being handed over"
        inbox.gate.set()

        second = _mail_notifier(settings, port)
        try:
            _until(lambda: _count(db, "sent") + _count(db, "unknown") == MESSAGES, "every message settled")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        controller.stop()
    ids = [m["Message-ID"] for m in inbox.mails]
    assert len(ids) == len(set(ids)) == MESSAGES, "each e-mail reached the server exactly once"
    with db.sessions() as session:
        rows = list(session.scalars(select(models.Message).order_by(models.Message.id)))
    unknown = [r for r in rows if r.status == "unknown"]
    # Only those that had reached DATA are unknown (and they did arrive); the rest were recorded sent.
    assert 1 <= len(unknown) <= held and all(r.handed_at is not None for r in unknown)
    assert all("may have gone" in (r.error or "") for r in unknown)
    assert {f"<evac-message-{r.id}@localhost>" for r in rows} == set(ids)
    db.dispose()
