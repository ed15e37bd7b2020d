"""The plan: per driver an ordered list of stops with times and the road legs between them; the unserved.

``legs[i]`` ends at ``stops[i]``; ``legs[0]`` starts at the driver's position. Times are minutes after the
alert start. The JSON form is documented in the README ("Plan format").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy.typing as npt

from matcher.codes import UnservedCode
from matcher.polyline import EncodedPath
from matcher.travel import LocationRef

StopType = Literal["pickup", "dropoff"]

#: The plan format written by ``Plan.to_dict``: 2 keeps each leg's road path as an encoded polyline
#: (1 wrote ``coordinates`` as ``[lon, lat]`` pairs; ``Plan.from_dict`` reads both).
FORMAT_VERSION = 2


@dataclass(frozen=True)
class MeetingPoint:
    """Where a household whose own street is closed walks to be picked up: a corner on an open road.

    ``name`` names the corner by its streets (``Kotkankatu / Keskuskatu``); ``walk_meters`` is the
    straight-line walk from the door.
    """

    lat: float
    lon: float
    name: str
    walk_meters: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lat": self.lat, "lon": self.lon, "walk_meters": round(self.walk_meters, 1)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeetingPoint:
        return cls(float(data["lat"]), float(data["lon"]), str(data.get("name", "")), float(data["walk_meters"]))


@dataclass(frozen=True)
class Stop:
    """A pickup at a household's home, or a drop-off of one or more households at a shelter.

    A pickup of a split household (larger than any car) carries ``part`` and ``parts`` (1-based).
    A pickup at a meeting point (the home's street is closed) is at the meeting point's position and
    names it in ``meeting_point``. ``pets`` counts the pets boarding or unloading (service animals aside).
    """

    type: StopType
    lat: float
    lon: float
    arrive_minute: float
    depart_minute: float
    household_id: str | None = None
    shelter_id: str | None = None
    household_ids: tuple[str, ...] = ()
    people: int = 0
    wheelchair_users: int = 0
    part: int | None = None
    parts: int | None = None
    pets: int = 0
    meeting_point: MeetingPoint | None = None

    @property
    def place(self) -> LocationRef:
        """Where the stop is: the household's home for a pickup, the shelter for a drop-off."""
        if self.type == "pickup":
            return LocationRef("household", str(self.household_id))
        return LocationRef("shelter", str(self.shelter_id))

    def same_place(self, other: Stop) -> bool:
        """The same kind of stop at the same household (and part) or the same shelter."""
        return (self.type, self.household_id, self.part, self.shelter_id) == \
            (other.type, other.household_id, other.part, other.shelter_id)

    def households(self) -> tuple[str, ...]:
        """The households this stop concerns: the one picked up, or those dropped off."""
        return (str(self.household_id),) if self.type == "pickup" else self.household_ids

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "pickup":
            out["household_id"] = self.household_id
            out["people"] = self.people
            out["wheelchair_users"] = self.wheelchair_users
            if self.parts is not None and self.parts > 1:
                out["part"] = self.part
                out["parts"] = self.parts
            if self.meeting_point is not None:
                out["meeting_point"] = self.meeting_point.to_dict()
        else:
            out["shelter_id"] = self.shelter_id
            out["household_ids"] = list(self.household_ids)
            out["people"] = self.people
            out["wheelchair_users"] = self.wheelchair_users
        if self.pets:
            out["pets"] = self.pets
        out.update(
            lat=self.lat,
            lon=self.lon,
            arrive_minute=round(self.arrive_minute, 2),
            depart_minute=round(self.depart_minute, 2),
        )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stop:
        return cls(
            type=data["type"],
            lat=float(data["lat"]),
            lon=float(data["lon"]),
            arrive_minute=float(data["arrive_minute"]),
            depart_minute=float(data["depart_minute"]),
            household_id=data.get("household_id"),
            shelter_id=data.get("shelter_id"),
            household_ids=tuple(data.get("household_ids", ())),
            people=int(data.get("people", 0)),
            wheelchair_users=int(data.get("wheelchair_users", 0)),
            part=data.get("part"),
            parts=data.get("parts"),
            pets=int(data.get("pets", 0)),
            meeting_point=MeetingPoint.from_dict(data["meeting_point"]) if data.get("meeting_point") else None,
        )


@dataclass(frozen=True, init=False)
class Leg(EncodedPath):
    """The drive to a stop: minutes, meters (``None`` when times came from a table) and the road path.

    The road path is kept as an encoded polyline (``polyline``, 1e-7 degrees, see ``matcher/polyline.py``);
    ``coordinates`` decodes it to ``(lon, lat)`` points. Give either the coordinates or the polyline.
    """

    minutes: float
    meters: float | None
    polyline: str

    def __init__(self, minutes: float, meters: float | None, coordinates: npt.ArrayLike | None = None, *,
                 polyline: str | None = None) -> None:
        object.__setattr__(self, "minutes", minutes)
        object.__setattr__(self, "meters", meters)
        self._init_path(coordinates, polyline)

    def to_dict(self, format_version: int = FORMAT_VERSION) -> dict[str, Any]:
        """The JSON form: ``polyline`` in format 2, ``coordinates`` as ``[lon, lat]`` pairs in format 1."""
        out: dict[str, Any] = {
            "minutes": round(self.minutes, 2),
            "meters": None if self.meters is None else round(self.meters, 1),
        }
        if format_version == 1:
            out["coordinates"] = self.lonlat.tolist()
        else:
            out["polyline"] = self.polyline
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Leg:
        """A leg of either format: ``polyline`` (format 2) or ``coordinates`` as ``[lon, lat]`` pairs (format 1)."""
        meters = data.get("meters")
        meters = None if meters is None else float(meters)
        if "polyline" in data:
            return cls(float(data["minutes"]), meters, polyline=str(data["polyline"]))
        coordinates = [(float(c[0]), float(c[1])) for c in data.get("coordinates", ())]
        return cls(float(data["minutes"]), meters, coordinates)


@dataclass(frozen=True)
class Route:
    """One driver's stops in order and the legs that lead to them."""

    driver_id: str
    stops: tuple[Stop, ...]
    legs: tuple[Leg, ...]

    def to_dict(self, format_version: int = FORMAT_VERSION) -> dict[str, Any]:
        return {
            "driver_id": self.driver_id,
            "stops": [s.to_dict() for s in self.stops],
            "legs": [leg.to_dict(format_version) for leg in self.legs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        return cls(
            driver_id=data["driver_id"],
            stops=tuple(Stop.from_dict(s) for s in data["stops"]),
            legs=tuple(Leg.from_dict(leg) for leg in data["legs"]),
        )


@dataclass(frozen=True)
class Unserved:
    """A household the plan does not bring out, with a reason a coordinator can act on.

    ``code`` is stable for programs (``matcher.codes.UnservedCode``); ``reason`` is for people.
    """

    household_id: str
    reason: str
    code: UnservedCode = UnservedCode.NOT_ENOUGH_CARS

    def to_dict(self) -> dict[str, Any]:
        return {"household_id": self.household_id, "code": self.code, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unserved:
        return cls(data["household_id"], data["reason"], UnservedCode(data.get("code", UnservedCode.NOT_ENOUGH_CARS)))


@dataclass(frozen=True)
class Metrics:
    """Figures of a plan. ``clearance_minute`` is the last drop-off's arrival (0 when nobody is moved)."""

    clearance_minute: float
    households_served: int
    households_unserved: int
    people_served: int
    solve_seconds: float = 0.0
    drive_minutes: float = 0.0
    first_plan_seconds: float | None = None
    #: No plan serving every household the solver let through clears before this minute (``solver/bound.py``).
    clearance_bound_minute: float | None = None
    #: Per priority (as text, JSON keys): the latest minute a household of that priority is picked up.
    latest_pickup_by_priority: dict[str, float] = field(default_factory=dict)
    #: Households with a pickup target (``Rules.pickup_targets``) served, and those picked up within it.
    pickup_targets_total: int = 0
    pickup_targets_met: int = 0
    #: Served households that registered a language, and those whose driver speaks it.
    language_households: int = 0
    language_matched: int = 0

    @property
    def language_match_share(self) -> float | None:
        """Share of served households with a language whose driver speaks it (``None``: nobody gave one)."""
        return self.language_matched / self.language_households if self.language_households else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        if out["clearance_bound_minute"] is None:
            del out["clearance_bound_minute"]  # plans made without a bound keep their old shape
        out["latest_pickup_by_priority"] = {k: round(v, 2) for k, v in self.latest_pickup_by_priority.items()}
        share = self.language_match_share
        out["language_match_share"] = None if share is None else round(share, 4)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class ReplanSummary:
    """A re-plan's figures, counts only (everyone who may read the plan may read them)."""

    minute: float
    stability: float
    households_reassigned: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"minute": round(self.minute, 2), "stability": round(self.stability, 4),
                "households_reassigned": self.households_reassigned, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplanSummary:
        return cls(float(data["minute"]), float(data["stability"]), int(data["households_reassigned"]),
                   float(data["seconds"]))


@dataclass(frozen=True)
class Plan:
    """The solver's answer for one problem: routes for the drivers who drive, and every unserved household."""

    scenario: str
    metrics: Metrics
    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set on a plan that continues another from the live state.
    replan: ReplanSummary | None = None

    def to_dict(self, format_version: int = FORMAT_VERSION) -> dict[str, Any]:
        """The JSON form: ``format_version`` 2 with compact legs, or 1 (legs as coordinate pairs, no version
        field: exactly what readers of format 1 expect)."""
        if format_version not in (1, FORMAT_VERSION):
            raise ValueError(f"plan format_version {format_version!r}: this version writes 1 or {FORMAT_VERSION}")
        out: dict[str, Any] = {} if format_version == 1 else {"format_version": format_version}
        out |= {
            "scenario": self.scenario,
            "metrics": self.metrics.to_dict(),
            "routes": [r.to_dict(format_version) for r in self.routes],
            "unserved": [u.to_dict() for u in self.unserved],
        }
        out.update(self.extra)
        if self.replan is not None:
            out["replan"] = self.replan.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        known = {"format_version", "scenario", "metrics", "routes", "unserved", "replan"}
        version = data.get("format_version", 1)
        if version not in (1, FORMAT_VERSION):
            raise ValueError(f"plan format_version {version!r} is not one this version reads (1 or {FORMAT_VERSION})")
        replan = data.get("replan")
        return cls(
            scenario=data.get("scenario", ""),
            metrics=Metrics.from_dict(data["metrics"]),
            routes=tuple(Route.from_dict(r) for r in data["routes"]),
            unserved=tuple(Unserved.from_dict(u) for u in data.get("unserved", ())),
            extra={k: v for k, v in data.items() if k not in known},
            replan=None if replan is None else ReplanSummary.from_dict(replan),
        )

    def route(self, driver_id: str) -> Route | None:
        """The driver's route, or ``None`` when the plan gives them nothing to do."""
        return next((r for r in self.routes if r.driver_id == driver_id), None)

    def stops_of(self, driver_id: str) -> tuple[Stop, ...]:
        """The driver's stops in driving order (none when the plan gives them nothing to do)."""
        route = self.route(driver_id)
        return route.stops if route is not None else ()

    def stop(self, driver_id: str, index: int) -> Stop | None:
        """Stop ``index`` of the driver's route, or ``None`` when there is no such stop."""
        stops = self.stops_of(driver_id)
        return stops[index] if 0 <= index < len(stops) else None

    @staticmethod
    def place_of(stop: Stop) -> LocationRef:
        """Where a stop is (the one place-of-a-stop rule; see ``Stop.place``)."""
        return stop.place

    def driver_ids(self) -> frozenset[str]:
        """Drivers the plan gives a route."""
        return frozenset(r.driver_id for r in self.routes)

    def served_ids(self) -> frozenset[str]:
        """Households the plan drops off at a shelter (a split household once any part is)."""
        return frozenset(hid for r in self.routes for s in r.stops if s.type == "dropoff" for hid in s.household_ids)

    def picked_ids(self) -> frozenset[str]:
        """Households the plan has a pickup for."""
        return frozenset(str(s.household_id) for r in self.routes for s in r.stops if s.type == "pickup")

    def household_ids_of(self, driver_ids: set[str] | frozenset[str]) -> frozenset[str]:
        """Households picked up or carried by any of these drivers."""
        return frozenset(hid for r in self.routes if r.driver_id in driver_ids for s in r.stops
                         for hid in s.households())

    def shelter_ids(self) -> frozenset[str]:
        """Shelters the plan drops anyone off at."""
        return frozenset(str(s.shelter_id) for r in self.routes for s in r.stops if s.type == "dropoff")

    def driver_of(self) -> dict[str, str]:
        """Household id -> the driver of its (first) pickup."""
        out: dict[str, str] = {}
        for r in self.routes:
            for s in r.stops:
                if s.type == "pickup":
                    out.setdefault(str(s.household_id), r.driver_id)
        return out

    def stops(self) -> Iterator[tuple[str, int, Stop]]:
        """Every stop as ``(driver id, index in the route, stop)``."""
        for r in self.routes:
            for i, s in enumerate(r.stops):
                yield r.driver_id, i, s
