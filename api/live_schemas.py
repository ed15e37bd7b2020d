"""Request and response bodies of live operations: manifests, stop statuses, drop-outs, closures, new requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import (
    AlertPublic,
    AlertStatus,
    DbId,
    FloodZone,
    HouseholdPublic,
    JobPublic,
    Notes,
    Strict,
    Version,
)
from matcher.codes import StopStatus

#: A stop's status (``matcher.codes.StopStatus``).
StopStatusName = StopStatus
#: A plan's driver id, ``V<vehicle id>``.
DriverId = Annotated[str, StringConstraints(pattern=r"^V[1-9][0-9]{0,9}$")]
StopIndex = Annotated[int, Field(ge=0, le=100_000)]


# --- manifest ---------------------------------------------------------------------------------------------


class ManifestHousehold(BaseModel):
    """The household's personal data, for the driver who picks it up."""

    id: int
    name: str
    phone: str
    address: str
    people: int
    wheelchair_users: int
    needs: list[str]
    #: The needs in words for the driver (``matcher.needs.describe``); free-text needs as registered.
    needs_described: list[str] = Field(default_factory=list)
    pets: int
    language: str
    notes: str
    #: How to get hold of them in a hurry: ``text`` for a household that may not rely on voice (never a call).
    contact: Literal["call", "text"] = "call"
    #: What to do at their door (``api.messaging.reach``), e.g. knock and show a written message; empty: nothing
    #: special.
    at_the_door: str = ""
    #: For a household that may not rely on voice: what to show them, written, at the door.
    door_card: str = ""


class ManifestMeetingPoint(BaseModel):
    """Where the household waits because its street is closed: a corner named by its streets, and the walk."""

    name: str
    lat: float
    lon: float
    walk_meters: float


class ManifestShelter(BaseModel):
    id: int | None
    name: str
    address: str
    wheelchair_accessible: bool | None = None
    pets_allowed: bool | None = None
    medical_support: bool | None = None


class ManifestLeg(BaseModel):
    """The drive to the stop: minutes, meters and the road path as ``[lon, lat]`` positions."""

    minutes: float
    meters: float | None
    coordinates: list[list[float]]


class ManifestStop(BaseModel):
    index: int
    type: Literal["pickup", "dropoff"]
    arrive_minute: float
    depart_minute: float
    #: The same times on the clock: the alert's start plus the minutes.
    arrive_at: datetime
    depart_at: datetime
    lat: float
    lon: float
    #: The position in words from the map's own addresses ("Tikankatu 11", "near Kortetie"): no network needed.
    place: str = ""
    people: int
    wheelchair_users: int
    #: Pickups: the plan's household id (``H<id>``), the part of a split household, and its data.
    household_id: str | None = None
    part: int | None = None
    parts: int | None = None
    household: ManifestHousehold | None = None
    #: Pickups at a meeting point (the household's street is closed): where, and how far they walk.
    meeting_point: ManifestMeetingPoint | None = None
    #: Pets boarding or getting off here (service animals aside).
    pets: int = 0
    #: Drop-offs: the plan's shelter id (``S<id>``), the shelter, and who gets off there.
    shelter_id: str | None = None
    shelter: ManifestShelter | None = None
    household_ids: list[str] = Field(default_factory=list)
    leg: ManifestLeg
    status: StopStatusName | None = None
    #: The status's version, to send back with the next report (``null``: no status yet).
    status_version: int | None = None
    status_at: datetime | None = None


class ManifestRoute(BaseModel):
    driver_id: str
    vehicle_id: int
    vehicle_label: str
    dropped_out: bool
    #: Leading stops done (picked up, dropped off, no-show or cannot reach): what a re-plan keeps.
    completed: int
    stops: list[ManifestStop]


class Manifest(BaseModel):
    """A driver's stops in the newest plan version of an alert, in driving order."""

    alert_id: int
    alert_name: str
    alert_status: AlertStatus
    alert_start: datetime
    user_id: int
    #: Who drives: the manifest's owner (a coordinator reading someone's manifest sees whom to call).
    driver_name: str = ""
    driver_phone: str = ""
    #: ``null`` while no plan has been published.
    plan_version: int | None
    plan_created_at: datetime | None
    stability: float | None
    routes: list[ManifestRoute]


# --- stop statuses ----------------------------------------------------------------------------------------


class StopStatusUpdate(Strict):
    """A status report for one stop of the current plan version."""

    plan_version: Version
    driver_id: DriverId
    stop_index: StopIndex
    status: StopStatusName
    #: The stop status's version you read (``status_version`` in the manifest); ``null`` when it had none.
    version: Version | None = None
    note: Notes = ""
    #: Also queue a re-plan from the live state (e.g. after a no-show, to use the free seats).
    replan: bool = False


class StopStatusPublic(BaseModel):
    plan_version: int
    driver_id: str
    stop_index: int
    household_id: str | None
    status: StopStatusName
    version: int
    at: datetime
    by_user_id: int | None
    note: str


class StopStatusSaved(BaseModel):
    stop: StopStatusPublic
    #: The re-plan queued when ``replan`` was asked for.
    job: JobPublic | None = None


class StopUndo(Strict):
    """Take back a mistaken ``no_show`` or ``cannot_reach`` report: the stop is waiting again and the household
    back in the next plan. Only the last done stop of the route can be taken back."""

    plan_version: Version
    driver_id: DriverId
    stop_index: StopIndex
    #: The stop status's version you read (``status_version`` in the manifest).
    version: Version
    note: Notes = ""
    #: Queue a re-plan from the live state, which puts the household back in the plan (default).
    replan: bool = True


class StopUndone(BaseModel):
    plan_version: int
    driver_id: str
    stop_index: int
    household_id: str | None
    #: The report taken back, and how many copies of it were removed (a re-plan carries it onto its version).
    undone: StopStatusName
    removed: int
    job: JobPublic | None = None


# --- events that queue a re-plan --------------------------------------------------------------------------


class DropoutCreate(Strict):
    #: The vehicle that can drive no more; ``null``: every vehicle of the signed-in volunteer.
    vehicle_id: DbId | None = None
    note: Notes = ""


class DropoutPublic(BaseModel):
    alert_id: int
    driver_id: str
    vehicle_id: int | None
    by_user_id: int | None
    at: datetime
    note: str


class DropoutAccepted(BaseModel):
    dropouts: list[DropoutPublic]
    job: JobPublic


class ClosureCreate(Strict):
    """Roads closed since the alert was posted: OSM way ids and/or flood-zone polygons (added to the alert's), and
    closed roads open again (``reopened_ways``, taken off the alert's closed ways)."""

    closed_ways: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=10_000)
    flood_zones: list[FloodZone] = Field(default_factory=list, max_length=100)
    reopened_ways: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=10_000)


class AlertEvent(BaseModel):
    alert: AlertPublic
    job: JobPublic


class HouseholdAdded(BaseModel):
    household: HouseholdPublic
    alert: AlertPublic
    job: JobPublic
