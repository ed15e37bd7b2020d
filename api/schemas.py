"""Request and response bodies: Base / Create / Update / Public per entity. Bounds keep every value storable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.security import password_problem
from matcher.codes import UnservedCode

Role = Literal["coordinator", "volunteer", "registrar"]
Approval = Literal["pending", "approved"]
#: A bus or van may carry more than a car (only a coordinator marks a vehicle so).
VehicleKind = Literal["car", "van", "bus"]
JobStatus = Literal["queued", "running", "done", "failed"]
AlertStatus = Literal["active", "closed"]


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refuse it here so it is a 422 naming the field, not a database error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_nul)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_no_nul)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_no_nul)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), AfterValidator(_no_nul)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_no_nul)]
Need = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_no_nul)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(_no_nul),
]
def _strong(value: str) -> str:
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Every password a person chooses or is given: 8 to 128 characters, not blank, not common (``password_problem``).
Password = Annotated[str, StringConstraints(min_length=8, max_length=128), AfterValidator(_no_nul),
                     AfterValidator(_strong)]
#: A password typed to prove who you are (checked, not judged): only bounded.
CurrentPassword = Annotated[str, StringConstraints(max_length=128), AfterValidator(_no_nul)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude, degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude, degrees")]
#: Minutes after the alert starts; a week bounds every realistic value.
Minutes = Annotated[float, Field(ge=0, le=10_080, allow_inf_nan=False)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="The version you read; a stale one gives 409")]
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class Strict(BaseModel):
    """Unknown fields are refused, so a misspelt field is a 422 naming it rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- accounts ---------------------------------------------------------------------------------------------


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserBase(Strict):
    name: Name = ""
    phone: Phone = ""
    language: Language = ""


class UserSignup(UserBase):
    """Anyone signing up becomes a volunteer, pending until a coordinator approves the account."""

    email: Email
    password: Password

    @model_validator(mode="after")
    def _not_own_name(self) -> UserSignup:
        # Judged again with the account's own words: "anna.virtanen2026" is weak for anna.virtanen@...
        problem = password_problem(self.password, (self.email, *self.email.split("@"), self.name))
        if problem is not None:
            raise ValueError(f"password {problem}")
        return self


class UserCreate(UserSignup):
    """A coordinator creates an account of any role."""

    role: Role = "volunteer"


class UserUpdate(Strict):
    version: Version
    name: Name | None = None
    phone: Phone | None = None
    language: Language | None = None
    #: Coordinators only.
    role: Role | None = None
    #: Coordinators only; a deactivated account cannot sign in, and its sessions end at once.
    is_active: bool | None = None


class PasswordChange(Strict):
    """Change your own password: the current one proves it is you; every other session of yours ends."""

    current_password: CurrentPassword
    new_password: Password


class PasswordReset(Strict):
    """A coordinator gives an account a temporary password, to be changed at its next sign-in."""

    temporary_password: Password


class SignupAccepted(BaseModel):
    """The same answer whether or not the e-mail had an account (sign-up does not tell which)."""

    detail: str = ("If this e-mail address had no account, one is made now: sign in with it. A coordinator "
                   "approves new volunteers before they are given households to drive.")


class UserPublic(Public):
    id: int
    email: str
    role: Role
    name: str
    phone: str
    language: str
    is_active: bool
    #: ``pending`` until a coordinator approves a self-signed-up account; only approved accounts drive.
    approval: Approval
    #: A temporary password was given: the account may only change it (``POST /users/me/password``).
    must_change_password: bool
    version: int
    created_at: datetime


# --- rosters: positions are lat/lon, or an address geocoded when lat/lon are missing ---------------------------


#: A registered neighbourhood (a regional plan's zone); empty when not registered.
Zone = Annotated[str, Field(max_length=80)]


class Positioned(Strict):
    address: Address = ""
    lat: Lat | None = None
    lon: Lon | None = None
    zone: Zone = ""


class VehicleBase(Positioned):
    label: Name = ""
    seats: int = Field(ge=0, le=100)
    wheelchair_spaces: int = Field(default=0, ge=0, le=20)
    available_from_minute: Minutes = 0.0
    #: ``None``: until the alert's deadline.
    available_until_minute: Minutes | None = None
    #: Cars take at most 8 seats and 4 wheelchair spaces; a coordinator may mark a van or bus, which take more.
    kind: VehicleKind = "car"


