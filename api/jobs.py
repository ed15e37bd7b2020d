"""Plan jobs: queued in the database, claimed by one worker at a time, solved, published with the job's end.

Claiming is one conditional UPDATE (``WHERE status = 'queued'``) after a ``SELECT ... FOR UPDATE SKIP LOCKED``
on PostgreSQL (on SQLite the lock clause is dropped and the conditional UPDATE alone makes the claim atomic).
A running job's worker writes a heartbeat; a job whose heartbeat is older than ``stale_after_seconds`` (its
process died, even by kill -9) is put back in the queue by the next worker that looks, and runs again. The
plan row is inserted in the transaction that marks the job done, and only while this worker still holds the
job, so no half-written plan and no second plan for one job is ever visible.

A ``replan`` job continues the newest plan version from the live state (``api.livestate``). It is published
only onto the version it continued and only if no stop was reported done meanwhile (checked under the alert's
lock, which status reports take too); otherwise it is solved again on the newer state.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import audit, livestate, models, planning
from api.config import Settings
from api.db import Database
from api.messaging import outbox
from matcher.errors import EvacError
from matcher.live import LiveState
from matcher.plan import Plan

log = logging.getLogger(__name__)

#: A function that solves a scenario; tests swap in slow or failing ones.
Solver = Callable[[dict, Settings], planning.SolvedPlan]
#: A function that continues a plan (scenario, the plan being followed, live state); tests swap it too.
Replanner = Callable[[dict, Plan, LiveState, Settings], planning.SolvedPlan]
#: How often a re-plan is solved again when stops were reported done while it was being solved.
REPLAN_TRIES = 3


class Superseded(Exception):
    """A re-plan's base version or live state changed before it could be published; solve it again."""


def worker_name() -> str:
    """Unique per process and start: host, pid and a random tag (pids are reused after a crash)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def now() -> datetime:
    return datetime.now(UTC)


def enqueue(
    session: Session, alert: models.Alert, user: models.User | None, reason: str, kind: str = "plan",
    minute: float | None = None,
) -> models.PlanJob:
    """Queue a plan job for ``alert`` (committed by the caller together with whatever asked for it)."""
    job = models.PlanJob(alert_id=alert.id, kind=kind, reason=reason, status="queued", minute=minute,
                         requested_by=None if user is None else user.id)
    session.add(job)
    session.flush()
    audit.record(session, user, "queue", "plan_job", job.id, alert_id=alert.id, reason=reason, kind=kind)
    return job


def enqueue_replan(
    session: Session, alert: models.Alert, user: models.User | None, reason: str, minute: float | None = None,
    confirmed: bool = False,
) -> models.PlanJob:
    """Queue a re-plan, or join the one still waiting: it reads the live state only when solved, so it covers this
    event too, and an alert never has more than one re-plan queued. A coordinator's ``minute`` (drills) and
    confirmation are carried onto the waiting job. Callers hold the alert's lock (``livestate.lock_alert``), so
    no worker claims it unseen."""
    waiting = session.scalar(
        select(models.PlanJob)
        .where(models.PlanJob.alert_id == alert.id, models.PlanJob.kind == "replan",
               models.PlanJob.status == "queued")
        .order_by(models.PlanJob.id).limit(1).with_for_update(skip_locked=True)
    )
    if waiting is None:
        job = enqueue(session, alert, user, reason, kind="replan", minute=minute)
        job.confirmed = confirmed
        return job
    if minute is not None:
        waiting.minute = minute
    waiting.confirmed = waiting.confirmed or confirmed
    audit.record(session, user, "queue", "plan_job", waiting.id, alert_id=alert.id, reason=reason,
                 kind="replan", joined=True)
    return waiting


def served_households(plan: Plan) -> int:
    """Households a plan picks up (every part of a split household counts once)."""
    return len(plan.picked_ids())


def check_served(job: models.PlanJob, base: models.Plan, solved: planning.SolvedPlan, settings: Settings) -> None:
    """Refuse a re-plan serving far fewer households than the plan it replaces, unless a coordinator confirmed
    it (a drop-out's or a closure's real cost is confirmed; a wrong minute or a hostile event is not published)."""
    before, after = served_households(base.parsed), served_households(Plan.from_dict(solved.plan))
    if job.confirmed or after >= before * settings.replan_min_served_share:
        return
    raise EvacError(
        f"re-plan refused: it would serve {after} households where plan version {base.version} serves {before} "
        f"(below {settings.replan_min_served_share:.0%}); version {base.version} stays current. A coordinator "
        f"who accepts this asks again with POST /alerts/{job.alert_id}/replan?confirm=true")


def requeue_stale(session: Session, settings: Settings, worker: str) -> int:
    """Put back jobs whose worker went silent; fail those that have died ``max_attempts`` times. Commits."""
    cutoff = now() - timedelta(seconds=settings.stale_after_seconds)
    stale = (models.PlanJob.status == "running") & (models.PlanJob.heartbeat_at < cutoff)
    given_up = session.execute(
        update(models.PlanJob)
        .where(stale, models.PlanJob.attempts >= settings.max_attempts)
        .values(status="failed", finished_at=now(), version=models.PlanJob.version + 1,
                error=f"the solving process stopped {settings.max_attempts} times without finishing; not retried")
        .returning(models.PlanJob.id)
    ).scalars().all()
    requeued = session.execute(
        update(models.PlanJob)
        .where(stale)
        .values(status="queued", claimed_by=None, version=models.PlanJob.version + 1)
        .returning(models.PlanJob.id)
    ).scalars().all()
    for job_id in given_up:
        audit.record(session, None, "fail", "plan_job", job_id, actor=worker, why="worker died too often")
    for job_id in requeued:
        audit.record(session, None, "requeue", "plan_job", job_id, actor=worker, why="worker stopped responding")
    session.commit()
    if requeued or given_up:
        log.warning("re-queued stale plan jobs %s, gave up on %s", list(requeued), list(given_up))
    return len(requeued)


def claim(session: Session, worker: str) -> int | None:
    """Claim the oldest queued job for ``worker``; its id, or ``None`` when none is queued. Commits."""
    for _ in range(5):  # another worker may win the row between SELECT and UPDATE on SQLite; try the next one
        job_id = session.scalar(
            select(models.PlanJob.id)
            .where(models.PlanJob.status == "queued")
            .order_by(models.PlanJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job_id is None:
            session.commit()
            return None
        claimed = session.execute(
            update(models.PlanJob)
            .where(models.PlanJob.id == job_id, models.PlanJob.status == "queued")
            .values(status="running", claimed_by=worker, heartbeat_at=now(), attempts=models.PlanJob.attempts + 1,
                    version=models.PlanJob.version + 1)
        )
        session.commit()
        if _rowcount(claimed) == 1:
            return job_id
    return None


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (its result is a CursorResult, which the type stubs do not say)."""
    return int(cast(CursorResult[Any], result).rowcount)


