"""Live operations: drivers' manifests, stop status reports, and the events that queue a re-plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api import access, alerts, live, manifest, schemas
from api import live_schemas as ls
from api.deps import Ctx, IdPath, OptionalId, ServicesDep
from api.errors import Forbidden
from api.responses import errors

router = APIRouter(prefix="/alerts", tags=["live operations"])

#: The re-plan's minute after the alert start; default: the minute it is solved (for drills and tests).
MinuteQuery = Annotated[float | None, Query(ge=0, le=10_080, allow_inf_nan=False,
                                            description="Minutes after the alert start to re-plan at "
                                                        "(coordinators only; everyone else: the server's clock); "
                                                        "default: when the re-plan is solved")]

ConfirmQuery = Annotated[bool, Query(description="Publish the re-plan even if it serves far fewer households than "
                                                 "the current plan version (coordinators)")]


def _replan_event(ctx: Ctx, services: ServicesDep, alert_id: int, minute: float | None) -> float | None:
    """An event that may queue a re-plan: the rate limits first, then who may set its minute."""
    services.limits.replan_event(ctx.user.id, alert_id)
    if minute is not None and not access.is_coordinator(ctx.user):
        # A re-plan at a chosen minute rewrites the past: a volunteer setting minute 10080 emptied every route.
        raise Forbidden("only coordinators may set ?minute= (everyone else's events happen now, by the server's "
                        "clock)")
    return minute


@router.get("/{alert_id}/manifest", response_model=ls.Manifest, responses=errors(401, 404))
def my_manifest(ctx: Ctx, alert_id: IdPath) -> object:
    """Your stops in the newest plan version, with the households' contacts; while the alert is active."""
    return manifest.manifest(ctx, alert_id)


@router.get("/{alert_id}/manifests/{user_id}", response_model=ls.Manifest, responses=errors(401, 404))
def user_manifest(ctx: Ctx, alert_id: IdPath, user_id: IdPath) -> object:
    """A driver's manifest (coordinators; anyone else only their own)."""
    return manifest.manifest(ctx, alert_id, user_id)


@router.post("/{alert_id}/stops", response_model=ls.StopStatusSaved, responses=errors(400, 401, 403, 404, 409,
                                                                                   429))
def report_stop(ctx: Ctx, services: ServicesDep, alert_id: IdPath, data: ls.StopStatusUpdate,
                minute: MinuteQuery = None) -> object:
    """Report a stop of the current plan version: on the way, picked up, dropped off, no-show, cannot reach."""
    if data.replan or minute is not None:
        minute = _replan_event(ctx, services, alert_id, minute)
    stop, job = live.set_stop_status(ctx, alert_id, data, minute)
    if job is not None:
        services.wake_runner()
    return ls.StopStatusSaved(stop=stop, job=None if job is None else alerts.job_public(ctx, job))


@router.post("/{alert_id}/stops/undo", response_model=ls.StopUndone, responses=errors(400, 401, 404, 409))
def undo_stop(ctx: Ctx, services: ServicesDep, alert_id: IdPath, data: ls.StopUndo,
              minute: MinuteQuery = None) -> object:
    """Take back a mistaken "not there" or "cannot reach" (the route's last done stop): the stop is waiting
    again and the re-plan queued with it puts the household back. The stop's driver or a coordinator."""
    undone, job = live.undo_miss(ctx, alert_id, data, minute)
    if job is not None:
        services.wake_runner()
    return undone.model_copy(update={"job": None if job is None else alerts.job_public(ctx, job)})


@router.get("/{alert_id}/stops", response_model=list[ls.StopStatusPublic], responses=errors(401, 404))
def list_stops(ctx: Ctx, alert_id: IdPath, plan_version: OptionalId = None) -> object:
    """Stop statuses of a plan version (default: the newest); drivers see their own routes' only."""
    return live.list_stop_statuses(ctx, alert_id, plan_version)


@router.post("/{alert_id}/dropouts", response_model=ls.DropoutAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 404, 409, 429))
def drop_out(ctx: Ctx, services: ServicesDep, alert_id: IdPath, data: ls.DropoutCreate, response: Response,
             minute: MinuteQuery = None) -> object:
    """A car of the current plan can drive no more; riders on board are still delivered and a re-plan is queued
    (or the waiting one joined)."""
    minute = _replan_event(ctx, services, alert_id, minute)
    rows, job = live.drop_out(ctx, alert_id, data, minute)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return ls.DropoutAccepted(dropouts=rows, job=alerts.job_public(ctx, job))


@router.post("/{alert_id}/closures", response_model=ls.AlertEvent, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 404, 409, 429))
def add_closures(ctx: Ctx, services: ServicesDep, alert_id: IdPath, data: ls.ClosureCreate, response: Response,
                 minute: MinuteQuery = None) -> object:
    """Add closed roads (OSM way ids) and flood zones to the alert and queue a re-plan."""
    minute = _replan_event(ctx, services, alert_id, minute)
    alert, job = live.add_closures(ctx, alert_id, data, minute)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return ls.AlertEvent(alert=schemas.AlertPublic.model_validate(alert), job=alerts.job_public(ctx, job))


@router.post("/{alert_id}/households", response_model=ls.HouseholdAdded, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403, 404, 409, 429))
def add_household(ctx: Ctx, services: ServicesDep, alert_id: IdPath, data: schemas.HouseholdCreate,
                  response: Response, minute: MinuteQuery = None) -> object:
    """A new request during the alert: register the household, add it to the alert's scope, queue a re-plan."""
    minute = _replan_event(ctx, services, alert_id, minute)
    household, alert, job = live.add_household(ctx, alert_id, data, minute)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return ls.HouseholdAdded(household=schemas.HouseholdPublic.model_validate(household),
                             alert=schemas.AlertPublic.model_validate(alert), job=alerts.job_public(ctx, job))


@router.post("/{alert_id}/replan", response_model=schemas.JobPublic, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(401, 403, 404, 409, 429))
def replan(ctx: Ctx, services: ServicesDep, alert_id: IdPath, response: Response,
           minute: MinuteQuery = None, confirm: ConfirmQuery = False) -> object:
    """Queue a re-plan from the live state (completed stops stay, riders stay with their driver)."""
    minute = _replan_event(ctx, services, alert_id, minute)
    job = live.request_replan(ctx, alert_id, minute, confirm)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return alerts.job_public(ctx, job)
