"""What a map shows besides drivable roads (street names, addresses, water, green, buildings, places), cached.

Read in the road loader's one pass over the map file (``matcher.roads.load.parse_map``), which caches the road
graph too; kept in the cache folder keyed by the file's content like the road graph, so the service's pages
draw a real base map and its address index works with no network. Coordinates are ``(lon, lat)`` like GeoJSON.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import osmium

from matcher.errors import MapError
from matcher.settings import get_settings

log = logging.getLogger(__name__)

#: Bump when parsing changes, so old cache files are not reused.
FEATURES_VERSION = "features-1"

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]

#: Area tags drawn as water, green or woods (a tag value set per key).
WATER = {"natural": {"water", "bay", "wetland"}, "waterway": {"riverbank", "dock"},
         "landuse": {"reservoir", "basin"}}
GREEN = {"leisure": {"park", "garden", "pitch", "playground", "dog_park", "recreation_ground", "golf_course"},
         "landuse": {"grass", "meadow", "cemetery", "recreation_ground", "village_green", "allotments"},
         "natural": {"grassland", "heath", "scrub"}}
WOOD = {"natural": {"wood"}, "landuse": {"forest"}}
#: Linear water drawn as lines.
WATERWAYS = frozenset({"river", "stream", "canal", "drain", "ditch"})
PLACES = frozenset({"city", "town", "suburb", "quarter", "neighbourhood", "village", "hamlet", "island", "islet"})


@dataclass(frozen=True)
class Address:
    """A house number on a street (``addr:street`` + ``addr:housenumber``) at a point: a node or a building's middle."""

    street: str
    housenumber: str
    lon: float
    lat: float

    @property
    def label(self) -> str:
        return f"{self.street} {self.housenumber}"


@dataclass(frozen=True, eq=False)
class Street:
    """One OSM way with a ``name`` (else its ``ref``) and a ``highway`` tag (any class: people live on footways too)."""

    way_id: int
    name: str
    highway: str
    coords: list[Point]


@dataclass(frozen=True)
class Place:
    name: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True, eq=False)  # hashed by identity: one per map file and process (lru caches key on it)
class MapFeatures:
    """Everything drawn under the roads, plus the addresses and street names the address index is built from."""

    addresses: list[Address] = field(default_factory=list)
    streets: list[Street] = field(default_factory=list)
    #: ``water``, ``green``, ``wood``, ``building`` -> polygons (outer ring first, then holes).
    areas: dict[str, list[Polygon]] = field(default_factory=dict)
    #: ``waterway`` and ``coastline`` -> lines.
    lines: dict[str, list[list[Point]]] = field(default_factory=dict)
    places: list[Place] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MapFeatures:
        def pts(seq: object) -> list[Point]:
            return [(float(p[0]), float(p[1])) for p in seq]  # type: ignore[attr-defined,index]

        raw_areas: dict[str, list[list[object]]] = data["areas"]  # type: ignore[assignment]
        raw_lines: dict[str, list[object]] = data["lines"]  # type: ignore[assignment]
        return cls(
            addresses=[Address(**a) for a in data["addresses"]],  # type: ignore[attr-defined]
            streets=[Street(s["way_id"], s["name"], s["highway"], pts(s["coords"]))  # type: ignore[index]
                     for s in data["streets"]],  # type: ignore[attr-defined]
            areas={k: [[pts(r) for r in poly] for poly in v] for k, v in raw_areas.items()},  # type: ignore[attr-defined]
            lines={k: [pts(line) for line in v] for k, v in raw_lines.items()},
            places=[Place(**p) for p in data["places"]],  # type: ignore[attr-defined]
        )


def _area_kind(tags: osmium.osm.TagList) -> str | None:
    if "building" in tags and tags.get("building") != "no":
        return "building"
    for kind, table in (("water", WATER), ("wood", WOOD), ("green", GREEN)):
        if any(tags.get(key) in values for key, values in table.items()):
            return kind
    return None


def _ring(ring: object, digits: int) -> Ring:
    return [(round(n.lon, digits), round(n.lat, digits)) for n in ring if n.location.valid()]  # type: ignore[attr-defined]


def _centre(ring: Ring) -> Point:
    """The mean of a ring's corners: close enough to a building's middle for an address point."""
    corners = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    return (round(sum(p[0] for p in corners) / len(corners), 6), round(sum(p[1] for p in corners) / len(corners), 6))