def heartbeat(session: Session, job_id: int, worker: str) -> bool:
    """Refresh the job's heartbeat; ``False`` when this worker no longer holds it. Commits."""
    held = session.execute(
        update(models.PlanJob)
        .where(models.PlanJob.id == job_id, models.PlanJob.claimed_by == worker, models.PlanJob.status == "running")
        .values(heartbeat_at=now())
    )
    session.commit()
    return _rowcount(held) == 1


def _finish(session: Session, job_id: int, worker: str, **values: object) -> bool:
    done = session.execute(
        update(models.PlanJob)
        .where(models.PlanJob.id == job_id, models.PlanJob.claimed_by == worker, models.PlanJob.status == "running")
        .values(finished_at=now(), version=models.PlanJob.version + 1, **values)
    )
    return _rowcount(done) == 1


def publish(
    session: Session, job: models.PlanJob, worker: str, scenario: dict, solved: planning.SolvedPlan,
    check: Callable[[Session], bool] | None = None, after: Callable[[Session, models.Plan], None] | None = None,
    settings: Settings | None = None, **fields: Any,
) -> int | None:
    """Mark the job done and insert its plan in one transaction; the new plan version, or ``None`` if the job
    was taken from this worker meanwhile (then nothing is written).

    ``check`` runs under the alert's lock; when it fails nothing is written and ``Superseded`` is raised.
    ``after`` adds rows that belong to the new plan (in the same transaction); ``fields`` are plan columns.
    With ``settings``, the messages the new version calls for are queued in the same transaction (the outbox).
    """
    for _ in range(3):  # two jobs of one alert finishing at once can pick the same version: retry on the clash
        if not _finish(session, job.id, worker, status="done", error=None):
            session.rollback()
            return None
        livestate.lock_alert(session, job.alert_id)
        if check is not None and not check(session):
            session.rollback()
            raise Superseded(f"plan job {job.id}: the live state changed while it was solved")
        version = livestate.newest_version(session, job.alert_id) + 1
        plan = models.Plan(alert_id=job.alert_id, version=version, job_id=job.id, plan=solved.plan,
                           geojson=solved.geojson, scenario=scenario, **fields)
        try:
            session.add(plan)
            session.flush()
            if after is not None:
                after(session, plan)
            if settings is not None:
                outbox.plan_published(session, settings, plan)
            audit.record(session, None, "publish", "plan", job.alert_id, actor=worker, version=version,
                         job_id=job.id, kind=job.kind)
            session.commit()
            return version
        except IntegrityError:
            session.rollback()
    raise RuntimeError(f"plan job {job.id}: could not pick a plan version")


