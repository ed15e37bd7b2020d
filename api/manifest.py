"""A driver's manifest: their stops in the newest plan version with times, households, shelters, roads, statuses.

The manifest is the only way a volunteer sees households' personal data: only of the households on their own
routes, only while the alert is active. Every read is audited: one entry for the manifest and one per household.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from api import access, alerts, audit, livestate, models, places, planning
from api import live_schemas as ls
from api.crud import Context, commit
from api.errors import NotFound
from api.messaging import reach
from api.messaging.outbox import first_name
from api.messaging.texts import Part, language_of, render_part
from matcher.live import leading_done
from matcher.needs import describe
from matcher.plan import Leg, Plan, Stop


def _clock(start: datetime, minute: float) -> datetime:
    return start + timedelta(minutes=minute)


def _household(row: models.Household | None, driver: models.User) -> ls.ManifestHousehold | None:
    """The household for its driver; how to reach them and what to do at the door come from ``reach``."""
    if row is None:  # deleted since the plan was made: the stop stays, the data is gone
        return None
    senses = reach.Senses.of(row.needs or [])
    card = "" if not senses.no_voice else render_part(Part.DOOR_CARD, language_of(row.language),
                                                      driver=first_name(driver.name))
    return ls.ManifestHousehold(id=row.id, name=row.name, phone=row.phone, address=row.address, people=row.people,
                                wheelchair_users=row.wheelchair_users, needs=list(row.needs),
                                needs_described=describe(row.needs), pets=row.pets, language=row.language,
                                notes=row.notes, contact=senses.contact.value,
                                at_the_door=reach.door_words(senses, language_of(driver.language)), door_card=card)


def _shelter(plan_shelter_id: str, rows: dict[int, models.Shelter], scenario: dict[str, Any]) -> ls.ManifestShelter:
    db_id = planning.db_id(plan_shelter_id)
    row = None if db_id is None else rows.get(db_id)
    if row is not None:
        return ls.ManifestShelter(id=row.id, name=row.name, address=row.address,
                                  wheelchair_accessible=row.wheelchair_accessible, pets_allowed=row.pets_allowed,
                                  medical_support=row.medical_support)
    # Deleted since: the name the plan was made with is still where the driver is going.
    known: dict[str, Any] = next((s for s in scenario.get("shelters", []) if s.get("id") == plan_shelter_id), {})
    return ls.ManifestShelter(id=db_id, name=str(known.get("name", plan_shelter_id)), address="")


def _target(ctx: Context, alert: models.Alert, user_id: int | None) -> models.User:
    """Whose manifest: one's own; a coordinator may read anyone's; anyone else gets 404 for others'."""
    if user_id is None or user_id == ctx.user.id:
        target = ctx.user
    elif not access.is_coordinator(ctx.user):
        raise NotFound("manifest", f"of user {user_id} in alert {alert.id}")
    else:
        found = ctx.session.get(models.User, user_id)
        if found is None:
            raise NotFound("user", user_id)
        target = found
    if alert.status != "active" and not access.is_coordinator(ctx.user):
        # Household data is for the evacuation only: once it is over the manifest is gone for drivers.
        raise NotFound("manifest", f"of user {target.id} in alert {alert.id} (the alert is closed)")
    return target


def _stop(index: int, stop: Stop, leg: Leg, start: datetime, homes: dict[int, models.Household],
          shelters: dict[int, models.Shelter], scenario: dict[str, Any], status: models.StopStatus | None,
          driver: models.User) -> ls.ManifestStop:
    out = ls.ManifestStop(
        index=index, type=stop.type, arrive_minute=round(stop.arrive_minute, 2),
        depart_minute=round(stop.depart_minute, 2), lat=stop.lat, lon=stop.lon,
        arrive_at=_clock(start, round(stop.arrive_minute, 2)), depart_at=_clock(start, round(stop.depart_minute, 2)),
        people=stop.people, wheelchair_users=stop.wheelchair_users, pets=stop.pets,
        meeting_point=None if stop.meeting_point is None else ls.ManifestMeetingPoint(**stop.meeting_point.to_dict()),
        leg=ls.ManifestLeg(**leg.to_dict(format_version=1)),
        status=None if status is None else ls.StopStatusName(status.status),
        status_version=None if status is None else status.version,
        status_at=None if status is None else status.at)
    if stop.type == "pickup":
        hid = str(stop.household_id)
        db_id = planning.db_id(hid)
        out.household_id, out.part, out.parts = hid, stop.part, stop.parts
        out.household = _household(None if db_id is None else homes.get(db_id), driver)
    else:
        out.shelter_id, out.household_ids = str(stop.shelter_id), list(stop.household_ids)
        out.shelter = _shelter(str(stop.shelter_id), shelters, scenario)
    return out


