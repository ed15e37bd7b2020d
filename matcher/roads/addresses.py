"""An address index of one map, with no network: forward ("Tikankatu 11" -> position) and reverse (position -> label).

Built from the map file's ``addr:street``/``addr:housenumber`` tags and the ``name`` of its streets
(``matcher.roads.features``). A house number the map does not have is never invented: forward search then offers
the street itself (``exact`` false), and reverse answers "near <street>" or "near <street> <number>".
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from matcher.roads.features import Address, MapFeatures

EARTH_M = 6_371_000.0
#: A point this close to an address point is at that address.
AT_ADDRESS_M = 40.0
#: A street this close is what a place is "near"; farther, the place is described by its coordinates only.
NEAR_STREET_M = 300.0
#: "near <street> <number>" when an address of that street is this close.
NEAR_NUMBER_M = 200.0

_NUMBER_LAST = re.compile(r"^(?P<street>.*?\D)[\s,]+(?P<number>\d+\s*[a-z]?(?:\s*[-/]\s*\d+)?)$")
_NUMBER_FIRST = re.compile(r"^(?P<number>\d+\s*[a-z]?)[\s,]+(?P<street>\D.*)$")


class MatchKind(StrEnum):
    ADDRESS = "address"
    STREET = "street"


@dataclass(frozen=True)
class Match:
    """A search answer: ``label`` to show, where it is, and whether it is the typed address itself."""

    label: str
    lat: float
    lon: float
    kind: MatchKind
    #: True when the house number typed (or the street typed, without a number) is in the map.
    exact: bool


@dataclass(frozen=True)
class Description:
    """A position in words: ``label`` ("Tikankatu 11", "near Tikankatu 11", "near Kortetie")."""

    label: str
    #: The street the place is on or near ("" when no street is near).
    street: str
    #: Metres from the position to what the label names.
    meters: float
    #: True when the position is at a house number of the map.
    exact: bool


def normalize(text: str) -> str:
    """Lower case without accents or punctuation, single spaces ("Vanha  Viipurintie," -> "vanha viipurintie")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s/-]", " ", plain).split())


def split_number(query: str) -> tuple[str, str]:
    """``(street, number)`` of a typed address, in either order; number "" when none."""
    text = normalize(query)
    for pattern in (_NUMBER_LAST, _NUMBER_FIRST):
        found = pattern.match(text)
        if found:
            return found.group("street").strip(), found.group("number").replace(" ", "")
    return text, ""