def fail(session: Session, job_id: int, worker: str, error: str) -> None:
    if _finish(session, job_id, worker, status="failed", error=error[:4000]):
        audit.record(session, None, "fail", "plan_job", job_id, actor=worker, error=error[:500])
    session.commit()


def load_scenario(session: Session, job: models.PlanJob, settings: Settings, keep_dropped: bool = False) -> dict:
    """The scenario of the job's alert from the rosters as they are now.

    A plan from scratch leaves out the vehicles that dropped out of the alert; a re-plan keeps them
    (``keep_dropped``: they still deliver riders on board) and marks them dropped in its live state.
    """
    alert = session.get_one(models.Alert, job.alert_id)
    households = select(models.Household).order_by(models.Household.id)
    if alert.household_ids is not None:
        households = households.where(models.Household.id.in_(alert.household_ids))
    # Only vetted drivers: an approved car of an approved, active account (docs/security.md "Vetting").
    vehicles = (select(models.Vehicle).join(models.User, models.Vehicle.owner_id == models.User.id)
                .where(models.User.is_active.is_(True), models.User.approval == "approved",
                       models.Vehicle.approval == "approved")
                .order_by(models.Vehicle.id))
    dropped = frozenset() if keep_dropped else livestate.dropped_drivers(session, alert.id)
    cars = [v for v in session.scalars(vehicles) if planning.plan_id("vehicle", v.id) not in dropped]
    shelters = select(models.Shelter).order_by(models.Shelter.id)
    return planning.build_scenario(alert, session.scalars(households).all(), cars,
                                   session.scalars(shelters).all(), settings)


class _Heartbeat(threading.Thread):
    """Keeps a claimed job's heartbeat fresh while the solver works (the solver cannot be interrupted)."""

    def __init__(self, db: Database, job_id: int, worker: str, every_seconds: float) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.db, self.job_id, self.worker, self.every = db, job_id, worker, every_seconds
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                with self.db.sessions() as session:
                    if not heartbeat(session, self.job_id, self.worker):
                        return
            except Exception:  # a missed beat is not fatal; the next one may get through
                log.exception("heartbeat of plan job %s failed", self.job_id)


@dataclass(frozen=True)
class _Continuation:
    """What a re-plan continues: the base plan version and the live state it was solved from."""

    base: models.Plan
    live: LiveState

    def unchanged(self, session: Session) -> bool:
        """Still the newest version, and no stop reported done or missed since (under the alert's lock)."""
        if livestate.newest_version(session, self.base.alert_id) != self.base.version:
            return False
        alert = session.get_one(models.Alert, self.base.alert_id)
        return livestate.live_state(session, alert, self.base, self.live.minute).same_history(self.live)

    def carry(self, session: Session, plan: models.Plan) -> None:
        livestate.carry_statuses(session, self.base, plan, self.live)


def _replan_once(db: Database, job: models.PlanJob, worker: str, settings: Settings, solver: Solver,
                 replanner: Replanner) -> int | None:
    with db.sessions() as session:
        alert = session.get_one(models.Alert, job.alert_id)
        base = livestate.latest_plan(session, alert.id)
        scenario = load_scenario(session, job, settings, keep_dropped=base is not None)
        minute = job.minute if job.minute is not None else livestate.minute_now(alert)
        live = None if base is None else livestate.live_state(session, alert, base, minute, scenario, job.reason)
        session.commit()
    if base is None or live is None:  # nothing published yet: the first plan, from scratch
        solved = solver(scenario, settings)
        with db.sessions() as session:
            return publish(session, job, worker, scenario, solved,
                           check=lambda s: livestate.newest_version(s, job.alert_id) == 0, settings=settings)
    scenario, carried = livestate.carry_over(scenario, base, live)
    live = dataclasses.replace(live, dropped_drivers=live.dropped_drivers | carried)
    solved = replanner(scenario, base.parsed, live, settings)
    check_served(job, base, solved, settings)
    going_on = _Continuation(base, live)
    with db.sessions() as session:
        return publish(session, job, worker, scenario, solved, check=going_on.unchanged, after=going_on.carry,
                       settings=settings, base_version=base.version, minute=live.minute, stability=solved.stability)


