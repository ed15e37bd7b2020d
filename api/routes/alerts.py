"""Alerts: a coordinator posts one and a plan job is queued; plans are read by version, as JSON or GeoJSON."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import alerts, listing, schemas
from api.deps import Ctx, IdPath, Limit, Offset, ServicesDep
from api.responses import errors
from api.schemas import AlertStatus

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.post("", response_model=schemas.AlertCreated, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(400, 401, 403))
def create_alert(ctx: Ctx, services: ServicesDep, data: schemas.AlertCreate, response: Response) -> object:
    """Store the alert and queue its plan job; poll ``GET /jobs/{id}`` until it is ``done`` or ``failed``."""
    alert, job = alerts.create_alert(ctx, data)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return schemas.AlertCreated(alert=schemas.AlertPublic.model_validate(alert), job=alerts.job_public(ctx, job))


@router.get("", response_model=list[schemas.AlertPublic], responses={**listing.TOTAL_DOC, **errors(401)})
def list_alerts(ctx: Ctx, response: Response, status: AlertStatus | None = None, offset: Offset = 0,
                limit: Limit = 100) -> object:
    return listing.answer(response, alerts.list_alerts(ctx, status, offset, limit))


@router.get("/{alert_id}", response_model=schemas.AlertPublic, responses=errors(401, 404))
def get_alert(ctx: Ctx, alert_id: IdPath) -> object:
    return alerts.get_alert(ctx, alert_id)


@router.patch("/{alert_id}", response_model=schemas.AlertPublic, responses=errors(400, 401, 403, 404, 409))
def update_alert(ctx: Ctx, alert_id: IdPath, data: schemas.AlertUpdate) -> object:
    """Rename, close or reopen an alert."""
    return alerts.update_alert(ctx, alert_id, data)


@router.post("/{alert_id}/jobs", response_model=schemas.JobPublic, status_code=status.HTTP_202_ACCEPTED,
             responses=errors(401, 403, 404, 409))
def request_plan(ctx: Ctx, services: ServicesDep, alert_id: IdPath, response: Response) -> object:
    """Queue a new plan of the alert on the rosters as they are now (coordinators). Once any stop of the alert
    has been reported the answer is 409: continue the plan with ``POST /alerts/{id}/replan`` instead."""
    job = alerts.request_plan(ctx, alert_id)
    services.wake_runner()
    response.headers["Location"] = f"/jobs/{job.id}"
    return alerts.job_public(ctx, job)


@router.get("/{alert_id}/jobs", response_model=list[schemas.JobPublic], responses=errors(401, 404))
def list_jobs(ctx: Ctx, alert_id: IdPath) -> object:
    return alerts.list_jobs(ctx, alert_id)


@router.get("/{alert_id}/plans", response_model=list[schemas.PlanSummary], responses=errors(401, 404))
def list_plans(ctx: Ctx, alert_id: IdPath) -> object:
    """The alert's plan versions with their metrics, oldest first."""
    return alerts.list_plans(ctx, alert_id)


@router.get("/{alert_id}/plans/{version}", response_model=schemas.PlanPublic, response_model_exclude_unset=True,
            responses=errors(401, 404))
def get_plan(ctx: Ctx, alert_id: IdPath, version: IdPath) -> object:
    """The solver's plan JSON (README "Plan format"); non-coordinators get only what concerns them."""
    return alerts.get_plan(ctx, alert_id, version)


@router.get("/{alert_id}/plans/{version}/geojson", response_model=schemas.GeoJSONPublic,
            response_model_exclude_unset=True, responses=errors(401, 404))
def get_plan_geojson(ctx: Ctx, alert_id: IdPath, version: IdPath) -> object:
    """The plan as a GeoJSON FeatureCollection, cut like the plan JSON."""
    return alerts.get_plan_geojson(ctx, alert_id, version)
