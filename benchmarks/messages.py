"""Messages benchmark: from a plan version published to every message handed to the SMS provider, at 1,000
households and 200 drivers, against the local Messages API server in its own process (rate limits off).

    python -m benchmarks.messages [--households 1000] [--drivers 200] [--database-url URL]

Prints: the time to queue the messages in the publishing transaction, the time until the provider has every
message, the messages after a re-plan that moves 20 households to other drivers (against the people it affects),
and the sender's throughput per CPU second. The plan is built directly (every driver gets an even share of
pickups at spread times), so the figures measure the outbox and the sender, not the solver.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api import migrate, models
from api.config import Settings
from api.db import Database
from api.messaging import outbox
from api.messaging.sender import Sender
from api.messaging.texts import Template

SID, TOKEN = "ACbench", "bench-token"


def _roster(db: Database, households: int, drivers: int) -> int:
    """Drivers (an account with a phone and a car each), households, an alert; the alert's id."""
    with db.session() as session:
        coordinator = models.User(email="c@example.org", password_hash="-", role="coordinator")
        session.add(coordinator)
        session.flush()
        users = [models.User(email=f"d{i}@example.org", password_hash="-", role="volunteer", name=f"Driver{i} X",
                             phone=f"+35850{i:07d}") for i in range(drivers)]
        session.add_all(users)
        session.flush()
        session.add_all([models.Vehicle(owner_id=u.id, label=f"Car {u.id}", seats=4, lat=60.5, lon=26.9)
                         for u in users])
        session.add_all([models.Household(registrar_id=coordinator.id, name=f"H {i}", phone=f"+35840{i:07d}",
                                          address=f"Street {i}", lat=60.5, lon=26.9, people=2,
                                          language=("fi", "es", "en")[i % 3]) for i in range(households)])
        alert = models.Alert(name="bench", deadline_minutes=240, created_by=coordinator.id)
        session.add(alert)
        session.flush()
        return alert.id


def _slots(households: int, drivers: int, swaps: list[tuple[int, int]] = ()) -> dict[int, list[int]]:
    """Per driver, its households in driving order; ``swaps`` exchange two households' places (driver and time)."""
    per: dict[int, list[int]] = {d: [] for d in range(drivers)}
    for h in range(households):
        per[h % drivers].append(h)
    where = {h: (d, k) for d, hs in per.items() for k, h in enumerate(hs)}
    for a, b in swaps:
        (da, ka), (db, kb) = where[a], where[b]
        per[da][ka], per[db][kb] = b, a
        where[a], where[b] = (db, kb), (da, ka)
    return per


def _plan(per: dict[int, list[int]]) -> dict:
    routes = []
    for d, hs in per.items():
        stops = [{"type": "pickup", "household_id": f"H{h + 1}", "people": 2, "wheelchair_users": 0, "lat": 60.5,
                  "lon": 26.9, "arrive_minute": 5.0 + 12.0 * k, "depart_minute": 7.0 + 12.0 * k}
                 for k, h in enumerate(hs)]
        stops.append({"type": "dropoff", "shelter_id": "S1", "household_ids": [s["household_id"] for s in stops],
                      "people": 2 * len(hs), "wheelchair_users": 0, "lat": 60.5, "lon": 26.9,
                      "arrive_minute": 80.0, "depart_minute": 82.0})
        routes.append({"driver_id": f"V{d + 1}", "stops": stops, "legs": []})
    return {"routes": routes, "unserved": [], "metrics": {}}


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _publish(db: Database, settings: Settings, alert_id: int, version: int, plan: dict) -> tuple[int, float]:
    """Insert a plan version and queue its messages in one transaction; (messages queued, seconds)."""
    start = time.perf_counter()
    with db.session() as session:
        job = models.PlanJob(alert_id=alert_id, status="done", kind="plan" if version == 1 else "replan")
        session.add(job)
        session.flush()
        row = models.Plan(alert_id=alert_id, version=version, job_id=job.id, plan=plan, geojson={}, scenario={})
        session.add(row)
        session.flush()
        count = outbox.plan_published(session, settings, row)
    return count, time.perf_counter() - start


