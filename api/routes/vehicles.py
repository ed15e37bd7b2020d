"""Vehicles of volunteers: a volunteer sees and changes only their own; coordinators all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api import crud, listing, schemas
from api.deps import Ctx, IdPath, Limit, Offset, OptionalId, VersionQuery
from api.responses import errors
from api.routes.csv_routes import add_csv_routes

router = APIRouter(prefix="/vehicles", tags=["vehicles"])
add_csv_routes(router, "vehicles")


@router.post("", response_model=schemas.VehiclePublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403))
def create_vehicle(ctx: Ctx, data: schemas.VehicleCreate) -> object:
    return crud.create_vehicle(ctx, data)


@router.get("", response_model=list[schemas.VehiclePublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_vehicles(ctx: Ctx, response: Response, filters: Annotated[listing.VehicleFilters, Query()],
                  offset: Offset = 0, limit: Limit = 100, owner_id: OptionalId = None) -> object:
    """A page of the cars you may see, searched, filtered and sorted; the total in ``X-Total-Count``."""
    return listing.answer(response, crud.list_vehicles(ctx, owner_id, offset, limit, filters))


@router.get("/{vehicle_id}", response_model=schemas.VehiclePublic, responses=errors(401, 404))
def get_vehicle(ctx: Ctx, vehicle_id: IdPath) -> object:
    return crud.get_vehicle(ctx, vehicle_id)


@router.patch("/{vehicle_id}", response_model=schemas.VehiclePublic, responses=errors(400, 401, 403, 404, 409))
def update_vehicle(ctx: Ctx, vehicle_id: IdPath, data: schemas.VehicleUpdate) -> object:
    return crud.update_vehicle(ctx, vehicle_id, data)


@router.delete("/{vehicle_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 409))
def delete_vehicle(ctx: Ctx, vehicle_id: IdPath, version: VersionQuery) -> Response:
    crud.delete_vehicle(ctx, vehicle_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
