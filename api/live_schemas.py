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
    pets: int
    language: str
    notes: str


class ManifestShelter(BaseModel):
    id: int | None
    name: str
    address: str
    wheelchair_accessible: bool | None = None
    pets_allowed: bool | None = None


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