def _provider_count(base_url: str) -> int:
    response = httpx.get(f"{base_url}/2010-04-01/Accounts/{SID}/Messages.json", auth=(SID, TOKEN), timeout=30)
    return len(response.json()["messages"])


def _drain(sender: Sender, db: Database, event: str) -> tuple[int, float, float]:
    """Send until the event's messages are all sent; (messages, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    while sender.run_once():
        pass
    with db.sessions() as session:
        sent = session.scalar(select(func.count()).select_from(models.Message).where(
            models.Message.event.like(f"{event}%"), models.Message.status == "sent"))
    return int(sent or 0), time.perf_counter() - wall, time.process_time() - cpu


def run(households: int, drivers: int, database_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="evac-messages-bench-"))
    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    with socket.socket() as probe:  # a free port for the server process
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "api.messaging.localsms", "--port", str(port),
                               "--account-sid", SID, "--auth-token", TOKEN], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _provider_count(base)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        settings = Settings(database_url=url, sms_provider="twilio", twilio_base_url=base, twilio_account_sid=SID,
                            twilio_auth_token=TOKEN, twilio_from="+358500000000", sms_per_second=0,
                            email_per_second=0, per_person_per_hour=0, global_per_minute=0, notifier_batch=200,
                            public_base_url="https://evac.example.org",
                            secret_key="bench-secret-key-that-is-long-enough-for-hs256")
        migrate.upgrade(settings)
        db = Database(settings)
        alert_id = _roster(db, households, drivers)
        before = _slots(households, drivers)
        cpu0, provider0 = time.process_time(), _cpu_of(server.pid)
        queued, queue_s = _publish(db, settings, alert_id, 1, _plan(before))
        queue_cpu = time.process_time() - cpu0
        sender = Sender(db, settings)
        sent, send_s, cpu_s = _drain(sender, db, f"plan:{alert_id}:v1")
        provider_cpu = _cpu_of(server.pid) - provider0
        at_provider = _provider_count(base)
        print(f"plan published: {queued} messages queued in {queue_s:.2f} s ({queue_cpu:.2f} CPU s) "
              f"({households} households, {drivers} drivers)")
        print(f"handed to the provider: {sent} sent, {at_provider} at the provider, "
              f"{queue_s + send_s:.2f} s from publishing (target <= 10 s); CPU: {queue_cpu + cpu_s:.2f} s in this "
              f"process, {provider_cpu:.2f} s in the provider's")
        print(f"sender throughput: {sent / send_s:.0f} messages/s wall, {sent / cpu_s:.0f} per CPU second, i.e. per "
              f"core (one process, sender and database client; the provider runs in its own process)")
        # 20 households touched: 10 pairs on different cars exchange their places (driver and time).
        rng = random.Random(7)
        picked = rng.sample(range(households), 20)
        swaps = [(a, b) for a, b in zip(picked[::2], picked[1::2], strict=True)]
        after = _slots(households, drivers, swaps)
        queued2, queue2_s = _publish(db, settings, alert_id, 2, _plan(after))
        with db.sessions() as session:
            immediate = session.scalar(select(func.count()).select_from(models.Message).where(
                models.Message.event.like(f"plan:{alert_id}:v2%"),
                models.Message.template != Template.REMINDER.value))
        touched = {h for pair in swaps for h in pair}
        drivers_touched = sum(1 for d in before if before[d] != after[d])
        affected = len(touched) + drivers_touched
        print(f"re-plan touching {len(touched)} households (10 pairs swap cars): {immediate} messages "
              f"({queued2} counted by the outbox) for {affected} affected people "
              f"({len(touched)} households, {drivers_touched} drivers): {immediate / affected:.2f} x (target <= 2 x);"
              f" queued in {queue2_s:.2f} s")
        sender.stop()
        db.dispose()
    finally:
        server.terminate()
        server.wait(10)
        if database_url is None:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description="Messages benchmark (see the module docstring).")
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("EVAC_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    run(args.households, args.drivers, args.database_url)


if __name__ == "__main__":
    main()
