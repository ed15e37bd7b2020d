"""Vehicles of volunteers: a volunteer sees and changes only their own; coordinators all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api import crud, listing, schemas
from api.deps import Ctx, IdPath, Limit, Offset, OptionalId, Relocated, VersionQuery, geocoded, relocated
from api.responses import errors
from api.routes.csv_routes import add_csv_routes
from api.schemas import Approval

#: The body, its address geocoded before a database slot is taken (``api.deps.geocoded``).
GeocodedVehicleCreate = Annotated[schemas.VehicleCreate, geocoded(schemas.VehicleCreate, "vehicle")]
RelocatedVehicleUpdate = Annotated[Relocated[schemas.VehicleUpdate], relocated(schemas.VehicleUpdate)]

router = APIRouter(prefix="/vehicles", tags=["vehicles"])
add_csv_routes(router, "vehicles")


@router.post("", response_model=schemas.VehiclePublic, status_code=status.HTTP_201_CREATED,
             responses=errors(400, 401, 403))
def create_vehicle(data: GeocodedVehicleCreate, ctx: Ctx) -> object:
    """Register a vehicle: a volunteer's is ``pending`` until a coordinator approves it (and is not planned till
    then); a car has at most 8 seats and 4 wheelchair spaces unless a coordinator marks it a van or bus."""
    return crud.create_vehicle(ctx, data)


@router.get("", response_model=list[schemas.VehiclePublic], responses={**listing.TOTAL_DOC, **errors(401, 403)})
def list_vehicles(ctx: Ctx, response: Response, filters: Annotated[listing.VehicleFilters, Query()],
                  offset: Offset = 0, limit: Limit = 100, owner_id: OptionalId = None,
                  approval: Approval | None = None) -> object:
    """A page of the vehicles you may see (a volunteer's own; coordinators all), searched, filtered and sorted;
    ``approval=pending`` lists those waiting for approval; the total in ``X-Total-Count``."""
    return listing.answer(response, crud.list_vehicles(ctx, owner_id, offset, limit, approval, filters))


@router.post("/{vehicle_id}/approve", response_model=schemas.VehiclePublic, responses=errors(401, 403, 404, 409))
def approve_vehicle(ctx: Ctx, vehicle_id: IdPath) -> object:
    """Approve a car a volunteer registered (coordinators): it takes part in plans from the next one on."""
    return crud.approve_vehicle(ctx, vehicle_id)


@router.get("/{vehicle_id}", response_model=schemas.VehiclePublic, responses=errors(401, 404))
def get_vehicle(ctx: Ctx, vehicle_id: IdPath) -> object:
    return crud.get_vehicle(ctx, vehicle_id)


@router.patch("/{vehicle_id}", response_model=schemas.VehiclePublic, responses=errors(400, 401, 403, 404, 409))
def update_vehicle(body: RelocatedVehicleUpdate, ctx: Ctx, vehicle_id: IdPath) -> object:
    return crud.update_vehicle(body.context(ctx), vehicle_id, body.data)


@router.delete("/{vehicle_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 409))
def delete_vehicle(ctx: Ctx, vehicle_id: IdPath, version: VersionQuery) -> Response:
    crud.delete_vehicle(ctx, vehicle_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
