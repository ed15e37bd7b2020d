"""Who may see and change what. One rule throughout, so clients can rely on it:

* **404** for an object the user may not know about (another volunteer's vehicle, a household that is not
  theirs) -- the same answer as for an id that does not exist, so ids leak nothing;
* **403** for an action the user's role may not take on something they may know about (a volunteer
  changing a shelter, posting an alert, listing households).

A household's personal data is seen by coordinators, its registrar, and the driver it is assigned to in the
newest plan version of an alert while that alert is active (``can_read_household``), and only through an
approved vehicle of an approved account: plans contain no other (``api.jobs.load_scenario``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import models, planning, schemas
from api.errors import Forbidden


def is_coordinator(user: models.User) -> bool:
    return user.role == "coordinator"


def require_role(user: models.User, *roles: str, action: str) -> None:
    """Raise 403 unless the user has one of ``roles``; ``action`` says what was refused."""
    if user.role not in roles:
        allowed = " or ".join(f"{r}s" for r in roles)
        raise Forbidden(f"only {allowed} may {action} (you are a {user.role})")


def can_read_user(user: models.User, target: models.User) -> bool:
    return is_coordinator(user) or user.id == target.id


def can_read_vehicle(user: models.User, vehicle: models.Vehicle) -> bool:
    return is_coordinator(user) or vehicle.owner_id == user.id


def can_read_household(user: models.User, household: models.Household | None, session: Session) -> bool:
    """Coordinators, the household's registrar, and its assigned driver while the alert is active.

    ``None`` (no such household) is refused after the same work as a household the user may not read, so the
    time of a 404 does not tell whether the id exists.
    """
    if is_coordinator(user):
        return household is not None
    assigned = assigned_household_ids(user, session)
    if household is None:
        return False
    return household.registrar_id == user.id or household.id in assigned


def assigned_household_ids(user: models.User, session: Session) -> set[int]:
    """Households picked up or carried by the user's vehicles in the newest plan of each active alert."""
    drivers = own_driver_ids(user, session)
    if not drivers:
        return set()
    newest = (select(models.Plan.alert_id, func.max(models.Plan.version).label("version"))
              .join(models.Alert, models.Alert.id == models.Plan.alert_id)
              .where(models.Alert.status == "active").group_by(models.Plan.alert_id).subquery())
    plans = session.scalars(select(models.Plan).join(
        newest, (models.Plan.alert_id == newest.c.alert_id) & (models.Plan.version == newest.c.version)))
    found: set[int] = set()
    for plan in plans:
        for hid in plan.parsed.household_ids_of(drivers):
            db_id = planning.db_id(hid)
            if db_id is not None:
                found.add(db_id)
    return found


def can_change_household(user: models.User, household: models.Household) -> bool:
    return is_coordinator(user) or household.registrar_id == user.id


def own_driver_ids(user: models.User, session: Session) -> set[str]:
    """The plan driver ids (``V<id>``) of the user's own approved vehicles (only those are ever planned)."""
    if user.approval != "approved":
        return set()
    rows = session.scalars(select(models.Vehicle.id).where(models.Vehicle.owner_id == user.id,
                                                           models.Vehicle.approval == "approved"))
    return {planning.plan_id("vehicle", vid) for vid in rows}


def readable_household_ids(user: models.User, session: Session) -> set[str]:
    """The plan household ids (``H<id>``) whose data the user may see (not meaningful for coordinators)."""
    query = select(models.Household.id).where(models.Household.registrar_id == user.id)
    return {planning.plan_id("household", hid) for hid in session.scalars(query)}


def plan_view(user: models.User, alert: models.Alert, plan: models.Plan, session: Session) -> schemas.PlanPublic:
    """The plan as this user may see it.

    Coordinators see it whole. Anyone else sees the metrics, the routes of their own vehicles while the alert
    is active, and the unserved entries of households they registered -- never another household's stop.
    """
    if is_coordinator(user):
        return schemas.PlanPublic.model_validate(plan.plan)
    drivers = own_driver_ids(user, session) if alert.status == "active" else set()
    households = readable_household_ids(user, session)
    whole = plan.parsed
    cut = dataclasses.replace(whole, routes=tuple(r for r in whole.routes if r.driver_id in drivers),
                              unserved=tuple(u for u in whole.unserved if u.household_id in households))
    return schemas.PlanPublic.model_validate({**cut.to_dict(format_version=1), "redacted": True})


def geojson_view(
    user: models.User, alert: models.Alert, geojson: dict[str, Any], session: Session
) -> schemas.GeoJSONPublic:
    """The plan's GeoJSON with the same cut as ``plan_view``; shelters are public and always kept."""
    if is_coordinator(user):
        return schemas.GeoJSONPublic.model_validate(geojson)
    drivers = own_driver_ids(user, session) if alert.status == "active" else set()
    households = readable_household_ids(user, session)

    def keep(feature: dict[str, Any]) -> bool:
        props = feature.get("properties", {})
        kind = props.get("feature")
        if kind == "shelter":
            return True
        if kind in ("leg", "stop"):
            return props.get("driver_id") in drivers
        return kind == "unserved" and props.get("household_id") in households

    return schemas.GeoJSONPublic.model_validate(
        {**geojson, "features": [f for f in geojson.get("features", []) if keep(f)], "redacted": True})