class AddressIndex:
    """Forward and reverse lookups over one map's addresses and named streets; built once, read by many."""

    def __init__(self, features: MapFeatures) -> None:
        self.addresses = list(features.addresses)
        self._by_street: dict[str, list[Address]] = {}
        for a in self.addresses:
            self._by_street.setdefault(normalize(a.street), []).append(a)
        # Street segments as arrays for nearest-segment search; names by segment.
        names: list[str] = []
        starts: list[tuple[float, float]] = []
        ends: list[tuple[float, float]] = []
        self.streets: dict[str, str] = {}  # normalized -> as written
        self._street_points: dict[str, list[tuple[float, float]]] = {}
        for street in features.streets:
            self.streets.setdefault(normalize(street.name), street.name)
            self._street_points.setdefault(street.name, []).extend(street.coords)
            for start, end in zip(street.coords, street.coords[1:], strict=False):
                names.append(street.name)
                starts.append(start)
                ends.append(end)
        lats = [p[1] for s in features.streets for p in s.coords] or [0.0]
        self._cos = math.cos(math.radians(sum(lats) / len(lats)))
        self._seg_names = names
        self._a = self._xy(np.array(starts, dtype=np.float64).reshape(-1, 2))
        self._b = self._xy(np.array(ends, dtype=np.float64).reshape(-1, 2))
        self._addr_xy = self._xy(np.array([(a.lon, a.lat) for a in self.addresses], dtype=np.float64).reshape(-1, 2))

    def _xy(self, lonlat: np.ndarray) -> np.ndarray:
        """Metres east and north of (0, 0) on a plane fitted to the map (good to a few metres over a town)."""
        out = np.radians(lonlat) * EARTH_M
        out[:, 0] *= self._cos
        return out

    # --- forward ------------------------------------------------------------------------------------------------

    def street_position(self, name: str) -> tuple[float, float]:
        """``(lat, lon)`` of the street's point nearest its middle (a point on the street, not beside it)."""
        points = self._street_points[name]
        mid_lon = sum(p[0] for p in points) / len(points)
        mid_lat = sum(p[1] for p in points) / len(points)
        best = min(points, key=lambda p: (p[0] - mid_lon) ** 2 * self._cos ** 2 + (p[1] - mid_lat) ** 2)
        return best[1], best[0]

    def search(self, query: str, limit: int = 8) -> list[Match]:
        """Addresses and streets matching what is typed so far, best first (exact, then prefix, then inside)."""
        street_q, number = split_number(query)
        if not street_q:
            return []
        ranked: list[tuple[int, str, Match]] = []
        for key, name in self.streets.items():
            rank = 0 if key == street_q else 1 if key.startswith(street_q) else 2 if street_q in key else -1
            if rank < 0:
                continue
            homes = self._by_street.get(key, [])
            numbered = [a for a in homes if number and normalize(a.housenumber).replace(" ", "").startswith(number)]
            for a in numbered:
                exact = normalize(a.housenumber).replace(" ", "") == number
                ranked.append((rank * 2 + (0 if exact else 1), a.label,
                               Match(a.label, a.lat, a.lon, MatchKind.ADDRESS, exact and rank == 0)))
            if not number:
                for a in homes:
                    ranked.append((rank * 2 + 1, a.label, Match(a.label, a.lat, a.lon, MatchKind.ADDRESS, False)))
            lat, lon = self.street_position(name)
            # The street itself is offered last for its rank: a number typed but not in the map is not invented.
            ranked.append((rank * 2 + (0 if not number else 1), f"~{name}",
                           Match(name, lat, lon, MatchKind.STREET, rank == 0 and not number)))
        ranked.sort(key=lambda r: (r[0], r[2].kind != MatchKind.ADDRESS if number else r[2].kind == MatchKind.ADDRESS,
                                   r[1]))
        return [m for _, _, m in ranked[:limit]]

    def locate(self, query: str) -> Match | None:
        """The position of a full address with its house number, when the map has exactly it; else ``None``."""
        street_q, number = split_number(query)
        if not number:
            return None
        for a in self._by_street.get(street_q, []):
            if normalize(a.housenumber).replace(" ", "") == number:
                return Match(a.label, a.lat, a.lon, MatchKind.ADDRESS, True)
        return None

    def knows_street(self, query: str) -> str | None:
        """The street's name as the map writes it, when the typed address's street is in the map."""
        return self.streets.get(split_number(query)[0])

    # --- reverse ------------------------------------------------------------------------------------------------

    def describe(self, lat: float, lon: float) -> Description | None:
        """The address at a position, else "near" the closest street (and its closest number); ``None``: none near."""
        p = self._xy(np.array([[lon, lat]], dtype=np.float64))[0]
        if len(self.addresses):
            d = np.hypot(*(self._addr_xy - p).T)
            i = int(np.argmin(d))
            if d[i] <= AT_ADDRESS_M:
                a = self.addresses[i]
                return Description(a.label, a.street, float(d[i]), True)
        if not self._seg_names:
            return None
        ab = self._b - self._a
        length2 = np.maximum((ab * ab).sum(axis=1), 1e-9)
        t = np.clip(((p - self._a) * ab).sum(axis=1) / length2, 0.0, 1.0)
        nearest = self._a + ab * t[:, None]
        dist = np.hypot(*(nearest - p).T)
        j = int(np.argmin(dist))
        if dist[j] > NEAR_STREET_M:
            return None
        street = self._seg_names[j]
        homes = self._by_street.get(normalize(street), [])
        if homes:
            xy = self._xy(np.array([(a.lon, a.lat) for a in homes], dtype=np.float64))
            dh = np.hypot(*(xy - p).T)
            k = int(np.argmin(dh))
            if dh[k] <= NEAR_NUMBER_M:
                return Description(f"near {homes[k].label}", street, float(dh[k]), False)
        return Description(f"near {street}", street, float(dist[j]), False)
