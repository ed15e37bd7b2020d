"""Households: seen and changed by coordinators and their registrar (404 for anyone else)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api import crud, listing, schemas
from api.deps import Ctx, IdPath, Limit, Offset, OptionalId, Relocated, VersionQuery, geocoded, relocated
from api.responses import errors
from api.routes.csv_routes import add_csv_routes

#: The body, its address geocoded before a database slot is taken (``api.deps.geocoded``).
GeocodedHouseholdCreate = Annotated[schemas.HouseholdCreate, geocoded(schemas.HouseholdCreate, "household")]
RelocatedHouseholdUpdate = Annotated[Relocated[schemas.HouseholdUpdate], relocated(schemas.HouseholdUpdate)]

router = APIRouter(prefix="/households", tags=["households"])
add_csv_routes(router, "households")


@router.post("", response_model=schemas.HouseholdPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403, 409))
def create_household(data: GeocodedHouseholdCreate, ctx: Ctx) -> object:
    return crud.create_household(ctx, data)


@router.get("", response_model=list[schemas.HouseholdPublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_households(ctx: Ctx, response: Response, filters: Annotated[listing.HouseholdFilters, Query()],
                    offset: Offset = 0, limit: Limit = 100, registrar_id: OptionalId = None) -> object:
    """A page of the households you may see, searched, filtered and sorted; the total in ``X-Total-Count``."""
    return listing.answer(response, crud.list_households(ctx, registrar_id, offset, limit, filters))


@router.get("/{household_id}", response_model=schemas.HouseholdPublic, responses=errors(401, 404))
def get_household(ctx: Ctx, household_id: IdPath) -> object:
    return crud.get_household(ctx, household_id)


@router.patch("/{household_id}", response_model=schemas.HouseholdPublic, responses=errors(400, 401, 403, 404, 409))
def update_household(body: RelocatedHouseholdUpdate, ctx: Ctx, household_id: IdPath) -> object:
    return crud.update_household(body.context(ctx), household_id, body.data)


@router.delete("/{household_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 409))
def delete_household(ctx: Ctx, household_id: IdPath, version: VersionQuery) -> Response:
    crud.delete_household(ctx, household_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
