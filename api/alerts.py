"""Alerts, their plan jobs and their plans: what coordinators post and what everyone polls and reads."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from api import access, audit, jobs, models, planning, schemas
from api.crud import Context, changes_of, check_version, commit, page
from api.errors import Conflict, NotFound
from api.listing import Page
from matcher.errors import InputError

#: How far from now an alert may start, either way.
MAX_START_OFFSET = timedelta(days=366)

def _check_scope(ctx: Context, household_ids: list[int] | None) -> None:
    if not household_ids:
        return
    wanted = set(household_ids)
    found = set(ctx.session.scalars(select(models.Household.id).where(models.Household.id.in_(wanted))))
    unknown = sorted(wanted - found)
    if unknown:
        shown = ", ".join(map(str, unknown[:20])) + (" ..." if len(unknown) > 20 else "")
        raise InputError("alert", "household_ids", f"no such households: {shown}")


def create_alert(ctx: Context, data: schemas.AlertCreate) -> tuple[models.Alert, models.PlanJob]:
    """Store the alert and queue its first plan job, in one transaction."""
    access.require_role(ctx.user, "coordinator", action="post alerts")
    zones = [zone.model_dump() for zone in data.flood_zones]
    planning.check_alert(data.deadline_minutes, data.closed_ways, zones)
    _check_scope(ctx, data.household_ids)
    if ctx.session.scalar(select(models.Shelter.id).limit(1)) is None:
        raise InputError("alert", "shelters", "no shelters are registered: add shelters before posting an alert")
    alert = models.Alert(name=data.name, deadline_minutes=data.deadline_minutes, flood_zones=zones,
                         closed_ways=list(data.closed_ways),
                         household_ids=None if data.household_ids is None else sorted(set(data.household_ids)),
                         created_by=ctx.user.id, status="active")
    if data.start is not None:
        start = data.start if data.start.tzinfo else data.start.replace(tzinfo=UTC)
        if abs(start - models.utcnow()) > MAX_START_OFFSET:
            # Plan times are minutes after the start: year 9999 broke every manifest, year 1 re-planned at
            # minute 1.07e9. A drill replaying last winter's storm is still within a year.
            raise InputError("alert", "start", "must be within a year of now (plan times count from it)")
        alert.start = start
    ctx.session.add(alert)
    ctx.session.flush()
    audit.record(ctx.session, ctx.user, "create", "alert", alert.id)
    job = jobs.enqueue(ctx.session, alert, ctx.user, "alert")
    commit(ctx.session, "alert", alert.id)
    return alert, job


def get_alert(ctx: Context, alert_id: int) -> models.Alert:
    alert = ctx.session.get(models.Alert, alert_id)
    if alert is None:
        raise NotFound("alert", alert_id)
    return alert


def list_alerts(ctx: Context, status: str | None, offset: int, limit: int) -> Page:
    query = select(models.Alert).order_by(models.Alert.id.desc())
    if status is not None:
        query = query.where(models.Alert.status == status)
    return page(ctx.session, query, offset, limit)


def update_alert(ctx: Context, alert_id: int, data: schemas.AlertUpdate) -> models.Alert:
    alert = get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="change alerts")
    check_version(alert, "alert", data.version)
    for name, value in changes_of(data, f"alert {alert_id}").items():
        setattr(alert, name, value)
    audit.record(ctx.session, ctx.user, "update", "alert", alert.id, fields=sorted(data.model_fields_set - {"version"}))
    commit(ctx.session, "alert", alert_id)
    return alert


def request_plan(ctx: Context, alert_id: int, reason: str = "manual") -> models.PlanJob:
    """Queue another plan of the alert on the rosters as they are now (live operations queue their own)."""
    alert = get_alert(ctx, alert_id)
    access.require_role(ctx.user, "coordinator", action="ask for plans")
    if alert.status != "active":
        raise InputError(f"alert {alert_id}", "status", "the alert is closed: reopen it to plan again")
    reported = ctx.session.scalar(
        select(models.StopStatus.id).join(models.Plan, models.Plan.id == models.StopStatus.plan_id)
        .where(models.Plan.alert_id == alert.id).limit(1))
    if reported is not None:
        # Mid-evacuation a plan from scratch would forget completed stops and the riders on board.
        raise Conflict(f"stops of alert {alert.id} have been reported: a plan from scratch would ignore completed "
                       f"stops and riders on board; ask for a re-plan from the live state: "
                       f"POST /alerts/{alert.id}/replan")
    job = jobs.enqueue(ctx.session, alert, ctx.user, reason)
    commit(ctx.session, "plan_job", job.id)
    return job


def job_public(ctx: Context, job: models.PlanJob) -> schemas.JobPublic:
    out = schemas.JobPublic.model_validate(job)
    if job.status == "done":
        out.plan_version = ctx.session.scalar(select(models.Plan.version).where(models.Plan.job_id == job.id))
    return out


def get_job(ctx: Context, job_id: int) -> schemas.JobPublic:
    job = ctx.session.get(models.PlanJob, job_id)
    if job is None:
        raise NotFound("plan job", job_id)
    return job_public(ctx, job)


def list_jobs(ctx: Context, alert_id: int) -> list[schemas.JobPublic]:
    get_alert(ctx, alert_id)
    query = select(models.PlanJob).where(models.PlanJob.alert_id == alert_id).order_by(models.PlanJob.id)
    return [job_public(ctx, job) for job in ctx.session.scalars(query)]


def list_plans(ctx: Context, alert_id: int) -> list[schemas.PlanSummary]:
    get_alert(ctx, alert_id)
    query = (select(models.Plan.version, models.Plan.job_id, models.Plan.created_at, models.Plan.plan["metrics"],
                    models.Plan.base_version, models.Plan.minute, models.Plan.stability)
             .where(models.Plan.alert_id == alert_id).order_by(models.Plan.version))
    return [schemas.PlanSummary(alert_id=alert_id, version=v, job_id=j, created_at=c, metrics=m or {},
                                base_version=b, minute=mi, stability=st)
            for v, j, c, m, b, mi, st in ctx.session.execute(query)]


def _plan(ctx: Context, alert_id: int, version: int) -> tuple[models.Alert, models.Plan]:
    alert = get_alert(ctx, alert_id)
    plan = ctx.session.scalar(select(models.Plan).where(models.Plan.alert_id == alert_id,
                                                        models.Plan.version == version))
    if plan is None:
        raise NotFound(f"alert {alert_id} plan version", version)
    return alert, plan


def get_plan(ctx: Context, alert_id: int, version: int) -> schemas.PlanPublic:
    """The solver's plan JSON, cut to what the user may see (``access.plan_view``); the read is audited."""
    alert, plan = _plan(ctx, alert_id, version)
    view = access.plan_view(ctx.user, alert, plan, ctx.session)
    audit.record(ctx.session, ctx.user, "read", "plan", plan.id, alert_id=alert_id, version=version,
                 routes=len(view.routes))
    commit(ctx.session, "plan", plan.id)
    return view


def get_plan_geojson(ctx: Context, alert_id: int, version: int) -> schemas.GeoJSONPublic:
    alert, plan = _plan(ctx, alert_id, version)
    view = access.geojson_view(ctx.user, alert, plan.geojson, ctx.session)
    audit.record(ctx.session, ctx.user, "read", "plan_geojson", plan.id, alert_id=alert_id, version=version)
    commit(ctx.session, "plan", plan.id)
    return view
