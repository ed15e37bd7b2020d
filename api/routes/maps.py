"""Map data for the pages (roads, base layers) and the offline address search and description (``/geocode``).

``/map/roads`` and ``/map/base`` carry only OpenStreetMap data (no sign-in, cached by browsers and the service
worker). ``/geocode/*`` needs a signed-in user: it reads nothing personal, but keeps the map's address list from
being scraped anonymously; each answer is an in-memory lookup (microseconds), so no rate limit of its own.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api import places
from api.deps import CurrentUser, ServicesDep
from api.responses import errors
from api.web import roads
from matcher.roads.addresses import MatchKind

router = APIRouter(tags=["map"])


class RoadWay(BaseModel):
    id: int
    name: str
    #: OSM ``highway`` class ("residential", "service", ...); "" when the map did not say.
    highway: str
    #: For a road without a name: the named streets it joins ("between A and B", "off A"); else "".
    description: str
    lines: list[list[list[float]]]


class RoadMap(BaseModel):
    map: str
    bbox: list[float]
    attribution: str
    ways: list[RoadWay]


@router.get("/map/roads", response_model=RoadMap)
def road_map(services: ServicesDep, response: Response) -> object:
    """The drivable roads of the service's map for drawing, no sign-in needed (OpenStreetMap data, ODbL).

    ``ways[].id`` is the OSM way id (what an alert's ``closed_ways`` take); ``lines`` are ``[[lon, lat], ...]``
    pieces, each drawn once for both directions; ``bbox`` is ``[min lon, min lat, max lon, max lat]``.
    """
    response.headers["Cache-Control"] = "public, max-age=3600"
    return roads.road_map(services.settings)


@router.get("/map/base", response_class=Response,
            responses={200: {"description": "The base layers as JSON", "content": {"application/json": {}}}})
def base_map(services: ServicesDep, request: Request) -> Response:
    """What the maps draw under the roads, from the service's map file (OpenStreetMap data, ODbL).

    ``{"map", "attribution", "areas": {"water"|"green"|"wood"|"building": [polygon]}, "lines": {"waterway"|
    "coastline": [line]}, "streets": [{"name", "highway", "lines"}], "places": [{"name", "kind", "lon", "lat"}]}``;
    a polygon is a list of rings, a ring and a line lists of ``[lon, lat]``.
    """
    body = places.base_map_gzip(services.settings)
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(body), media_type="application/json", headers=headers)


class AddressMatch(BaseModel):
    label: str
    lat: float
    lon: float
    kind: MatchKind
    #: True when exactly what was typed is in the map (the house number, or the street when no number was typed).
    exact: bool


class PlaceDescription(BaseModel):
    #: "Tikankatu 11", "near Tikankatu 11", "near Kortetie", or the coordinates when no street is near.
    label: str
    street: str
    #: Metres from the position to what the label names; ``None`` when nothing is near.
    meters: float | None
    exact: bool


@router.get("/geocode/search", response_model=list[AddressMatch], responses=errors(401))
def search(services: ServicesDep, _user: CurrentUser,
           q: Annotated[str, Query(min_length=1, max_length=200, description="What is typed so far")],
           limit: Annotated[int, Query(ge=1, le=20)] = 8) -> object:
    """Addresses and streets of the service's map matching ``q``, best first; no network involved.

    A house number the map does not have is not invented: the street is offered instead (``exact`` false).
    """
    return places.address_index(services.settings).search(q, limit)


@router.get("/geocode/reverse", response_model=PlaceDescription, responses=errors(401))
def reverse(services: ServicesDep, _user: CurrentUser,
            lat: Annotated[float, Query(ge=-90, le=90)], lon: Annotated[float, Query(ge=-180, le=180)]) -> object:
    """A position in words: the address there, or the nearest street (and house number) it is near."""
    found = places.address_index(services.settings).describe(lat, lon)
    if found is None:
        return PlaceDescription(label=f"{lat:.5f}, {lon:.5f}", street="", meters=None, exact=False)
    return PlaceDescription(label=found.label, street=found.street, meters=round(found.meters, 1),
                            exact=found.exact)
