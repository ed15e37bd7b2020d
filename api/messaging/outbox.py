"""The outbox: message rows written in the transaction of the event that causes them (a plan version published,
a stop reported, a reply, a check-in started). Nothing here sends; ``api.messaging.sender`` does.

Who is told what (docs/messages.md): on a plan version, each driver (stops, first pickup, manifest link) and each
household (first name of the driver, car, a 15-minute pickup window, reply options); after a re-plan only those
whose driver changed or whose pickup moved more than ``notify_moved_minutes``, and drivers whose pickups changed;
households left unserved once per alert that help is being arranged; a reminder before each pickup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import livestate, models, places, planning
from api.config import Settings
from api.messaging import reach
from api.messaging.reach import Address, Senses
from api.messaging.texts import Part, Template, render, render_part
from matcher.codes import DONE, StopStatus
from matcher.plan import Stop

#: A pickup window's length, told to households.
WINDOW_MINUTES = 15
#: Unserved codes not worth a "help is being arranged" message: the household was not there when the car came.
SILENT_UNSERVED = frozenset({"no_show", "cannot_reach"})


def _place_words(household: models.Household | None, settings: Settings) -> str:
    """Where a pickup is, for a text message: the registered address, else the street the map says it is near."""
    if household is None:
        return "-"
    return household.address or places.describe(settings, household.lat, household.lon)


def household_address(row: models.Household, settings: Settings) -> Address | None:
    """Where ``row``'s messages go (``api.messaging.reach``): ``None`` when it has no number that may be texted."""
    return reach.household(row, settings).address


def user_address(row: models.User, settings: Settings) -> Address:
    return reach.user(row, settings)


def queue(session: Session, address: Address, event: str, template: Template, body: str, *,
          alert_id: int | None = None, checkin_id: int | None = None,
          send_after: datetime | None = None, once: bool = False) -> models.Message | None:
    """Add one message row (in the caller's transaction). ``once``: not if this person already has one for
    ``event`` (a second reply asking for the help text gets none)."""
    if once and session.scalar(select(models.Message.id).where(
            models.Message.event == event, models.Message.recipient == address.recipient,
            models.Message.channel == address.channel)) is not None:
        return None
    row = models.Message(alert_id=alert_id, checkin_id=checkin_id, event=event, recipient=address.recipient,
                         channel=address.channel, to_address=address.to, template=template.value,
                         language=address.language, body=body, status="queued",
                         send_after=send_after or models.utcnow())
    session.add(row)
    return row


# --- plan versions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pickup:
    driver_id: str
    minute: float
    place: str


def _pickups(plan: dict[str, Any], skip: set[str]) -> tuple[dict[str, Pickup], dict[str, list[Pickup]]]:
    """Each waiting household's first pickup, and each driver's waiting pickups in order (households in
    ``skip`` are done: picked up or missed)."""
    by_household: dict[str, Pickup] = {}
    by_driver: dict[str, list[Pickup]] = {}
    for route in plan.get("routes", []):
        driver = route["driver_id"]
        mine = by_driver.setdefault(driver, [])
        for stop in route.get("stops", []):
            hid = stop.get("household_id")
            if stop.get("type") != "pickup" or hid is None or hid in skip:
                continue
            pickup = Pickup(driver, float(stop.get("arrive_minute", 0.0)), hid)
            mine.append(pickup)
            if hid not in by_household or pickup.minute < by_household[hid].minute:
                by_household[hid] = pickup
    return by_household, by_driver


def _done(session: Session, plan: models.Plan) -> set[str]:
    return {row.household_id for row in livestate.statuses(session, plan.id).values()
            if row.household_id is not None and row.status in DONE}


class _Clock:
    """Plan minutes as local clock times (``HH:MM``) in the deployment's time zone."""

    def __init__(self, alert: models.Alert, settings: Settings) -> None:
        self.start, self.zone = alert.start, ZoneInfo(settings.timezone)

    def at(self, minute: float) -> datetime:
        return self.start + timedelta(minutes=minute)

    def text(self, minute: float) -> str:
        return self.at(minute).astimezone(self.zone).strftime("%H:%M")

    def window(self, minute: float) -> tuple[str, str]:
        start = math.floor(minute / 5.0) * 5.0  # a round start reads better and is never after the arrival
        return self.text(start), self.text(start + WINDOW_MINUTES)


def first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0] or "-"


def _ids(plan_ids: Iterable[str]) -> list[int]:
    return sorted({i for i in (planning.db_id(p) for p in plan_ids) if i is not None})


