"""The audit log (coordinators only): who read personal data or changed what, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api import crud, listing, schemas
from api.deps import Ctx, Limit, Offset, OptionalId
from api.responses import errors

router = APIRouter(prefix="/audit", tags=["audit"])
#: No NUL: PostgreSQL refuses it in a text comparison (a 500), so it is a 422 naming the field here.
EntityQuery = Annotated[str | None, Query(max_length=50, pattern=r"^[^\x00]*$")]


@router.get("", response_model=list[schemas.AuditPublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_audit(ctx: Ctx, response: Response, entity: EntityQuery = None, entity_id: OptionalId = None,
               user_id: OptionalId = None, offset: Offset = 0, limit: Limit = 100) -> object:
    return listing.answer(response, crud.list_audit(ctx, entity, entity_id, user_id, offset, limit))
