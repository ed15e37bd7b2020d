"""Drills from the service: the town as registered, rehearsed by the same drill runner as ``evac drill``.

A coordinator asks for a drill on an alert (its deadline, flood zones and closed roads) with a few scripted events;
the households, cars (with their drivers' names and phones, for the contact lists) and shelters are read from the
database when the drill runs. Drills are durable jobs like plan jobs (``api.jobs``): a row queued in
``drill_runs``, claimed by one worker with a conditional UPDATE, kept alive by a heartbeat, put back in the queue
when its worker dies. They run on their own thread (``DrillRunner``), so a drill never delays a real plan.

The report folder that ``scenarios.report.write_report`` writes (HTML with its plots inlined, report.json, the
contact lists) is kept in the row as a zip. Each drill is compared with the previous finished one: its report.json
is put in the new report's folder before writing, which is how ``evac drill --out`` compares with last month's.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import access, audit, models, planning
from api.config import Settings
from api.crud import Context, commit
from api.db import Database
from api.errors import Conflict, NotFound
from api.jobs import _rowcount, now, worker_name
from api.limits import TooManyRequests
from matcher.errors import EvacError, InputError

log = logging.getLogger(__name__)

#: Every service drill has this key, so each is compared with the previous one (``scenarios.compare``).
DRILL_KEY = "town as registered"
#: What varies between replications of a service drill (the drill file format's ``randomness`` block).
RANDOMNESS = {"no_show_probability": 0.05, "dropout_probability": 0.05, "dropout_window_minutes": [0, 60],
              "late_readiness": {"probability": 0.1, "mean_minutes": 10}, "travel_noise": {"default": 0.1}}
#: Files of the report folder a coordinator may download (the rest stay in the zip for the next comparison).
DOWNLOADS = {"report.json", "report.md", "contacts/drivers.csv", "contacts/households.csv"}


class DrillEvent(BaseModel):
    """One scripted event; ids are the database ids of the car, household or shelter it happens to."""

    minute: float = Field(ge=0, le=10_080, allow_inf_nan=False)
    action: Literal["driver_drops_out", "no_show", "not_ready", "shelter_fills", "close_roads"]
    #: The vehicle (``driver_drops_out``), household (``no_show``, ``not_ready``) or shelter (``shelter_fills``).
    id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    #: OSM way ids (``close_roads``).
    ways: list[int] = Field(default_factory=list, max_length=100)
    ready_minute: float | None = Field(default=None, ge=0, le=10_080, allow_inf_nan=False)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    note: str = Field(default="", max_length=200)


class DrillCreate(BaseModel):
    model_config = {"extra": "forbid"}

    alert_id: int = Field(ge=1, le=2**31 - 1, description="The alert whose deadline, flood zones and closed roads "
                                                          "the drill rehearses (an ended one serves as well)")
    runs: int = Field(default=5, ge=1, le=50, description="Replications")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    #: Omitted: a few scripted events (the first household not at home, the second late, the first car drops out).
    events: list[DrillEvent] | None = Field(default=None, max_length=50)


class DrillPublic(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    alert_id: int | None
    name: str
    runs: int
    seed: int
    timeline: list[dict[str, Any]]
    drill_date: str
    status: str
    attempts: int
    error: str | None
    summary: dict[str, Any] | None
    requested_by: int | None
    created_at: datetime
    finished_at: datetime | None


# --- the drill file, built from the database -------------------------------------------------------------------


PLAN_PREFIX = {"driver_drops_out": "vehicle", "no_show": "household", "not_ready": "household",
               "shelter_fills": "shelter"}


def timeline_of(events: Sequence[DrillEvent]) -> list[dict[str, Any]]:
    """Events in the drill file's timeline format, with plan ids (``V12``, ``H3``, ``S1``)."""
    out = []
    for e in events:
        item: dict[str, Any] = {"minute": e.minute, "note": e.note}
        if e.action == "close_roads":
            item["close_roads"] = list(e.ways)
        else:
            item[e.action] = planning.plan_id(PLAN_PREFIX[e.action], e.id or 0)
        if e.ready_minute is not None:
            item["ready_minute"] = e.ready_minute
        if e.capacity is not None:
            item["capacity"] = e.capacity
        out.append(item)
    return out


