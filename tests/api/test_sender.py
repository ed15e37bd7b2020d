"""The sender against the local Messages API server: retries with backoff, permanent failures, the per-person
and global limits, and the catalogues every message is written from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select, update

from api import models
from api.config import Settings
from api.db import Database
from api.messaging import texts
from api.messaging.localsms import LocalSMS
from api.messaging.sender import Sender
from tests.api.messaging_helpers import messaging_settings


@pytest.fixture
def sms() -> Iterator[LocalSMS]:
    with LocalSMS() as server:
        yield server


def _queue(db: Database, n: int, to: str | None = None) -> list[int]:
    with db.session() as session:
        rows = [models.Message(event="test", recipient=f"household:{i}", channel="sms",
                               to_address=to or f"+35840{i:07d}", template="reminder", language="en",
                               body=f"Hello {i}", status="queued") for i in range(n)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _rows(db: Database) -> list[models.Message]:
    with db.sessions() as session:
        return list(session.scalars(select(models.Message).order_by(models.Message.id)))


def _due_now(db: Database) -> None:
    """Let waiting messages be due (stands in for the backoff passing, without waiting for the clock)."""
    with db.session() as session:
        session.execute(update(models.Message).values(send_after=models.utcnow() - timedelta(seconds=1)))


def _sender(settings: Settings, sms: LocalSMS, **extra: Any) -> tuple[Database, Sender]:
    s = messaging_settings(settings, sms, None, **extra)
    db = Database(s)
    return db, Sender(db, s)


def test_temporary_failures_are_retried_with_backoff_then_sent_once(settings: Settings, sms: LocalSMS) -> None:
    db, sender = _sender(settings, sms, message_backoff_seconds=60)
    _queue(db, 1)
    sms.state.fail_next = 2
    assert sender.run_once() == 1
    row = _rows(db)[0]
    assert row.status == "queued" and row.attempts == 1 and "503" in (row.error or "")
    assert row.send_after > models.utcnow() + timedelta(seconds=50)  # not due again before its backoff
    assert sender.run_once() == 0
    _due_now(db)
    sender.run_once()
    row = _rows(db)[0]
    assert row.attempts == 2 and row.send_after > models.utcnow() + timedelta(seconds=110)  # doubled
    _due_now(db)
    sender.run_once()
    row = _rows(db)[0]
    assert row.status == "sent" and row.provider_id == sms.received[0].sid and len(sms.received) == 1
    sender.stop()
    db.dispose()


def test_gives_up_after_max_attempts_and_on_permanent_refusal(settings: Settings, sms: LocalSMS) -> None:
    db, sender = _sender(settings, sms, message_max_attempts=2)
    with db.session() as session:  # a number the provider refuses (not E.164): never retried
        session.add(models.Message(event="test", recipient="household:99", channel="sms", to_address="0401",
                                   template="reminder", body="x", status="queued"))
    sender.run_once()
    _queue(db, 1)
    sms.state.fail_next = 5
    sender.run_once()
    _due_now(db)
    sender.run_once()
    refused, first = _rows(db)
    assert first.status == "failed" and first.attempts == 2
    assert refused.status == "failed" and refused.attempts == 1 and "not a valid phone number" in (refused.error or "")
    sender.stop()
    db.dispose()


def test_per_person_limit_holds_messages_back_and_loses_none(settings: Settings, sms: LocalSMS) -> None:
    db, sender = _sender(settings, sms, per_person_per_hour=2)
    _queue(db, 4, to="+358401234567")
    while sender.run_once():
        pass
    rows = _rows(db)
    assert [r.status for r in rows].count("sent") == 2 and len(sms.received) == 2
    waiting = [r for r in rows if r.status == "queued"]
    assert len(waiting) == 2 and all("within an hour" in (r.error or "") for r in waiting)
    sender.stop()
    db.dispose()


def test_global_limit_per_minute(settings: Settings, sms: LocalSMS) -> None:
    db, sender = _sender(settings, sms, global_per_minute=3, per_person_per_hour=0)
    _queue(db, 5)
    while sender.run_once():
        pass
    assert len(sms.received) == 3 and [r.status for r in _rows(db)].count("queued") == 2
    sender.stop()
    db.dispose()


def test_credentials_never_in_errors(settings: Settings, sms: LocalSMS) -> None:
    """A wrong token is refused by the provider; the stored error names the status, never the token."""
    db, sender = _sender(settings, sms, twilio_auth_token="wrong-secret-token-123")
    _queue(db, 1)
    sender.run_once()
    row = _rows(db)[0]
    assert row.status == "failed" and "401" in (row.error or "") and "wrong-secret" not in (row.error or "")
    sender.stop()
    db.dispose()


def test_committed_catalogues_match_their_sources() -> None:
    """Every template is translated in every catalogue with the same placeholders, and the committed ``.mo``
    files are compiled from the ``.po`` files as they are (run ``python -m api.messaging.texts`` after editing)."""
    for language in texts.LANGUAGES[1:]:
        folder = texts.LOCALE_DIR / language / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as f:
            po = {m.id: m.string for m in read_po(f) if m.id}
        with (folder / "messages.mo").open("rb") as f:
            mo = {m.id: m.string for m in read_mo(f) if m.id}
        assert po == mo, f"{language}: messages.mo is out of date"
        for template, source in texts.TEXTS.items():
            assert po.get(source), f"{language}: {template} is not translated"
            values = {k: "X" for k in ("pickups", "time", "place", "link", "driver", "start", "end", "car",
                                       "shelter", "household", "alert", "seats", "wheelchair", "minutes")}
            assert texts.render(template, language, **values) != texts.render(template, "en", **values)
    assert texts.language_of("fi-FI") == "fi" and texts.language_of(["de", "es"]) == "es"
    assert texts.language_of("sv") == "en"