def _homes(ctx: Context, ids: set[int]) -> dict[int, models.Household]:
    if not ids:
        return {}
    return {row.id: row for row in ctx.session.scalars(select(models.Household).where(models.Household.id.in_(ids)))}


def _shelters(ctx: Context, ids: set[int]) -> dict[int, models.Shelter]:
    if not ids:
        return {}
    return {row.id: row for row in ctx.session.scalars(select(models.Shelter).where(models.Shelter.id.in_(ids)))}


def manifest(ctx: Context, alert_id: int, user_id: int | None = None) -> ls.Manifest:
    """The manifest of ``user_id`` (default: the signed-in user) in the alert's newest plan version; audited."""
    alert = alerts.get_alert(ctx, alert_id)
    target = _target(ctx, alert, user_id)
    plan = livestate.latest_plan(ctx.session, alert.id)
    vehicles = {planning.plan_id("vehicle", v.id): v for v in
                ctx.session.scalars(select(models.Vehicle).where(models.Vehicle.owner_id == target.id))}
    routes = [] if plan is None else [r for r in plan.parsed.routes if r.driver_id in vehicles]
    mine = Plan(plan.parsed.scenario, plan.parsed.metrics, tuple(routes)) if plan is not None else None
    homes = _homes(ctx, {i for hid in (mine.picked_ids() if mine else ()) for i in [planning.db_id(hid)]
                         if i is not None})
    shelters = _shelters(ctx, {i for sid in (mine.shelter_ids() if mine else ()) for i in [planning.db_id(sid)]
                               if i is not None})
    status = {} if plan is None else livestate.statuses(ctx.session, plan.id)
    done = {} if mine is None else leading_done(mine, {k: v.status for k, v in status.items()})
    dropped = livestate.dropped_drivers(ctx.session, alert.id)
    out_routes = []
    for route in routes:
        stops = [_stop(i, s, leg, alert.start, homes, shelters, plan.scenario if plan else {},
                       status.get((route.driver_id, i)), target)
                 for i, (s, leg) in enumerate(zip(route.stops, route.legs, strict=True))]
        for stop in stops:
            stop.place = places.describe(ctx.settings, stop.lat, stop.lon)
        vehicle = vehicles[route.driver_id]
        out_routes.append(ls.ManifestRoute(driver_id=route.driver_id, vehicle_id=vehicle.id,
                                           vehicle_label=vehicle.label, dropped_out=route.driver_id in dropped,
                                           completed=done.get(route.driver_id, 0), stops=stops))
    version = None if plan is None else plan.version
    audit.record(ctx.session, ctx.user, "read", "manifest", target.id, alert_id=alert.id, plan_version=version,
                 households=sorted(homes))
    for household_id in sorted(homes):
        audit.record(ctx.session, ctx.user, "read", "household", household_id, via="manifest", alert_id=alert.id,
                     plan_version=version)
    commit(ctx.session, "manifest", target.id)
    return ls.Manifest(alert_id=alert.id, alert_name=alert.name, alert_status=alert.status,  # type: ignore[arg-type]
                       alert_start=alert.start, user_id=target.id, driver_name=target.name,
                       driver_phone=target.phone, plan_version=version,
                       plan_created_at=None if plan is None else plan.created_at,
                       stability=None if plan is None else plan.stability, routes=out_routes)
