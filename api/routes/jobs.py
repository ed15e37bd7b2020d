"""Plan jobs: poll one until it is ``done`` (then it names its plan version) or ``failed`` (with the reason)."""

from __future__ import annotations

from fastapi import APIRouter

from api import alerts, schemas
from api.deps import Ctx, IdPath
from api.responses import errors

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=schemas.JobPublic, responses=errors(401, 404))
def get_job(ctx: Ctx, job_id: IdPath) -> object:
    return alerts.get_job(ctx, job_id)
