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


def _seed(db: Database, channel: str, address: Callable[[int], str]) -> None:
    """``MESSAGES`` queued reminders on ``channel``, the ``i``-th to ``address(i)``."""
    recipient = "household" if channel == "sms" else "user"
    with db.session() as session:
        for i in range(MESSAGES):
            session.add(models.Message(event="crash-test", recipient=f"{recipient}:{i}", channel=channel,
                                       to_address=address(i), template="reminder", language="en",
                                       body=f"Reminder {i}", status="queued"))


def _notifier(settings: Settings, **channel_env: str) -> subprocess.Popen[bytes]:
    """A real ``evac notifier`` process on ``settings``' database, batches of 5, no rate limits; ``channel_env``
    points it at the provider under test."""
    env = {**os.environ, "EVAC_DATABASE_URL": settings.database_url, "EVAC_NOTIFIER_BATCH": "5",
           "EVAC_MESSAGE_STALE_SECONDS": "1", "EVAC_POLL_SECONDS": "0.1", "EVAC_PER_PERSON_PER_HOUR": "0",
           "EVAC_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256", **channel_env}
    return subprocess.Popen([EVAC, "notifier"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _sms_notifier(settings: Settings, sms: LocalSMS) -> subprocess.Popen[bytes]:
    return _notifier(settings, EVAC_SMS_PROVIDER="twilio", EVAC_TWILIO_BASE_URL=sms.base_url,
                     EVAC_TWILIO_ACCOUNT_SID=SID, EVAC_TWILIO_AUTH_TOKEN=TOKEN, EVAC_TWILIO_FROM=FROM,
                     EVAC_SMS_PER_SECOND="0")


def _mail_notifier(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    return _notifier(settings, EVAC_SMS_PROVIDER="none", EVAC_SMTP_HOST="127.0.0.1", EVAC_SMTP_PORT=str(port),
                     EVAC_SMTP_STARTTLS="false", EVAC_EMAIL_PER_SECOND="0")


def _kill_9_when(process: subprocess.Popen[bytes], check: Callable[[], bool], what: str, settle: float) -> None:
    """``SIGKILL`` ``process`` once ``check`` holds and ``settle`` seconds more have passed (so that whatever else
    can reach the provider has), and make sure it died of it."""
    try:
        _until(check, what)
        time.sleep(settle)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL


def _run_until(process: subprocess.Popen[bytes], check: Callable[[], bool], what: str) -> None:
    """Let ``process`` work until ``check`` holds, then stop it as a service manager would (``SIGTERM``)."""
    try:
        _until(check, what)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


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
    _seed(db, "sms", lambda i: f"+35840{i:07d}")
    with LocalSMS(SID, TOKEN) as sms:
        sms.state.hold_from = HOLD_AT
        # After 0.2 s nothing more can arrive: the process is stuck in the held request.
        _kill_9_when(_sms_notifier(settings, sms), lambda: len(sms.received) >= HOLD_AT, "the held send", 0.2)
        held = len(sms.received)
        # At least the held message(s) reached the provider but were never recorded; they are still claimed.
        assert HOLD_AT <= held < MESSAGES
        assert _count(db, "sent") <= held - 1
        assert _count(db, "sending") >= held - _count(db, "sent")
        sms.release()

        _run_until(_sms_notifier(settings, sms), lambda: _count(db, "sent") == MESSAGES, "every message recorded sent")
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


def test_kill_9_while_the_mail_server_has_the_message_never_sends_it_twice(settings: Settings) -> None:
    """The e-mails in DATA when the sender is killed reached the server; SMTP cannot be asked whether they did, so
    the next sender marks them ``unknown`` (for a coordinator) instead of sending them again, and sends every
    other message of the batch exactly once."""
    db = Database(settings)
    _seed(db, "email", lambda i: f"person{i}@example.org")
    inbox = HoldingInbox(HOLD_AT)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # After 0.3 s the rest of the batch has reached DATA too, or is held back behind it.
        _kill_9_when(_mail_notifier(settings, port), lambda: len(inbox.mails) >= HOLD_AT, "the held DATA", 0.3)
        held = len(inbox.mails)
        with db.sessions() as session:
            in_data = session.scalar(select(func.count()).select_from(models.Message).where(
                models.Message.status == "sending", models.Message.handed_at.is_not(None)))
        assert in_data is not None and in_data >= 1, "the held message was marked as being handed over"
        inbox.gate.set()

        _run_until(_mail_notifier(settings, port), lambda: _count(db, "sent") + _count(db, "unknown") == MESSAGES,
                   "every message settled")
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