class VehicleCreate(VehicleBase):
    #: Coordinators may register a vehicle for a volunteer; a volunteer's own vehicles are theirs.
    owner_id: DbId | None = None


class VehicleUpdate(Strict):
    version: Version
    label: Name | None = None
    seats: int | None = Field(default=None, ge=0, le=100)
    wheelchair_spaces: int | None = Field(default=None, ge=0, le=20)
    available_from_minute: Minutes | None = None
    available_until_minute: Minutes | None = None
    kind: VehicleKind | None = None
    address: Address | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    zone: Zone | None = None


class VehiclePublic(Public):
    id: int
    owner_id: int
    label: str
    seats: int
    wheelchair_spaces: int
    available_from_minute: float
    available_until_minute: float | None
    kind: VehicleKind
    #: ``pending`` until a coordinator approves a car a volunteer registered; only approved cars are planned.
    approval: Approval
    address: str
    lat: float
    lon: float
    zone: str
    version: int
    created_at: datetime


class HouseholdBase(Positioned):
    name: Name = ""
    phone: Phone = ""
    people: int = Field(ge=1, le=200)
    wheelchair_users: int = Field(default=0, ge=0, le=200)
    #: Medical and other needs, e.g. ``["oxygen"]``.
    needs: list[Need] = Field(default_factory=list, max_length=20)
    pets: int = Field(default=0, ge=0, le=50)
    language: Language = ""
    #: 1 is the most urgent.
    priority: int = Field(default=3, ge=1, le=9)
    notes: Notes = ""


class HouseholdCreate(HouseholdBase):
    #: Coordinators may name the registrar; otherwise it is whoever registers the household.
    registrar_id: DbId | None = None


class HouseholdUpdate(Strict):
    version: Version
    name: Name | None = None
    phone: Phone | None = None
    address: Address | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    people: int | None = Field(default=None, ge=1, le=200)
    wheelchair_users: int | None = Field(default=None, ge=0, le=200)
    needs: list[Need] | None = Field(default=None, max_length=20)
    pets: int | None = Field(default=None, ge=0, le=50)
    language: Language | None = None
    priority: int | None = Field(default=None, ge=1, le=9)
    notes: Notes | None = None
    zone: Zone | None = None


class HouseholdPublic(Public):
    id: int
    registrar_id: int
    name: str
    phone: str
    address: str
    lat: float
    lon: float
    people: int
    wheelchair_users: int
    needs: list[str]
    pets: int
    language: str
    priority: int
    notes: str
    zone: str
    version: int
    created_at: datetime


class ShelterBase(Positioned):
    name: Name = ""
    capacity: int = Field(ge=0, le=1_000_000)
    wheelchair_accessible: bool = True
    pets_allowed: bool = False


class ShelterCreate(ShelterBase):
    pass


class ShelterUpdate(Strict):
    version: Version
    name: Name | None = None
    address: Address | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    wheelchair_accessible: bool | None = None
    pets_allowed: bool | None = None
    zone: Zone | None = None


class ShelterPublic(Public):
    id: int
    name: str
    address: str
    lat: float
    lon: float
    capacity: int
    wheelchair_accessible: bool
    pets_allowed: bool
    zone: str
    version: int
    created_at: datetime


class ImportResult(BaseModel):
    created: int
    updated: int
    ids: list[int]


# --- alerts, jobs and plans -----------------------------------------------------------------------------------

#: A ``[lon, lat]`` position inside a GeoJSON ring.
Position = Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, max_length=10_000)]


class Polygon(Strict):
    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1, max_length=100)]


class MultiPolygon(Strict):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[Annotated[list[Ring], Field(min_length=1, max_length=100)]],
                           Field(min_length=1, max_length=100)]


FloodZone = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


class AlertCreate(Strict):
    name: Name = ""
    #: When the alert starts; plan times are minutes after it. Default: now.
    start: datetime | None = None
    deadline_minutes: float = Field(gt=0, le=10_080, allow_inf_nan=False)
    flood_zones: list[FloodZone] = Field(default_factory=list, max_length=100)
    #: OSM way ids of closed roads.
    closed_ways: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=10_000)
    #: Households in scope; ``null`` (the default): every registered household.
    household_ids: list[DbId] | None = Field(default=None, max_length=100_000)