@dataclass
class _Roster:
    """The people a plan version names, loaded in three queries."""

    households: dict[str, models.Household]
    vehicles: dict[str, models.Vehicle]
    owners: dict[int, models.User]

    @classmethod
    def load(cls, session: Session, household_ids: Iterable[str], driver_ids: Iterable[str]) -> _Roster:
        hids, vids = _ids(household_ids), _ids(driver_ids)
        households = {planning.plan_id("household", h.id): h for h in session.scalars(
            select(models.Household).where(models.Household.id.in_(hids)))} if hids else {}
        vehicles = {planning.plan_id("vehicle", v.id): v for v in session.scalars(
            select(models.Vehicle).where(models.Vehicle.id.in_(vids)))} if vids else {}
        owner_ids = sorted({v.owner_id for v in vehicles.values()})
        owners = {u.id: u for u in session.scalars(
            select(models.User).where(models.User.id.in_(owner_ids)))} if owner_ids else {}
        return cls(households, vehicles, owners)

    def driver(self, driver_id: str) -> tuple[models.User | None, models.Vehicle | None]:
        vehicle = self.vehicles.get(driver_id)
        return (None if vehicle is None else self.owners.get(vehicle.owner_id)), vehicle


def manifest_link(alert_id: int, settings: Settings) -> str:
    base = settings.public_base_url.rstrip("/")
    return f"{base}/app/manifest?alert={alert_id}" if base else "/app/manifest"


def plan_published(session: Session, settings: Settings, plan: models.Plan) -> int:
    """Queue the messages a new plan version calls for (in the publishing transaction); how many."""
    alert = session.get_one(models.Alert, plan.alert_id)
    base = session.scalar(select(models.Plan).where(models.Plan.alert_id == plan.alert_id,
                                                    models.Plan.version == plan.version - 1))
    done = _done(session, plan)
    new_h, new_d = _pickups(plan.plan, done)
    old_h, old_d = _pickups(base.plan, done) if base is not None else ({}, {})
    unserved = {u["household_id"]: u.get("code", "") for u in plan.plan.get("unserved", [])}
    roster = _Roster.load(session, [*new_h, *unserved], new_d)
    clock, event = _Clock(alert, settings), f"plan:{alert.id}:v{plan.version}"
    # Reminders of earlier versions would say old times: the new version's replace them.
    session.execute(update(models.Message).where(
        models.Message.alert_id == alert.id, models.Message.template == Template.REMINDER.value,
        models.Message.status == "queued").values(status="cancelled", error="a newer plan version replaced it"))
    count = _tell_households(session, settings, alert, roster, clock, event, new_h, old_h, base is None)
    count += _tell_drivers(session, settings, alert, roster, clock, event, new_d, old_d, base is None)
    count += _tell_unserved(session, settings, alert, roster, unserved, old_h, base is None)
    _remind(session, settings, alert, roster, clock, f"reminder:{alert.id}:v{plan.version}", new_h)
    return count


def _moved(new: Pickup, old: Pickup | None, settings: Settings) -> bool:
    return old is None or new.driver_id != old.driver_id or abs(new.minute - old.minute) > settings.notify_moved_minutes


def coordinators(session: Session, settings: Settings) -> list[Address]:
    """Every active coordinator's address."""
    return [user_address(u, settings) for u in session.scalars(
        select(models.User).where(models.User.role == "coordinator", models.User.is_active.is_(True))
        .order_by(models.User.id))]


def _tell_unreachable(session: Session, settings: Settings, alert: models.Alert, row: models.Household) -> int:
    """Tell every coordinator once per alert that a household in the plan cannot be texted and must not be phoned
    (``reach``: a landline number of a household whose messages may not rely on voice)."""
    count = 0
    for address in coordinators(session, settings):
        body = render(Template.COORDINATOR_UNREACHABLE, address.language, household=row.id, alert=alert.id)
        if queue(session, address, f"unreachable:{alert.id}:household:{row.id}", Template.COORDINATOR_UNREACHABLE,
                 body, alert_id=alert.id, once=True) is not None:
            count += 1
    return count


def _tell_households(session: Session, settings: Settings, alert: models.Alert, roster: _Roster, clock: _Clock,
                     event: str, new: dict[str, Pickup], old: dict[str, Pickup], first: bool) -> int:
    count = 0
    for hid, pickup in new.items():
        if not first and not _moved(pickup, old.get(hid), settings):
            continue
        row = roster.households.get(hid)
        if row is None:
            continue
        found = reach.household(row, settings)
        if found.address is None:
            count += _tell_unreachable(session, settings, alert, row) if found.refused else 0
            continue
        user, vehicle = roster.driver(pickup.driver_id)
        start, end = clock.window(pickup.minute)
        template = Template.HOUSEHOLD_ASSIGNED if hid not in old else Template.HOUSEHOLD_CHANGED
        body = reach.household_pickup(template, found.address, driver=first_name(user.name if user else ""),
                                      car=_car(vehicle), start=start, end=end)
        queue(session, found.address, event, template, body, alert_id=alert.id)
        count += 1
    return count


def _car(vehicle: models.Vehicle | None) -> str:
    return vehicle.label if vehicle is not None and vehicle.label else "-"


