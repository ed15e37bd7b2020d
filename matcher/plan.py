"""The plan: per driver an ordered list of stops with times and the road legs between them; the unserved.

``legs[i]`` ends at ``stops[i]``; ``legs[0]`` starts at the driver's position. Times are minutes after the
alert start. The JSON form is documented in the README ("Plan format").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy.typing as npt

from matcher.polyline import EncodedPath

StopType = Literal["pickup", "dropoff"]

#: The plan format written by ``Plan.to_dict``: 2 keeps each leg's road path as an encoded polyline
#: (1 wrote ``coordinates`` as ``[lon, lat]`` pairs; ``Plan.from_dict`` reads both).
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Stop:
    """A pickup at a household's home, or a drop-off of one or more households at a shelter.

    A pickup of a split household (larger than any car) carries ``part`` and ``parts`` (1-based).
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "pickup":
            out["household_id"] = self.household_id
            out["people"] = self.people
            out["wheelchair_users"] = self.wheelchair_users
            if self.parts is not None and self.parts > 1:
                out["part"] = self.part
                out["parts"] = self.parts
        else:
            out["shelter_id"] = self.shelter_id
            out["household_ids"] = list(self.household_ids)
            out["people"] = self.people
            out["wheelchair_users"] = self.wheelchair_users
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

    ``code`` is stable for programs (``cut_off``, ``no_wheelchair_car``, ``no_shelter_room``,
    ``no_accessible_shelter``, ``too_late``, ``not_enough_cars``); ``reason`` is for people.
    """

    household_id: str
    reason: str
    code: str = "not_enough_cars"

    def to_dict(self) -> dict[str, Any]:
        return {"household_id": self.household_id, "code": self.code, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unserved:
        return cls(data["household_id"], data["reason"], data.get("code", "not_enough_cars"))


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

    def to_dict(self) -> dict[str, Any]:
        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Plan:
    """The solver's answer for one problem: routes for the drivers who drive, and every unserved household."""

    scenario: str
    metrics: Metrics
    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, format_version: int = FORMAT_VERSION) -> dict[str, Any]:
        """The JSON form (``format_version`` 2: compact legs; 1: legs as coordinate pairs, for older readers)."""
        if format_version not in (1, FORMAT_VERSION):
            raise ValueError(f"plan format_version {format_version!r}: this version writes 1 or {FORMAT_VERSION}")
        out: dict[str, Any] = {
            "format_version": format_version,
            "scenario": self.scenario,
            "metrics": self.metrics.to_dict(),
            "routes": [r.to_dict(format_version) for r in self.routes],
            "unserved": [u.to_dict() for u in self.unserved],
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        known = {"format_version", "scenario", "metrics", "routes", "unserved"}
        version = data.get("format_version", 1)
        if version not in (1, FORMAT_VERSION):
            raise ValueError(f"plan format_version {version!r} is not one this version reads (1 or {FORMAT_VERSION})")
        return cls(
            scenario=data.get("scenario", ""),
            metrics=Metrics.from_dict(data["metrics"]),
            routes=tuple(Route.from_dict(r) for r in data["routes"]),
            unserved=tuple(Unserved.from_dict(u) for u in data.get("unserved", ())),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def route(self, driver_id: str) -> Route | None:
        return next((r for r in self.routes if r.driver_id == driver_id), None)