class FeatureReader:
    """Collects features from a pass of ``FileProcessor`` (nodes, ways, and areas assembled by osmium); the road
    loader's ``parse_map`` feeds it in the same pass that reads the roads."""

    def __init__(self) -> None:
        self.out = MapFeatures(areas={"water": [], "green": [], "wood": [], "building": []},
                               lines={"waterway": [], "coastline": []})

    def result(self) -> MapFeatures:
        self.out.addresses.sort(key=lambda a: (a.street, a.housenumber))
        return self.out

    def node(self, node: osmium.osm.Node) -> None:
        tags = node.tags
        if not node.location.valid():
            return
        lon, lat = round(node.location.lon, 6), round(node.location.lat, 6)
        if "addr:housenumber" in tags and "addr:street" in tags:
            self.out.addresses.append(Address(tags["addr:street"], tags["addr:housenumber"], lon, lat))
        if tags.get("place") in PLACES and tags.get("name"):
            self.out.places.append(Place(tags["name"], tags["place"], lon, lat))

    def way(self, way: osmium.osm.Way) -> None:
        tags = way.tags
        coords = [(round(n.lon, 6), round(n.lat, 6)) for n in way.nodes if n.location.valid()]
        if len(coords) < 2:
            return
        name = tags.get("name") or tags.get("ref")  # a main road may carry only its number ("E18")
        if "highway" in tags and name and tags.get("area") != "yes":
            self.out.streets.append(Street(way.id, name, tags["highway"], coords))
        if tags.get("waterway") in WATERWAYS:
            self.out.lines["waterway"].append(coords)
        if tags.get("natural") == "coastline":
            self.out.lines["coastline"].append(coords)

    def area(self, area: osmium.osm.Area) -> None:
        tags = area.tags
        kind = _area_kind(tags)
        if kind is None and not ("addr:housenumber" in tags and "addr:street" in tags):
            return
        # Buildings to ~1 m, the rest to ~10 cm: buildings are most of the bytes and need no more.
        digits = 5 if kind == "building" else 6
        polygons: list[Polygon] = []
        for outer in area.outer_rings():
            rings = [_ring(outer, digits)] + [_ring(inner, digits) for inner in area.inner_rings(outer)]
            if len(rings[0]) >= 4:
                polygons.append([r for r in rings if len(r) >= 4])
        if not polygons:
            return
        if kind is not None:
            self.out.areas[kind].extend(polygons)
        if "addr:housenumber" in tags and "addr:street" in tags:
            lon, lat = _centre(polygons[0][0])
            self.out.addresses.append(Address(tags["addr:street"], tags["addr:housenumber"], lon, lat))


def parse_features(path: str | os.PathLike[str]) -> MapFeatures:
    """Parse a map file without the cache (with its roads, in the loader's one pass). Raises ``MapError``."""
    from matcher.roads.load import parse_map

    return parse_map(path)[1]


def load_features(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> MapFeatures:
    """The features of a map file, from the cache when this exact content was parsed before.

    Raises ``MapError`` (naming the path) when the file is missing or unreadable. A broken cache is skipped.
    """
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise MapError("scenario", "map", f"cannot read map {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(content)
    digest.update(FEATURES_VERSION.encode())
    cache = Path(cache_dir if cache_dir is not None else get_settings().cache_dir)
    cache_file = cache / f"mapfeatures-{digest.hexdigest()[:40]}.json.gz"
    if cache_file.is_file():
        try:
            with gzip.open(cache_file, "rt", encoding="utf-8") as stored:
                return MapFeatures.from_dict(json.load(stored))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable map features cache %s: %s", cache_file, exc)
    from matcher.roads.load import graph_cache_file, parse_map, write_graph_cache

    # One pass reads the roads too: the road graph's cache gets them, so the map file is not read again for them.
    graph, features = parse_map(path)
    graph_file = graph_cache_file(content, cache_dir)
    if not graph_file.is_file():
        write_graph_cache(graph_file, graph)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=cache_file.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as out:
                json.dump(features.to_dict(), out, separators=(",", ":"))
            os.replace(tmp, cache_file)  # readers see the whole file or none of it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write map features cache %s: %s", cache_file, exc)
    return features
