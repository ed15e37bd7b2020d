"""Addresses to positions: the map's own address index (default, no network) or an online geopy geocoder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from api.config import Settings
from matcher.errors import InputError

OFF = ("", "none", "off", "offline")
#: The map file's own addresses (``api.places``): works with no network.
LOCAL = "local"


class Geocoder(Protocol):
    def locate(self, address: str) -> tuple[float, float] | None:
        """``(lat, lon)`` of an address, ``None`` when not found; raises ``GeocoderUnavailable``."""
        ...


class GeocoderUnavailable(Exception):
    """The geocoder cannot be reached (offline, timed out, refused, or switched off)."""


class GeopyGeocoder:
    """Any geopy geocoder by its service name (``nominatim``, ``photon``, ...)."""

    def __init__(self, name: str, user_agent: str, timeout_seconds: float, domain: str | None = None,
                 scheme: str = "https") -> None:
        from geopy.geocoders import get_geocoder_for_service

        self.name = name
        where = {} if domain is None else {"domain": domain, "scheme": scheme}
        self._geocoder = get_geocoder_for_service(name)(user_agent=user_agent, timeout=timeout_seconds, **where)

    def locate(self, address: str) -> tuple[float, float] | None:
        from geopy.exc import GeopyError

        try:
            found = self._geocoder.geocode(address)
        except GeopyError as exc:
            raise GeocoderUnavailable(f"geocoder {self.name} failed: {type(exc).__name__}") from None
        except OSError as exc:  # no network at all
            raise GeocoderUnavailable(f"geocoder {self.name} is unreachable: {exc}") from None
        return None if found is None else (float(found.latitude), float(found.longitude))


class NoGeocoder:
    """Switched off by configuration: every address without lat/lon is refused with a clear message."""

    def locate(self, address: str) -> tuple[float, float] | None:
        raise GeocoderUnavailable("no geocoder is configured (EVAC_GEOCODER=none)")


class LocalGeocoder:
    """The map's own ``addr:*`` tags: an address is found only when the map has that house number on that street."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def locate(self, address: str) -> tuple[float, float] | None:
        from api import places

        index = places.address_index(self.settings)
        found = index.locate(address)
        if found is not None:
            return found.lat, found.lon
        street = index.knows_street(address)
        if street is not None:
            # The street is there but not the number: a wrong house is worse than asking for the place.
            raise GeocoderUnavailable(f"the map knows {street} but not this house number; pick the place on the map")
        return None


class CappedGeocoder:
    """One request's geocoder: at most ``cap`` look-ups, so no request holds a database slot for long waiting on
    an online service (each look-up is bounded by ``geocoder_timeout_seconds`` too)."""

    def __init__(self, geocoder: Geocoder, cap: int) -> None:
        self._geocoder, self.cap, self.used = geocoder, cap, 0

    def locate(self, address: str) -> tuple[float, float] | None:
        if self.used >= self.cap:
            raise GeocoderUnavailable(f"at most {self.cap} addresses are looked up per request; split the import "
                                      "or give lat and lon")
        self.used += 1
        return self._geocoder.locate(address)


class PresolvedGeocoder:
    """Answers looked up before a request took its database slot (a CSV import's addresses), so a look-up made
    while holding the slot never waits on the network; an address not looked up (past the cap) is refused."""

    def __init__(self, answers: dict[str, tuple[float, float] | GeocoderUnavailable | None], cap: int) -> None:
        self._answers, self.cap = answers, cap

    def locate(self, address: str) -> tuple[float, float] | None:
        if address not in self._answers:
            raise GeocoderUnavailable(f"at most {self.cap} addresses are looked up per request; split the import "
                                      "or give lat and lon")
        answer = self._answers[address]
        if isinstance(answer, GeocoderUnavailable):
            raise answer
        return answer


def presolve(geocoder: Geocoder, addresses: Iterable[str], cap: int) -> PresolvedGeocoder:
    """Look up at most ``cap`` distinct addresses now (each bounded by the geocoder's own timeout)."""
    answers: dict[str, tuple[float, float] | GeocoderUnavailable | None] = {}
    for address in dict.fromkeys(addresses):
        if len(answers) >= cap:
            break
        try:
            answers[address] = geocoder.locate(address)
        except GeocoderUnavailable as exc:
            answers[address] = exc
    return PresolvedGeocoder(answers, cap)


def make_geocoder(settings: Settings) -> Geocoder:
    """The configured geocoder; an unknown name is a start-up error rather than a surprise at the first address."""
    if settings.geocoder.lower() in OFF:
        return NoGeocoder()
    if settings.geocoder.lower() == LOCAL:
        return LocalGeocoder(settings)
    return GeopyGeocoder(settings.geocoder, settings.geocoder_user_agent, settings.geocoder_timeout_seconds,
                         settings.geocoder_domain, settings.geocoder_scheme)


def resolve_position(
    geocoder: Geocoder, record: str, address: str, lat: float | None, lon: float | None
) -> tuple[float, float]:
    """The position of a record: its lat/lon when both are given, else its address geocoded.

    Raises ``InputError`` naming the field: one of lat/lon missing, no address, address not found, or the
    geocoder unavailable (then the message asks for lat and lon).
    """
    if lat is not None and lon is not None:
        return lat, lon
    if lat is not None or lon is not None:
        missing = "lon" if lon is None else "lat"
        raise InputError(record, missing, "give both lat and lon, or neither and an address")
    if not address:
        raise InputError(record, "lat", "a position is required: give lat and lon, or an address")
    try:
        found = geocoder.locate(address)
    except GeocoderUnavailable as exc:
        raise InputError(record, "address", f"cannot place the address ({exc}): give lat and lon instead") from None
    if found is None:
        raise InputError(record, "address", f"address {address!r} was not found: give lat and lon instead")
    return found
