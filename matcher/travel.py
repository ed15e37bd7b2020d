"""Travel times between the places of a problem, whatever produced them (a road map or a given table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from matcher.polyline import EncodedPath

LocationKind = Literal["driver", "household", "shelter"]


@dataclass(frozen=True)
class LocationRef:
    """One row/column of a travel-time matrix: which record it belongs to."""

    kind: LocationKind
    id: str


@dataclass(frozen=True, init=False)
class LegPath(EncodedPath):
    """The road path of one leg: ``coordinates`` are ``(lon, lat)`` road nodes in driving order.

    Stored as an encoded polyline (``polyline``, see ``matcher/polyline.py``); give either the
    coordinates or the polyline.
    """

    minutes: float
    meters: float | None
    polyline: str

    def __init__(self, minutes: float, meters: float | None, coordinates: npt.ArrayLike | None = None, *,
                 polyline: str | None = None) -> None:
        object.__setattr__(self, "minutes", minutes)
        object.__setattr__(self, "meters", meters)
        self._init_path(coordinates, polyline)


class Router(Protocol):
    """Gives the road path between two matrix locations (by matrix index)."""

    def path(self, origin: int, destination: int) -> LegPath: ...

    def paths(self, pairs: list[tuple[int, int]]) -> list[LegPath]: ...


@dataclass(frozen=True, eq=False)
class TravelTimes:
    """Driving minutes between locations; ``inf`` where a location cannot reach another.

    ``minutes[i, j]`` is the time from ``locations[i]`` to ``locations[j]``; ``nan`` where a closure may have
    changed it and the re-plan it was updated for did not need it (``matrix.update_travel_times(needed=...)``:
    a re-plan reads only its waiting households, its drivers' places and the shelters; the next update computes
    a pending time when it is needed). ``router``, when the times
    come from a road map, gives the road path of any leg; a given table (a benchmark) has none.
    """

    locations: tuple[LocationRef, ...]
    minutes: npt.NDArray[np.float64]
    router: Router | None = None
    _index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.locations)
        if self.minutes.shape != (n, n):
            raise ValueError(f"travel-time matrix is {self.minutes.shape}, expected ({n}, {n})")
        self._index.clear()
        for i, ref in enumerate(self.locations):
            self._index[(ref.kind, ref.id)] = i

    def index(self, kind: LocationKind, record_id: str) -> int:
        """Matrix index of a record; ``KeyError`` if the matrix does not cover it."""
        return self._index[(kind, record_id)]

    def leg(self, origin: int, destination: int) -> LegPath:
        """The path of one leg, or a bare leg (no geometry) when there is no router."""
        if self.router is not None:
            return self.router.path(origin, destination)
        return LegPath(float(self.minutes[origin, destination]), None)

    def standing_at(self, places: dict[LocationRef, int]) -> TravelTimes:
        """The same table (no copy) with some records looked up at another row: a driver who stands at a shelter.

        ``places`` maps a record's ref to the row it is to use. Used to check the rest of a route from where
        its driver is now, on a regional table too large to slice.
        """
        view = TravelTimes(self.locations, self.minutes, self.router)
        for ref, row in places.items():
            view._index[(ref.kind, ref.id)] = row
        return view
