"""``GET /alerts/{id}/plans/{version}/print``: the whole plan joined to the rosters, for printing (coordinators)."""

from __future__ import annotations

from fastapi import APIRouter

from api import printable
from api.deps import Ctx, IdPath
from api.responses import errors

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("/{alert_id}/plans/{version}/print", response_model=printable.PrintablePlan,
            responses=errors(401, 403, 404))
def print_plan(ctx: Ctx, alert_id: IdPath, version: IdPath) -> object:
    """Every route (car, driver, stops with names, phones and addresses) and every household without a ride."""
    return printable.printable_plan(ctx, alert_id, version)