def _replan(db: Database, job: models.PlanJob, worker: str, settings: Settings, solver: Solver,
            replanner: Replanner) -> int | None:
    """Continue the newest plan version from the live state; solved again if that changes before publishing."""
    for _ in range(REPLAN_TRIES):
        try:
            return _replan_once(db, job, worker, settings, solver, replanner)
        except Superseded as exc:
            log.info("%s; solving it again", exc)
    raise EvacError(f"stops were reported done during each of {REPLAN_TRIES} re-plans; nothing was published "
                    "(the previous plan version stays current): ask for a re-plan again")


def run_job(db: Database, job_id: int, worker: str, settings: Settings, solver: Solver,
            replanner: Replanner | None = None) -> None:
    """Solve a claimed job and publish its plan, or mark it failed with a message a coordinator can act on."""
    beat = _Heartbeat(db, job_id, worker, settings.heartbeat_seconds)
    beat.start()
    try:
        with db.sessions() as session:
            job = session.get_one(models.PlanJob, job_id)
        if job.kind == "replan":
            version = _replan(db, job, worker, settings, solver, replanner or planning.replan_scenario)
        else:
            with db.sessions() as session:
                scenario = load_scenario(session, job, settings)
                session.commit()
            solved = solver(scenario, settings)
            with db.sessions() as session:
                version = publish(session, job, worker, scenario, solved, settings=settings)
        log.info("plan job %s: %s", job_id, f"published plan version {version}" if version else "lost its claim")
    except EvacError as exc:  # bad input (names record and field), a solver failure, or a plan failing its check
        with db.sessions() as session:
            fail(session, job_id, worker, str(exc))
    except Exception as exc:
        log.exception("plan job %s failed", job_id)
        with db.sessions() as session:
            fail(session, job_id, worker, f"internal error: {type(exc).__name__}: {exc}")
    finally:
        beat.stop.set()


def solve_with_matcher(scenario: dict, settings: Settings) -> planning.SolvedPlan:
    return planning.solve_scenario(scenario, settings)


class JobRunner:
    """Runs plan jobs one at a time on a background thread (the embedded mode, and ``evac worker``)."""

    def __init__(self, db: Database, settings: Settings, solver: Solver = solve_with_matcher,
                 replanner: Replanner = planning.replan_scenario) -> None:
        self.db, self.settings, self.solver, self.replanner = db, settings, solver, replanner
        self.worker = worker_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: int | None = None

    def wake(self) -> None:
        """Look for a job now instead of at the next poll (called after a job is queued in this process)."""
        self._wake.set()

    def run_once(self) -> bool:
        """Re-queue stale jobs, then claim and run one; ``True`` if a job ran."""
        with self.db.sessions() as session:
            requeue_stale(session, self.settings, self.worker)
            job_id = claim(session, self.worker)
        if job_id is None:
            return False
        self._current = job_id
        try:
            run_job(self.db, job_id, self.worker, self.settings, self.solver, self.replanner)
        finally:
            self._current = None
        return True

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database may be briefly unreachable; keep serving
                log.exception("plan job runner: cycle failed")
                ran = False
            if not ran:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="plan-jobs", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Stop looking for jobs; the job in hand is finished first."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current job; a job still solving at exit is re-queued by its stale heartbeat."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        job_id = self._current
        if job_id is not None:  # still solving: hand the job back now rather than after the stale timeout
            with self.db.sessions() as session:
                release(session, job_id, self.worker)


def release(session: Session, job_id: int, worker: str) -> None:
    """Put a job this worker holds back in the queue (its late result will then not be published). Commits."""
    session.execute(
        update(models.PlanJob)
        .where(models.PlanJob.id == job_id, models.PlanJob.claimed_by == worker, models.PlanJob.status == "running")
        .values(status="queued", claimed_by=None, version=models.PlanJob.version + 1)
    )
    session.commit()
