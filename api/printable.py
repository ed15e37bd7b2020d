"""The printable plan: every route with its stops joined to the people at them, and the households without a ride.

Built from the stored plan's typed view (``models.Plan.parsed``) and the rosters as they are now; one answer for the
page that prints it (``/app/plan``), so a coordinator's printout needs one request. Coordinators only: it holds
every household's name, phone and address; the read is audited with the households it shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from api import access, audit, models, planning
from api.alerts import _plan
from api.crud import Context, commit


class PrintStop(BaseModel):
    number: int
    type: str
    arrive_minute: float
    #: The clock time of the arrival (the alert's start plus ``arrive_minute``), UTC.
    arrive_at: datetime
    household_ids: list[int]
    names: list[str]
    phones: list[str]
    address: str
    lat: float
    lon: float
    people: int
    wheelchair_users: int
    needs: list[str]
    shelter: str


class PrintRoute(BaseModel):
    driver_id: str
    vehicle_id: int | None
    car: str
    driver_name: str
    driver_phone: str
    seats: int | None
    wheelchair_spaces: int | None
    stops: list[PrintStop]


class PrintUnserved(BaseModel):
    household_id: int | None
    name: str
    phone: str
    address: str
    people: int
    wheelchair_users: int
    priority: int | None
    code: str
    reason: str


class PrintablePlan(BaseModel):
    alert_id: int
    alert_name: str
    version: int
    start: datetime
    deadline_minutes: float
    created_at: datetime
    metrics: dict[str, Any]
    routes: list[PrintRoute]
    unserved: list[PrintUnserved]


def _where(household: models.Household | None, lat: float, lon: float) -> str:
    if household is not None and household.address:
        return household.address
    return f"{lat:.5f}, {lon:.5f}"


def printable_plan(ctx: Context, alert_id: int, version: int) -> PrintablePlan:
    """The plan version as the coordinator prints it (403 for anyone else)."""
    access.require_role(ctx.user, "coordinator", action="print a whole plan (drivers print their manifest)")
    alert, row = _plan(ctx, alert_id, version)
    plan = row.parsed
    ids = {planning.db_id(h) for h in plan.picked_ids() | {u.household_id for u in plan.unserved}} - {None}
    cars = {planning.db_id(r.driver_id) for r in plan.routes} - {None}
    shelters_ids = {planning.db_id(s) for s in plan.shelter_ids()} - {None}
    households = {h.id: h for h in ctx.session.scalars(select(models.Household).where(models.Household.id.in_(ids)))}
    vehicles = {v.id: v for v in ctx.session.scalars(select(models.Vehicle).where(models.Vehicle.id.in_(cars)))}
    owners = {u.id: u for u in ctx.session.scalars(
        select(models.User).where(models.User.id.in_({v.owner_id for v in vehicles.values()})))}
    shelters = {s.id: s for s in ctx.session.scalars(
        select(models.Shelter).where(models.Shelter.id.in_(shelters_ids)))}

    def household(plan_id: str | None) -> models.Household | None:
        db = None if plan_id is None else planning.db_id(plan_id)
        return None if db is None else households.get(db)

    routes = []
    for route in plan.routes:
        vehicle = vehicles.get(planning.db_id(route.driver_id) or 0)
        owner = owners.get(vehicle.owner_id) if vehicle is not None else None
        stops = []
        for number, stop in enumerate(route.stops, start=1):
            people = [household(h) for h in stop.households()]
            shelter = shelters.get(planning.db_id(str(stop.shelter_id)) or 0) if stop.type == "dropoff" else None
            home = people[0] if stop.type == "pickup" and people else None
            stops.append(PrintStop(
                number=number, type=stop.type, arrive_minute=round(stop.arrive_minute, 1),
                arrive_at=alert.start + timedelta(minutes=stop.arrive_minute),
                household_ids=[h.id for h in people if h is not None],
                names=[h.name or f"Household {h.id}" for h in people if h is not None],
                phones=[h.phone for h in people if h is not None and h.phone],
                address=(shelter.address or shelter.name) if shelter is not None else _where(home, stop.lat, stop.lon),
                lat=stop.lat, lon=stop.lon, people=stop.people, wheelchair_users=stop.wheelchair_users,
                needs=sorted({n for h in people if h is not None for n in h.needs}) if stop.type == "pickup" else [],
                shelter=(shelter.name or f"Shelter {shelter.id}") if shelter is not None else ""))
        routes.append(PrintRoute(
            driver_id=route.driver_id, vehicle_id=vehicle.id if vehicle else None,
            car=(vehicle.label or f"Car {vehicle.id}") if vehicle else route.driver_id,
            driver_name=owner.name if owner else "", driver_phone=owner.phone if owner else "",
            seats=vehicle.seats if vehicle else None, wheelchair_spaces=vehicle.wheelchair_spaces if vehicle else None,
            stops=stops))
    unserved = []
    for entry in plan.unserved:
        h = household(entry.household_id)
        unserved.append(PrintUnserved(
            household_id=h.id if h else None, name=(h.name or f"Household {h.id}") if h else entry.household_id,
            phone=h.phone if h else "", address=_where(h, h.lat, h.lon) if h else "", people=h.people if h else 0,
            wheelchair_users=h.wheelchair_users if h else 0, priority=h.priority if h else None,
            code=str(entry.code), reason=entry.reason))
    unserved.sort(key=lambda u: (u.priority or 9, u.name))
    audit.record(ctx.session, ctx.user, "print", "plan", row.id, alert_id=alert_id, version=version,
                 households=sorted(households))
    commit(ctx.session, "plan", row.id)
    return PrintablePlan(alert_id=alert.id, alert_name=alert.name or f"Alert {alert.id}", version=row.version,
                         start=alert.start, deadline_minutes=alert.deadline_minutes, created_at=row.created_at,
                         metrics=plan.metrics.to_dict(), routes=routes, unserved=unserved)