def _door(roster: _Roster, pickups: list[Pickup], language: str) -> str:
    """What the driver must know at the door: the first pickup's instruction, and a pointer to the manifest when
    a later pickup has one (each stop's is on the manifest)."""
    senses = [Senses.of(h.needs or []) if (h := roster.households.get(p.place)) is not None else Senses()
              for p in pickups]
    words = [reach.door_words(senses[0], language)] if senses else []
    if any(not s.standard for s in senses[1:]):
        words.append(render_part(Part.DOOR_LATER, language))
    return " ".join(w for w in words if w)


def _tell_drivers(session: Session, settings: Settings, alert: models.Alert, roster: _Roster, clock: _Clock,
                  event: str, new: dict[str, list[Pickup]], old: dict[str, list[Pickup]], first: bool) -> int:
    count = 0
    link = manifest_link(alert.id, settings)
    for driver_id, pickups in new.items():
        before = old.get(driver_id, [])
        if first and not pickups:
            continue
        if not first:
            same = [p.place for p in pickups] == [p.place for p in before]
            if same and (not pickups or not _moved(pickups[0], before[0], settings)):
                continue
        user, _vehicle = roster.driver(driver_id)
        if user is None or not user.is_active:
            continue
        address = user_address(user, settings)
        place, time = "-", "-"
        if pickups:
            household = roster.households.get(pickups[0].place)
            place, time = _place_words(household, settings), clock.text(pickups[0].minute)
        template = Template.DRIVER_PLAN if first or not before else Template.DRIVER_CHANGED
        body = render(template, address.language, pickups=len(pickups), time=time, place=place, link=link)
        door = _door(roster, pickups, address.language)
        queue(session, address, f"{event}:{driver_id}", template, f"{body} {door}" if door else body,
              alert_id=alert.id)
        count += 1
    return count


def _tell_unserved(session: Session, settings: Settings, alert: models.Alert, roster: _Roster,
                   unserved: dict[str, str], old: dict[str, Pickup], first: bool) -> int:
    count = 0
    for hid, code in unserved.items():
        row = roster.households.get(hid)
        if code in SILENT_UNSERVED or row is None:
            continue
        address = household_address(row, settings)
        if address is None:
            continue
        # Once per alert: later versions leaving it unserved say nothing new.
        if queue(session, address, f"unserved:{alert.id}", Template.HOUSEHOLD_UNSERVED,
                 render(Template.HOUSEHOLD_UNSERVED, address.language), alert_id=alert.id, once=True) is not None:
            count += 1
    del first, old  # every newly unserved household is told, whatever it was told before
    return count


def _remind(session: Session, settings: Settings, alert: models.Alert, roster: _Roster, clock: _Clock, event: str,
            new: dict[str, Pickup]) -> None:
    if settings.reminder_minutes <= 0:
        return
    now = models.utcnow()
    for hid, pickup in new.items():
        at = clock.at(pickup.minute - settings.reminder_minutes)
        row = roster.households.get(hid)
        address = None if row is None else household_address(row, settings)
        if at <= now or address is None:
            continue
        user, vehicle = roster.driver(pickup.driver_id)
        start, end = clock.window(pickup.minute)
        body = reach.with_arrival(render(Template.REMINDER, address.language,
                                         driver=first_name(user.name if user else ""), start=start, end=end),
                                  address.senses, address.language, car=_car(vehicle))
        queue(session, address, event, Template.REMINDER, body, alert_id=alert.id, send_after=at)


# --- stop statuses --------------------------------------------------------------------------------------------


def stop_reported(session: Session, settings: Settings, alert: models.Alert, plan: models.Plan,
                  row: models.StopStatus, stop: Stop) -> int:
    """"On the way" to a pickup tells its household; a drop-off tells the households it delivered."""
    if row.status == StopStatus.ON_THE_WAY and stop.type == "pickup":
        template = Template.ON_THE_WAY
    elif row.status == StopStatus.DROPPED_OFF:
        template = Template.AT_SHELTER
    else:
        return 0
    household_ids = list(stop.households())
    roster = _Roster.load(session, [h for h in household_ids if h], [row.driver_id])
    user, vehicle = roster.driver(row.driver_id)
    shelter_id = planning.db_id(str(stop.shelter_id or ""))
    shelter = None if shelter_id is None else session.get(models.Shelter, shelter_id)
    count = 0
    for hid in household_ids:
        household = roster.households.get(hid or "")
        address = None if household is None else household_address(household, settings)
        if address is None:
            continue
        body = render(template, address.language, driver=first_name(user.name if user else ""),
                      shelter=shelter.name if shelter is not None and shelter.name else "-")
        if template == Template.ON_THE_WAY:  # how they will know the driver is at the door
            body = reach.with_arrival(body, address.senses, address.language, car=_car(vehicle))
        # Per household and status within the alert: a re-plan carrying "on the way" over says nothing again.
        if queue(session, address, f"stop:{alert.id}:{row.status}", template, body, alert_id=alert.id,
                 once=True) is not None:
            count += 1
    del plan
    return count
