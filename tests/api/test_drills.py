"""Drills from the service: a durable job through the same drill runner as ``evac drill``, its kept report,
comparison with the previous drill, contact lists, the report link, and who may ask how often."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import models
from api.drills import DrillRunner
from api.main import create_app
from matcher.cli import app as cli_app
from tests.api.conftest import make_settings, wipe
from tests.api.factories import Headers, kotka, login, make_user, seed_kotka, services, user, wait_job

#: A road of the bundled map (the storm-at-night drill floods it).
HIIDENKIRNUNTIE = 363960734


def _town(app: FastAPI, client: TestClient) -> tuple[Headers, int]:
    coordinator = user(app, client, "coord@example.org", "coordinator")
    make_user(app, "driver@example.org")
    seed_kotka(client, coordinator, "driver@example.org", households=8, vehicles=3)
    body = {"name": "Storm Aila", "deadline_minutes": 120}
    created = client.post("/alerts", headers=coordinator, json=body)
    assert created.status_code == 202, created.text
    assert wait_job(client, coordinator, created.json()["job"]["id"])["status"] == "done"
    return coordinator, created.json()["alert"]["id"]


def _wait(client: TestClient, headers: Headers, drill_id: int, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drill = client.get(f"/drills/{drill_id}", headers=headers).json()
        if drill["status"] in ("done", "failed"):
            return drill
        time.sleep(0.2)
    raise AssertionError(f"drill {drill_id} did not finish in {timeout} s")


def _check_in(app: FastAPI, client: TestClient, coordinator: Headers) -> list[int]:
    """Six of the eight households answer a check-in, one of them 60 days ago; the cars never did. The ids of the
    households that are stale for the report (not confirmed within 45 days)."""
    homes = sorted(h["id"] for h in client.get("/households", headers=coordinator).json())
    answered = client.post("/checkins/answers", headers=coordinator, json={"household_ids": homes[:6]})
    assert answered.status_code == 200, answered.text
    with services(app).db.session() as session:
        old = session.get_one(models.Household, homes[0])
        old.confirmed_at = models.utcnow() - timedelta(days=60)
    return [homes[0], *homes[6:]]


def test_drill_on_the_town_as_registered(app: FastAPI, client: TestClient) -> None:
    coordinator, alert_id = _town(app, client)
    stale = _check_in(app, client, coordinator)
    asked = client.post("/drills", headers=coordinator, json={"alert_id": alert_id, "runs": 2})
    assert asked.status_code == 202, asked.text
    assert asked.headers["Location"] == f"/drills/{asked.json()['id']}"
    first = _wait(client, coordinator, asked.json()["id"])
    assert first["status"] == "done", first["error"]
    # The scripted events: the first household not at home, the second late, the first car breaking down.
    assert [next(k for k in e if k not in ("minute", "note", "ready_minute")) for e in first["timeline"]] == [
        "no_show", "not_ready", "driver_drops_out"]
    assert first["summary"]["people_total"] == sum(h["people"] for h in kotka()["households"][:8])
    assert first["summary"]["previous_date"] is None

    drivers = client.get(f"/drills/{first['id']}/files/contacts/drivers.csv", headers=coordinator)
    assert drivers.status_code == 200 and drivers.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(drivers.text)))
    assert rows and {r["driver_name"] for r in rows} == {"driver"}
    names = {h["name"] for h in client.get("/households", headers=coordinator).json()}
    assert {r["household_name"] for r in rows} <= names

    # Roster freshness: the records not confirmed within EVAC_CHECKIN_STALE_DAYS (45) of the drill date, named.
    report = client.get(f"/drills/{first['id']}/files/report.json", headers=coordinator).json()
    fresh = report["roster_freshness"]
    assert fresh["days"] == 45 and fresh["as_of"] == first["drill_date"]
    assert (fresh["households"]["total"], fresh["households"]["stale"], fresh["households"]["never_confirmed"]) == (
        8, 3, 2)
    assert sorted(int(r["id"].lstrip("H")) for r in fresh["households"]["records"]) == sorted(stale)
    assert (fresh["drivers"]["total"], fresh["drivers"]["stale"]) == (3, 3)
    markdown = client.get(f"/drills/{first['id']}/files/report.md", headers=coordinator).text
    assert "## Roster freshness" in markdown and "3 of 3 drivers (3 never) and 3 of 8 households (2 never)" in markdown

    link = client.post(f"/drills/{first['id']}/report-link", headers=coordinator).json()
    page = client.get(link["url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<img" in page.text and "data:image/png;base64," in page.text
    key = link["url"].split("key=", 1)[1]
    assert client.get("/users/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401  # not a sign-in
    assert client.get(f"/drills/{first['id'] + 1}/report?key={key}").status_code == 401  # not another report

    second = client.post("/drills", headers=coordinator,
                         json={"alert_id": alert_id, "runs": 2, "seed": 3,
                               "events": [{"minute": 5, "action": "close_roads", "ways": [HIIDENKIRNUNTIE]}]})
    assert second.status_code == 202, second.text
    done = _wait(client, coordinator, second.json()["id"])
    assert done["status"] == "done", done["error"]
    assert done["summary"]["previous_date"] == first["drill_date"]  # compared with the first drill
    listed = client.get("/drills", headers=coordinator)
    assert [d["id"] for d in listed.json()] == [done["id"], first["id"]] and listed.headers["X-Total-Count"] == "2"
    with services(app).db.sessions() as session:
        reads = session.query(models.AuditEntry).filter_by(action="read", entity="drill").all()
        assert {r.detail.get("file") for r in reads if r.user_id} == {"contacts/drivers.csv", "report.html",
                                                                 "report.json", "report.md"}


def test_drills_are_for_coordinators_one_at_a_time_and_a_few_an_hour(database_url: str) -> None:
    """With no runner in this process the drill stays queued: a second is refused (409); past the hourly limit 429;
    others than coordinators get 403."""
    app = create_app(make_settings(database_url, worker_mode="external", drill_max_per_hour=2))
    wipe(database_url)
    with TestClient(app) as client:
        coordinator, alert_id = _town_external(app, client)
        first = client.post("/drills", headers=coordinator, json={"alert_id": alert_id, "runs": 1})
        assert first.status_code == 202, first.text
        assert client.post("/drills", headers=coordinator, json={"alert_id": alert_id}).status_code == 409
        with services(app).db.sessions() as session:
            session.get_one(models.DrillRun, first.json()["id"]).status = "failed"
            session.commit()
        assert client.post("/drills", headers=coordinator, json={"alert_id": alert_id}).status_code == 202
        with services(app).db.sessions() as session:
            for drill in session.query(models.DrillRun):
                drill.status = "failed"
            session.commit()
        assert client.post("/drills", headers=coordinator, json={"alert_id": alert_id}).status_code == 429
        volunteer = login(client, "driver@example.org")
        assert client.post("/drills", headers=volunteer, json={"alert_id": alert_id}).status_code == 403
        assert client.get("/drills", headers=volunteer).status_code == 403


def test_a_bad_scripted_event_names_the_event(app: FastAPI, client: TestClient) -> None:
    coordinator, alert_id = _town(app, client)
    bad = client.post("/drills", headers=coordinator, json={
        "alert_id": alert_id, "events": [{"minute": 5, "action": "driver_drops_out", "id": 999}]})
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"][0]["loc"] == ["body", "timeline[0].driver_drops_out"]
    assert "V999" in bad.json()["detail"][0]["msg"]
    assert client.get("/drills", headers=coordinator).json() == []


def _town_external(app: FastAPI, client: TestClient) -> tuple[Headers, int]:
    """The town and an alert without solving it (no runner): the alert row is all a drill request needs."""
    coordinator = user(app, client, "coord@example.org", "coordinator")
    make_user(app, "driver@example.org")
    seed_kotka(client, coordinator, "driver@example.org", households=4, vehicles=2)
    created = client.post("/alerts", headers=coordinator, json={"name": "Storm", "deadline_minutes": 120})
    assert created.status_code == 202, created.text
    return coordinator, created.json()["alert"]["id"]


def test_evac_drill_from_service(app: FastAPI, client: TestClient, settings: Any, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``evac drill --from-service`` drills the same town through the command line's report writer."""
    coordinator, alert_id = _town(app, client)
    for name, value in {"EVAC_DATABASE_URL": settings.database_url, "EVAC_GEOCODER": "none",
                        "EVAC_TIME_LIMIT_SECONDS": "1", "EVAC_MIGRATE_ON_START": "false"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli_app, ["drill", "--from-service", "--alert", str(alert_id), "--runs", "1",
                                          "--workers", "0", "--out", str(tmp_path), "--date", "2026-10-01"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert report["drill"]["key"] == "town as registered" and report["drill"]["date"] == "2026-10-01"
    assert report["figures"]["people_total"] == sum(h["people"] for h in kotka()["households"][:8])
    names = {h["name"] for h in client.get("/households", headers=coordinator).json()}
    rows = list(csv.DictReader((tmp_path / "contacts" / "households.csv").open(encoding="utf-8")))
    assert {r["household_name"] for r in rows} == names
    with services(app).db.sessions() as session:
        assert session.query(models.AuditEntry).filter_by(actor="evac drill --from-service").count() == 1
    missing = CliRunner().invoke(cli_app, ["drill", "--from-service", "--alert", "999", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no alert 999" in missing.output
    neither = CliRunner().invoke(cli_app, ["drill", "--out", str(tmp_path)])
    assert neither.exit_code == 2


def test_a_worker_process_runs_queued_drills_and_requeues_a_dead_ones(database_url: str) -> None:
    """Servers in external mode only queue; ``evac worker``'s drill runner claims and runs the drill. A drill whose
    worker went silent is put back in the queue, and run to the end by the next worker."""
    settings = make_settings(database_url, worker_mode="external", stale_after_seconds=1)
    app = create_app(settings)
    wipe(database_url)
    with TestClient(app) as client:
        coordinator, alert_id = _town_external(app, client)
        asked = client.post("/drills", headers=coordinator, json={"alert_id": alert_id, "runs": 1})
        assert asked.status_code == 202, asked.text
        db = services(app).db
        with db.sessions() as session:  # a worker claimed it, then died (kill -9: no heartbeat any more)
            drill = session.get_one(models.DrillRun, asked.json()["id"])
            drill.status, drill.claimed_by, drill.attempts = "running", "dead-worker", 1
            drill.heartbeat_at = models.utcnow() - timedelta(seconds=60)
            session.commit()
        assert DrillRunner(db, settings).run_once()
        done = client.get(f"/drills/{asked.json()['id']}", headers=coordinator).json()
        assert done["status"] == "done" and done["attempts"] == 2, done
        with db.sessions() as session:
            assert session.query(models.AuditEntry).filter_by(action="requeue", entity="drill").count() == 1
