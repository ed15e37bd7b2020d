"""Plan jobs: safe claims, stale re-queueing, publish-or-nothing, failures, and crash recovery (kill -9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api import jobs, models, planning
from api.config import Settings
from api.db import Database
from api.main import create_app
from matcher.check import assert_plan_valid
from matcher.errors import InputError
from matcher.plan import Plan
from matcher.scenario import problem_from_dict
from tests.api.conftest import make_settings, wipe
from tests.api.factories import kotka, make_user, seed_kotka, user, wait_job


@pytest.fixture
def queued(settings: Settings) -> Iterator[tuple[Database, list[int]]]:
    """Three queued jobs of one alert (no runner: the app is never started here)."""
    db = Database(settings)
    with db.sessions() as session:
        owner = models.User(email="c@example.org", password_hash="x", role="coordinator")
        session.add(owner)
        session.flush()
        alert = models.Alert(deadline_minutes=60, created_by=owner.id, household_ids=None)
        session.add(alert)
        session.flush()
        ids = [jobs.enqueue(session, alert, owner, "alert").id for _ in range(3)]
        session.commit()
    yield db, ids
    db.dispose()


def test_concurrent_claims_take_different_jobs(queued: tuple[Database, list[int]]) -> None:
    """Six workers claim at once: each of the three jobs goes to exactly one of them."""
    db, ids = queued
    barrier = threading.Barrier(6)
    got: list[int | None] = []

    def worker(n: int) -> None:
        with db.sessions() as session:
            barrier.wait()
            got.append(jobs.claim(session, f"w{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(j for j in got if j is not None) == ids
    with db.sessions() as session:
        claimed = session.scalars(select(models.PlanJob.claimed_by)).all()
        assert len(set(claimed)) == 3


def test_stale_jobs_are_requeued_then_given_up(settings: Settings, queued: tuple[Database, list[int]]) -> None:
    db, ids = queued
    with db.sessions() as session:
        assert jobs.claim(session, "dead") == ids[0]
        old = jobs.now() - timedelta(seconds=settings.stale_after_seconds + 1)
        session.execute(update(models.PlanJob).where(models.PlanJob.id == ids[0]).values(heartbeat_at=old))
        session.commit()
        assert jobs.requeue_stale(session, settings, "next") == 1
        job = session.get_one(models.PlanJob, ids[0])
        assert (job.status, job.claimed_by, job.attempts) == ("queued", None, 1)
        # Now it dies on its last allowed attempt: failed, with a reason, not queued again.
        session.execute(update(models.PlanJob).where(models.PlanJob.id == ids[0]).values(
            status="running", attempts=settings.max_attempts, heartbeat_at=old))
        session.commit()
        jobs.requeue_stale(session, settings, "next")
        session.refresh(job)
        assert job.status == "failed" and "not retried" in (job.error or "")


def test_a_worker_that_lost_its_job_publishes_nothing(queued: tuple[Database, list[int]]) -> None:
    db, ids = queued
    solved = planning.SolvedPlan({"metrics": {}, "routes": [], "unserved": []}, {"type": "FeatureCollection"})
    with db.sessions() as session:
        assert jobs.claim(session, "slow") == ids[0]
        jobs.release(session, ids[0], "slow")  # as if re-queued after a missed heartbeat
        job = session.get_one(models.PlanJob, ids[0])
        assert jobs.publish(session, job, "slow", {}, solved) is None
        assert session.scalar(select(func.count()).select_from(models.Plan)) == 0
        assert jobs.claim(session, "fresh") == ids[0]
        assert jobs.publish(session, job, "fresh", {}, solved) == 1


def test_failed_solve_stores_the_reason(settings: Settings) -> None:
    """A solver error (bad input naming record and field) fails the job with that message; no plan."""

    def broken(_scenario: dict, _settings: Settings) -> planning.SolvedPlan:
        raise InputError("household H1", "lat", "off the map")

    app = create_app(settings)
    with TestClient(app) as client:
        app.state.services.runner.solver = broken
        coordinator = user(app, client, "coord@example.org", "coordinator")
        seed_kotka(client, coordinator, "coord@example.org", households=2, vehicles=1)
        created = client.post("/alerts", headers=coordinator, json={"deadline_minutes": 60})
        job = wait_job(client, coordinator, created.json()["job"]["id"])
    assert job["status"] == "failed" and job["error"] == "household H1: lat: off the map"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "EVAC_DATABASE_URL": settings.database_url,
        "EVAC_SECRET_KEY": "crash-test-secret-key-long-enough-for-hs256",
        "EVAC_GEOCODER": "none",
        "EVAC_POLL_SECONDS": "0.1",
        "EVAC_HEARTBEAT_SECONDS": "0.3",
        **extra,
    }


def _evac(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        # Own process group: the test kills exactly the server it started (and its children), nothing else.
        return subprocess.Popen([sys.executable, "-m", "matcher.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _job(db: Database, job_id: int) -> models.PlanJob:
    with db.sessions() as session:
        return session.get_one(models.PlanJob, job_id)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _queue_big_alert(settings: Settings) -> tuple[int, int]:
    """The whole demo (300 households, 60 cars) queued, so a solve runs for its full time limit."""
    app = create_app(settings.model_copy(update={"worker_mode": "external"}))
    with TestClient(app) as client:
        coordinator = user(app, client, "coord@example.org", "coordinator")
        make_user(app, "driver@example.org")
        seed_kotka(client, coordinator, "driver@example.org", households=300, vehicles=60)
        body = {"deadline_minutes": 180, "flood_zones": kotka()["alert"]["flood_zones"]}
        created = client.post("/alerts", headers=coordinator, json=body).json()
    return created["alert"]["id"], created["job"]["id"]


@pytest.mark.slow
def test_solve_survives_kill_9_of_the_server(settings: Settings, tmp_path: Path) -> None:
    """kill -9 of `evac serve` mid-solve: after a restart the job runs again, completes, and exactly one plan
    version exists; no plan was visible before it completed."""
    alert_id, job_id = _queue_big_alert(settings)
    db = Database(settings)
    env = _env(settings, EVAC_TIME_LIMIT_SECONDS="6", EVAC_STALE_AFTER_SECONDS="2")
    log = tmp_path / "serve.log"
    first = _evac("serve", "--port", str(_free_port()), env=env, log=log)
    try:
        _wait(lambda: _job(db, job_id).status == "running", 60, "the first server to claim the job")
        time.sleep(1.0)  # well inside the 6 s solve
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    job = _job(db, job_id)
    assert job.status == "running" and job.attempts == 1, log.read_text()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.Plan)) == 0
    second = _evac("serve", "--port", str(_free_port()), env=env, log=log)
    try:
        _wait(lambda: _job(db, job_id).status in ("done", "failed"), 120, "the restarted server to finish the job")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    job = _job(db, job_id)
    assert job.status == "done" and job.attempts == 2, (job.error, log.read_text()[-3000:])
    with db.sessions() as session:
        plans = session.scalars(select(models.Plan).where(models.Plan.alert_id == alert_id)).all()
        assert [p.version for p in plans] == [1] and plans[0].job_id == job_id
        scenario = problem_from_dict(plans[0].scenario)
        assert_plan_valid(scenario.problem, Plan.from_dict(plans[0].plan), scenario.graph, scenario.closed_mask)
    db.dispose()


def test_evac_worker_runs_a_queued_job(database_url: str, tmp_path: Path) -> None:
    """The scale-out path: a server that only queues (external mode) and an `evac worker` that solves."""
    wipe(database_url)
    settings = make_settings(database_url, worker_mode="external")
    app = create_app(settings)
    with TestClient(app) as client:
        coordinator = user(app, client, "coord@example.org", "coordinator")
        make_user(app, "driver@example.org")
        seed_kotka(client, coordinator, "driver@example.org", households=4, vehicles=2)
        job_id = client.post("/alerts", headers=coordinator, json={"deadline_minutes": 90}).json()["job"]["id"]
        time.sleep(0.5)
        assert client.get(f"/jobs/{job_id}", headers=coordinator).json()["status"] == "queued"
        worker = _evac("worker", "--once", env=_env(settings, EVAC_TIME_LIMIT_SECONDS="1"), log=tmp_path / "w.log")
        assert worker.wait(120) == 0, (tmp_path / "w.log").read_text()
        job = client.get(f"/jobs/{job_id}", headers=coordinator).json()
        assert job["status"] == "done" and job["plan_version"] == 1
