"""``kill -9`` of a real ``evac notifier`` process mid-batch, on SQLite and PostgreSQL: no message is lost and none is
sent twice. The local Messages API server holds its answers after storing the ``HOLD_AT``-th message, so the
process (sending several at once on its threads) dies exactly between "the provider has it" and "we recorded it";
the next notifier finds those at the provider and records them instead of sending them again, and sends the rest
of the batch it had claimed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from api import models
from api.config import Settings
from api.db import Database
from api.messaging.localsms import LocalSMS
from tests.api.messaging_helpers import FROM, SID, TOKEN

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
