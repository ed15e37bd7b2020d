"""``GET /rosters/summary``: how many cars, seats, households, people and shelter places are registered.

Counts only (no names, phones or places), for the coordinator dashboard, so it need not download every household
to show them: one query per table, whatever the size of the rosters. Coordinators only.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from api import access, models
from api.deps import Ctx
from api.responses import errors

router = APIRouter(prefix="/rosters", tags=["rosters"])


class RosterSummary(BaseModel):
    volunteers: int
    cars: int
    seats: int
    wheelchair_spaces: int
    households: int
    people: int
    wheelchair_users: int
    shelters: int
    shelter_places: int


@router.get("/summary", response_model=RosterSummary, responses=errors(401, 403))
def summary(ctx: Ctx) -> RosterSummary:
    """Totals of the registered rosters (coordinators only; no personal data, so not audited)."""
    access.require_role(ctx.user, "coordinator", action="read the roster totals")
    session = ctx.session
    volunteers = session.scalar(select(func.count()).where(models.User.role == "volunteer"))
    cars, seats, chairs = session.execute(select(
        func.count(), func.coalesce(func.sum(models.Vehicle.seats), 0),
        func.coalesce(func.sum(models.Vehicle.wheelchair_spaces), 0))).one()
    households, people, users = session.execute(select(
        func.count(), func.coalesce(func.sum(models.Household.people), 0),
        func.coalesce(func.sum(models.Household.wheelchair_users), 0))).one()
    shelters, places = session.execute(select(func.count(), func.coalesce(func.sum(models.Shelter.capacity), 0))).one()
    return RosterSummary(volunteers=volunteers or 0, cars=cars, seats=seats, wheelchair_spaces=chairs,
                         households=households, people=people, wheelchair_users=users, shelters=shelters,
                         shelter_places=places)
