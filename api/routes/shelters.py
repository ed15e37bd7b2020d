"""Shelters: every signed-in user reads them; coordinators change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api import crud, listing, schemas
from api.deps import Ctx, IdPath, Limit, Offset, Relocated, VersionQuery, geocoded, relocated
from api.responses import errors
from api.routes.csv_routes import add_csv_routes

#: The body, its address geocoded before a database slot is taken (``api.deps.geocoded``).
GeocodedShelterCreate = Annotated[schemas.ShelterCreate, geocoded(schemas.ShelterCreate, "shelter")]
RelocatedShelterUpdate = Annotated[Relocated[schemas.ShelterUpdate], relocated(schemas.ShelterUpdate)]

router = APIRouter(prefix="/shelters", tags=["shelters"])
add_csv_routes(router, "shelters")


@router.post("", response_model=schemas.ShelterPublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403))
def create_shelter(data: GeocodedShelterCreate, ctx: Ctx) -> object:
    return crud.create_shelter(ctx, data)


@router.get("", response_model=list[schemas.ShelterPublic], responses={**listing.TOTAL_DOC, **errors(401)})
def list_shelters(ctx: Ctx, response: Response, filters: Annotated[listing.ShelterFilters, Query()],
                  offset: Offset = 0, limit: Limit = 100) -> object:
    """A page of the shelters, searched and sorted; the total in ``X-Total-Count``."""
    return listing.answer(response, crud.list_shelters(ctx, offset, limit, filters))


@router.get("/{shelter_id}", response_model=schemas.ShelterPublic, responses=errors(401, 404))
def get_shelter(ctx: Ctx, shelter_id: IdPath) -> object:
    return crud.get_shelter(ctx, shelter_id)


@router.patch("/{shelter_id}", response_model=schemas.ShelterPublic, responses=errors(400, 401, 403, 404, 409))
def update_shelter(body: RelocatedShelterUpdate, ctx: Ctx, shelter_id: IdPath) -> object:
    return crud.update_shelter(body.context(ctx), shelter_id, body.data)


@router.delete("/{shelter_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 409))
def delete_shelter(ctx: Ctx, shelter_id: IdPath, version: VersionQuery) -> Response:
    crud.delete_shelter(ctx, shelter_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