def scripted_timeline(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """A few events every town drill rehearses, on the first records registered (so the same each month)."""
    homes, cars = scenario["households"], scenario["drivers"]
    events: list[dict[str, Any]] = []
    if homes:
        events.append({"minute": 10, "no_show": homes[0]["id"], "note": "scripted: nobody at home"})
    if len(homes) > 1:
        events.append({"minute": 15, "not_ready": homes[1]["id"], "ready_minute": 40,
                       "note": "scripted: not ready, asks to be fetched later"})
    if len(cars) > 1:
        events.append({"minute": 20, "driver_drops_out": cars[0]["id"], "note": "scripted: the car breaks down"})
    return events


def drill_data(session: Session, settings: Settings, alert: models.Alert, runs: int, seed: int, when: str,
               timeline: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The drill file (scenario and ``drill:`` block) of the town as registered now, for ``alert``.

    Names and phones go in (the contact lists need them): the report is for coordinators only.
    """
    households = select(models.Household).order_by(models.Household.id)
    if alert.household_ids is not None:
        households = households.where(models.Household.id.in_(alert.household_ids))
    rows = session.execute(select(models.Vehicle, models.User).join(models.User, models.Vehicle.owner_id ==
                                                                       models.User.id)
                           .where(models.User.is_active.is_(True)).order_by(models.Vehicle.id)).all()
    homes = session.scalars(households).all()
    shelters = session.scalars(select(models.Shelter).order_by(models.Shelter.id)).all()
    scenario = planning.build_scenario(alert, homes, [v for v, _ in rows], shelters, settings)
    # confirmed_at (null: never) lets the report list the records not confirmed lately (roster freshness).
    for record, home in zip(scenario["households"], homes, strict=True):
        record.update(name=home.name or f"Household {home.id}", phone=home.phone,
                      confirmed_at=_date_of(home.confirmed_at))
    for record, (car, owner) in zip(scenario["drivers"], rows, strict=True):
        record.update(name=owner.name or car.label or f"Car {car.id}", phone=owner.phone,
                      confirmed_at=_date_of(car.confirmed_at))
    scenario["drill"] = {
        "name": DRILL_KEY, "runs": runs, "seed": seed, "date": when,
        "timeline": scripted_timeline(scenario) if timeline is None else timeline,
        "randomness": RANDOMNESS,
        "plan_time_limit_seconds": settings.time_limit_seconds,
        "replan_time_limit_seconds": settings.drill_replan_time_limit_seconds,
        "advice_time_limit_seconds": settings.time_limit_seconds,
        "freshness_days": settings.checkin_stale_days,
    }
    return scenario


def _date_of(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def spec_of(data: dict[str, Any]) -> Any:
    """The validated drill (``scenarios.spec.DrillSpec``); ``InputError`` names the bad event."""
    from scenarios.spec import drill_from_dict

    return drill_from_dict(data, base=Path(data["map"]).parent)


def service_drill_data(alert_id: int | None, runs: int, seed: int, when: str) -> dict[str, Any]:
    """``evac drill --from-service``: the drill file of the town in the service's database (``EVAC_*`` settings),
    for ``alert_id`` or the newest alert. The read of the rosters is audited."""
    from api.config import get_settings

    settings = get_settings()
    db = Database(settings)
    try:
        with db.sessions() as session:
            query = select(models.Alert).order_by(models.Alert.id.desc()).limit(1)
            alert = session.scalar(query if alert_id is None else query.where(models.Alert.id == alert_id))
            if alert is None:
                found = "no alert" if alert_id is None else f"no alert {alert_id}"
                raise InputError("drill", "alert", f"{found} in the service's database: start one (its deadline, "
                                                   "flood zone and closed roads are the drill's)")
            data = drill_data(session, settings, alert, runs, seed, when, None)
            audit.record(session, None, "read", "drill", None, actor="evac drill --from-service",
                         alert_id=alert.id, households=len(data["households"]), drivers=len(data["drivers"]))
            session.commit()
    finally:
        db.dispose()
    return data


# --- requests ---------------------------------------------------------------------------------------------------


def request_drill(ctx: Context, data: DrillCreate) -> models.DrillRun:
    """Queue a drill (coordinators; one at a time; at most ``drill_max_per_hour`` per coordinator)."""
    access.require_role(ctx.user, "coordinator", action="run drills")
    alert = ctx.session.get(models.Alert, data.alert_id)
    if alert is None:
        raise InputError("drill", "alert_id", f"no alert {data.alert_id}")
    busy = ctx.session.scalar(select(models.DrillRun.id).where(models.DrillRun.status.in_(("queued", "running")))
                              .limit(1))
    if busy is not None:
        raise Conflict(f"drill {busy} is still running: one drill at a time (it keeps a worker busy)")
    hour_ago = now() - timedelta(hours=1)
    recent = ctx.session.scalars(select(models.DrillRun.created_at).where(
        models.DrillRun.requested_by == ctx.user.id, models.DrillRun.created_at >= hour_ago)
        .order_by(models.DrillRun.created_at)).all()
    if len(recent) >= ctx.settings.drill_max_per_hour:
        wait = (recent[0] - hour_ago).total_seconds()
        raise TooManyRequests(f"at most {ctx.settings.drill_max_per_hour} drills an hour per coordinator", wait)
    when = date.today().isoformat()
    timeline = None if data.events is None else timeline_of(data.events)
    # Checked now, so a bad event is a 422 naming it rather than a failed job later.
    built = drill_data(ctx.session, ctx.settings, alert, data.runs, data.seed, when, timeline)
    spec_of(built)
    drill = models.DrillRun(alert_id=alert.id, name=f"Drill on {alert.name or f'alert {alert.id}'}",
                            runs=data.runs, seed=data.seed, timeline=built["drill"]["timeline"], drill_date=when,
                            status="queued", requested_by=ctx.user.id)
    ctx.session.add(drill)
    ctx.session.flush()
    audit.record(ctx.session, ctx.user, "queue", "drill", drill.id, alert_id=alert.id, runs=data.runs)
    commit(ctx.session, "drill", drill.id)
    return drill


def get_drill(ctx: Context, drill_id: int) -> models.DrillRun:
    access.require_role(ctx.user, "coordinator", action="read drills")
    drill = ctx.session.get(models.DrillRun, drill_id)
    if drill is None:
        raise NotFound("drill", drill_id)
    return drill


def drills_query(ctx: Context) -> Any:
    access.require_role(ctx.user, "coordinator", action="read drills")
    return select(models.DrillRun).order_by(models.DrillRun.id.desc())


def report_file(ctx: Context, drill_id: int, name: str) -> bytes:
    """A file of a finished drill's report; reading it is audited (contact lists hold names and phones)."""
    drill = get_drill(ctx, drill_id)
    if drill.report_zip is None:
        raise NotFound(f"drill {drill_id} report (it is {drill.status})", name)
    with zipfile.ZipFile(io.BytesIO(drill.report_zip)) as z:
        if name not in z.namelist():
            raise NotFound(f"drill {drill_id} report file", name)
        content = z.read(name)
    audit.record(ctx.session, ctx.user, "read", "drill", drill.id, file=name)
    commit(ctx.session, "drill", drill.id)
    return content


# --- the durable job ----------------------------------------------------------------------------------------------


def claim(session: Session, worker: str) -> int | None:
    """Claim the oldest queued drill; its id, or ``None``. Commits (the same pattern as ``jobs.claim``)."""
    for _ in range(5):
        drill_id = session.scalar(select(models.DrillRun.id).where(models.DrillRun.status == "queued")
                                  .order_by(models.DrillRun.id).limit(1).with_for_update(skip_locked=True))
        if drill_id is None:
            session.commit()
            return None
        claimed = session.execute(
            update(models.DrillRun).where(models.DrillRun.id == drill_id, models.DrillRun.status == "queued")
            .values(status="running", claimed_by=worker, heartbeat_at=now(), attempts=models.DrillRun.attempts + 1,
                    version=models.DrillRun.version + 1))
        session.commit()
        if _rowcount(claimed) == 1:
            return drill_id
    return None


def requeue_stale(session: Session, settings: Settings, worker: str) -> None:
    """Put back drills whose worker went silent; fail those that died ``max_attempts`` times. Commits."""
    stale = (models.DrillRun.status == "running") & (
        models.DrillRun.heartbeat_at < now() - timedelta(seconds=settings.stale_after_seconds))
    session.execute(update(models.DrillRun).where(stale, models.DrillRun.attempts >= settings.max_attempts)
                    .values(status="failed", finished_at=now(), version=models.DrillRun.version + 1,
                            error="the drill's process stopped too often without finishing; not retried"))
    requeued = session.execute(update(models.DrillRun).where(stale)
                               .values(status="queued", claimed_by=None, version=models.DrillRun.version + 1)
                               .returning(models.DrillRun.id)).scalars().all()
    for drill_id in requeued:
        audit.record(session, None, "requeue", "drill", drill_id, actor=worker, why="worker stopped responding")
    session.commit()


def _finish(session: Session, drill_id: int, worker: str, **values: Any) -> bool:
    done = session.execute(
        update(models.DrillRun)
        .where(models.DrillRun.id == drill_id, models.DrillRun.claimed_by == worker,
               models.DrillRun.status == "running")
        .values(finished_at=now(), version=models.DrillRun.version + 1, **values))
    session.commit()
    return _rowcount(done) == 1


def _previous_report(session: Session, drill_id: int) -> bytes | None:
    """report.json of the newest finished drill before this one, if any."""
    zipped = session.scalar(select(models.DrillRun.report_zip).where(
        models.DrillRun.status == "done", models.DrillRun.id < drill_id).order_by(models.DrillRun.id.desc()).limit(1))
    if zipped is None:
        return None
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        return z.read("report.json") if "report.json" in z.namelist() else None


def _zip(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return out.getvalue()


def run_report(data: dict[str, Any], settings: Settings, previous: bytes | None) -> tuple[bytes, dict[str, Any]]:
    """Run the drill through the drill runner and write its report: the zipped folder and the headline figures."""
    from scenarios.metrics import timings
    from scenarios.report import build_report, write_report
    from scenarios.routetest import route_test
    from scenarios.runner import make_payload, run_drill
    from scenarios.world import DrillContext

    spec = spec_of(data)
    ctx = DrillContext(spec, settings=settings.matcher())
    result = run_drill(make_payload(spec, ctx.map_path), workers=settings.drill_workers, ctx=ctx,
                       scheduler=settings.drill_scheduler)
    report = build_report(ctx, result.runs, result.advice, route_test(ctx), spec.date or date.today().isoformat())
    times = timings(result.runs) | {"replications_seconds": round(result.seconds, 2), "workers": result.workers}
    with tempfile.TemporaryDirectory(prefix="evac-drill-") as tmp:
        folder = Path(tmp)
        if previous is not None:
            (folder / "report.json").write_bytes(previous)
        write_report(folder, ctx, report, result.runs, times)
        zipped = _zip(folder)
    figures, comparison = report["figures"], report.get("comparison")
    summary = {"people_total": figures["people_total"], "people_out_mean": figures["people_out"]["mean"],
               "people_out_min": figures["people_out"]["min"], "at_risk": report["summary"]["at_risk"],
               "cars_to_add": report["summary"]["cars_to_add"],
               "better": comparison["better"] if comparison else None,
               "worse": comparison["worse"] if comparison else None,
               "previous_date": comparison["previous_date"] if comparison else None}
    return zipped, summary


def run_one(db: Database, drill_id: int, worker: str, settings: Settings) -> None:
    """Run a claimed drill and store its report, or mark it failed with a message a coordinator can act on."""
    beat = threading.Event()

    def keep_alive() -> None:
        while not beat.wait(settings.heartbeat_seconds):
            try:
                with db.sessions() as session:
                    session.execute(update(models.DrillRun).where(models.DrillRun.id == drill_id,
                                                                  models.DrillRun.claimed_by == worker)
                                    .values(heartbeat_at=now()))
                    session.commit()
            except Exception:  # a missed beat is not fatal
                log.exception("heartbeat of drill %s failed", drill_id)

    threading.Thread(target=keep_alive, name=f"drill-heartbeat-{drill_id}", daemon=True).start()
    try:
        with db.sessions() as session:
            drill = session.get_one(models.DrillRun, drill_id)
            alert = session.get(models.Alert, drill.alert_id) if drill.alert_id is not None else None
            if alert is None:
                raise InputError("drill", "alert_id", "the drill's alert was deleted")
            data = drill_data(session, settings, alert, drill.runs, drill.seed, drill.drill_date, drill.timeline)
            previous = _previous_report(session, drill_id)
            audit.record(session, None, "read", "drill", drill_id, actor=worker,
                         households=len(data["households"]), drivers=len(data["drivers"]))
            session.commit()
        zipped, summary = run_report(data, settings, previous)
        with db.sessions() as session:
            if _finish(session, drill_id, worker, status="done", error=None, summary=summary, report_zip=zipped):
                audit.record(session, None, "publish", "drill", drill_id, actor=worker)
                session.commit()
    except EvacError as exc:
        with db.sessions() as session:
            _finish(session, drill_id, worker, status="failed", error=str(exc)[:4000])
    except Exception as exc:
        log.exception("drill %s failed", drill_id)
        with db.sessions() as session:
            _finish(session, drill_id, worker, status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        beat.set()


class DrillRunner:
    """Runs drills one at a time on a background thread of its own (plan jobs never wait for a drill)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.worker = worker_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> bool:
        with self.db.sessions() as session:
            requeue_stale(session, self.settings, self.worker)
            drill_id = claim(session, self.worker)
        if drill_id is None:
            return False
        run_one(self.db, drill_id, self.worker, self.settings)
        return True

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                log.exception("drill runner: cycle failed")
                ran = False
            if not ran:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="drills", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop looking for drills; one still running is re-queued by its stale heartbeat."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

