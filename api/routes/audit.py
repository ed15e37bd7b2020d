"""The audit log (coordinators only): who read personal data or changed what, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import crud, schemas
from api.deps import Ctx, Limit, Offset, OptionalId

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[schemas.AuditPublic])
def list_audit(ctx: Ctx, entity: Annotated[str | None, Query(max_length=50)] = None, entity_id: OptionalId = None,
               user_id: OptionalId = None, offset: Offset = 0, limit: Limit = 100) -> object:
    return crud.list_audit(ctx, entity, entity_id, user_id, offset, limit)