class AlertUpdate(Strict):
    version: Version
    name: Name | None = None
    status: AlertStatus | None = None


class AlertPublic(Public):
    id: int
    name: str
    start: datetime
    deadline_minutes: float
    flood_zones: list[dict[str, Any]]
    closed_ways: list[int]
    household_ids: list[int] | None
    status: AlertStatus
    created_by: int
    version: int
    created_at: datetime


class JobPublic(Public):
    id: int
    alert_id: int
    #: ``plan`` (from scratch) or ``replan`` (continues the newest plan version from the live state).
    kind: Literal["plan", "replan"] = "plan"
    reason: str
    #: A re-plan's minute after the alert start when the request gave one (else: the minute it is solved).
    minute: float | None = None
    status: JobStatus
    attempts: int
    error: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    #: The plan version this job published, once done.
    plan_version: int | None = None


class AlertCreated(BaseModel):
    alert: AlertPublic
    job: JobPublic


class PlanSummary(BaseModel):
    alert_id: int
    version: int
    job_id: int
    created_at: datetime
    metrics: dict[str, Any]
    #: Re-plans: the version continued, the live minute, and the share of waiting households that kept their driver.
    base_version: int | None = None
    minute: float | None = None
    stability: float | None = None


class AuditPublic(Public):
    id: int
    at: datetime
    user_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: int | None
    detail: dict[str, Any]


# --- the plan format (README "Plan format"): what GET /alerts/{id}/plans/{version} answers ---------------------


class PlanModel(BaseModel):
    """A part of the plan format; answers leave out the fields the stored plan does not have for a stop."""

    model_config = ConfigDict(extra="allow")


class StopPublic(PlanModel):
    """A pickup at a household's home or a drop-off at a shelter; minutes are after the alert start."""

    type: Literal["pickup", "dropoff"]
    #: Pickups: the household (``H<id>``), and for a household split over cars, which part of how many.
    household_id: str | None = None
    part: int | None = None
    parts: int | None = None
    #: Drop-offs: the shelter (``S<id>``) and the households who get off there.
    shelter_id: str | None = None
    household_ids: list[str] | None = None
    people: int
    wheelchair_users: int
    lat: float
    lon: float
    arrive_minute: float
    depart_minute: float


class LegPublic(PlanModel):
    """The drive to a stop: minutes, meters (``null`` when times came from a table), road path ``[lon, lat]``."""

    minutes: float
    meters: float | None
    coordinates: list[list[float]]


class RoutePublic(PlanModel):
    """One driver's stops in order; ``legs[i]`` ends at ``stops[i]``."""

    driver_id: str
    stops: list[StopPublic]
    legs: list[LegPublic]


class UnservedPublic(PlanModel):
    """A household the plan does not bring out: a stable ``code`` (``matcher.codes.UnservedCode``), words."""

    household_id: str
    code: UnservedCode
    reason: str


class MetricsPublic(PlanModel):
    clearance_minute: float
    households_served: int
    households_unserved: int
    people_served: int
    solve_seconds: float | None = None
    drive_minutes: float | None = None
    first_plan_seconds: float | None = None


class ReplanPublic(PlanModel):
    """A re-plan's figures (counts only): its live minute, the share of waiting households that kept their
    driver, how many moved, and how long it took."""

    minute: float
    stability: float
    households_reassigned: int
    seconds: float


class PlanPublic(PlanModel):
    """A plan as this user may see it: coordinators see it whole; others (``redacted``) see the metrics, the
    routes of their own vehicles while the alert is active, and the unserved households they registered."""

    scenario: str | None = None
    metrics: MetricsPublic
    routes: list[RoutePublic]
    unserved: list[UnservedPublic]
    replan: ReplanPublic | None = None
    redacted: bool | None = None


class GeoJSONPublic(PlanModel):
    """The plan as a GeoJSON FeatureCollection (features: shelters, stops, legs, unserved), cut like the plan."""

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    redacted: bool | None = None
