"""Read an OpenStreetMap file (.osm.pbf or .osm XML) into a drivable RoadGraph, cached by the file's content."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import osmium

from matcher.errors import MapError
from matcher.roads.graph import RoadGraph, build_graph
from matcher.settings import get_settings

if TYPE_CHECKING:
    from matcher.roads.features import MapFeatures

log = logging.getLogger(__name__)

#: Bump when parsing or graph building changes, so old cache files are not reused.
LOADER_VERSION = "roads-2"  # 2: road class, name and ref per edge

#: Car-accessible highway classes and their speed in km/h when a way has no usable maxspeed.
DEFAULT_KMH: dict[str, float] = {
    "motorway": 110.0,
    "motorway_link": 60.0,
    "trunk": 90.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 50.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 40.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 30.0,
}

#: Access values that shut out ordinary cars (the most specific of motorcar, motor_vehicle, vehicle, access counts).
NO_CAR_ACCESS = frozenset({"no", "private", "agricultural", "forestry"})
EXCLUDED_SERVICE = frozenset({"emergency_access", "private"})

#: Implicit limits written as ``<country>:<kind>``; ``(country, kind)`` overrides the generic kind.
ZONE_KMH: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "walk": 7.0,
    "bicycle_road": 30.0,
    "cyclestreet": 30.0,
    "school": 30.0,
    "nsl_single": 96.6,
    "nsl_dual": 112.7,
    "nsl_restricted": 48.3,
}
COUNTRY_ZONE_KMH: dict[tuple[str, str], float] = {
    ("de", "rural"): 100.0,
    ("de", "motorway"): 130.0,
    ("at", "rural"): 100.0,
    ("at", "motorway"): 130.0,
    ("fr", "rural"): 80.0,
    ("fr", "motorway"): 130.0,
    ("fi", "rural"): 80.0,
    ("fi", "motorway"): 120.0,
    ("it", "motorway"): 130.0,
    ("pt", "motorway"): 120.0,
    ("ru", "urban"): 60.0,
    ("us", "urban"): 40.0,
}
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(mph|knots|km/h|kmh|kph)?$")
_ZONE = re.compile(r"^([a-z]{2})(?:-[a-z0-9]+)?:(.+)$")
_UNIT_KMH = {"mph": 1.609344, "knots": 1.852}
MIN_KMH = 5.0


def parse_maxspeed(value: str | None) -> float | None:
    """A ``maxspeed`` tag in km/h ("50", "30 mph", "walk", "FI:urban", "DE:zone30"); ``None`` if not usable.

    Several values ("50;30") give the lowest; "none", "signals" and unknown text give ``None``.
    """
    if not value:
        return None
    speeds = [s for s in (_one_maxspeed(part) for part in value.split(";")) if s is not None]
    return max(min(speeds), MIN_KMH) if speeds else None


def _one_maxspeed(text: str) -> float | None:
    text = text.strip().lower()
    number = _NUMBER.match(text)
    if number:
        speed = float(number.group(1)) * _UNIT_KMH.get(number.group(2) or "", 1.0)
        return speed if speed > 0 else None
    if text in ZONE_KMH:
        return ZONE_KMH[text]
    zone = _ZONE.match(text)
    if zone:
        country, kind = zone.group(1), zone.group(2)
        digits = re.fullmatch(r"zone:?(\d+)", kind)  # DE:zone30, DE:zone:30
        if digits:
            return float(digits.group(1))
        return COUNTRY_ZONE_KMH.get((country, kind), ZONE_KMH.get(kind))
    return None


def car_directions(tags: Mapping[str, str] | osmium.osm.TagList) -> tuple[float, float] | None:
    """Forward and backward km/h of a way for cars (0 = that direction is not allowed); ``None`` if not a car road."""
    highway = tags.get("highway")
    if highway not in DEFAULT_KMH or tags.get("area") == "yes":
        return None
    access = next((tags[k] for k in ("motorcar", "motor_vehicle", "vehicle", "access") if k in tags), None)
    if access in NO_CAR_ACCESS or tags.get("service") in EXCLUDED_SERVICE:
        return None
    base = parse_maxspeed(tags.get("maxspeed")) or DEFAULT_KMH[highway]
    forward = parse_maxspeed(tags.get("maxspeed:forward")) or base
    backward = parse_maxspeed(tags.get("maxspeed:backward")) or base
    oneway = tags.get("oneway")
    if oneway in ("yes", "1", "true"):
        return forward, 0.0
    if oneway in ("-1", "reverse"):
        return 0.0, backward
    # Only an explicit "no" (or a time-dependent value, treated like osmnx as two-way) overrides the implication.
    explicit_two_way = oneway in ("no", "0", "false", "reversible", "alternating")
    if not explicit_two_way and (highway == "motorway" or tags.get("junction") in ("roundabout", "circular")):
        return forward, 0.0
    return forward, backward


class _RoadWays:
    """Collects the car roads of a map file, way by way, for ``build_graph``."""

    def __init__(self) -> None:
        self.way_ids: list[int] = []
        self.lengths: list[int] = []
        self.refs: list[int] = []
        self.xs: list[int] = []
        self.ys: list[int] = []
        self.forward: list[float] = []
        self.backward: list[float] = []
        self.highway: list[str] = []
        self.names: list[str] = []
        self.road_refs: list[str] = []

    def way(self, way: osmium.osm.Way) -> None:
        speeds = car_directions(way.tags)
        if speeds is None:
            return
        run: list[tuple[int, int, int]] = []
        # A way whose nodes are missing from an extract is cut there into the runs that remain.
        for node in [*way.nodes, None]:
            loc = None if node is None else node.location
            if loc is not None and loc.valid():
                if not run or run[-1][0] != node.ref:  # drop repeated consecutive nodes
                    run.append((node.ref, loc.x, loc.y))
                continue
            if len(run) >= 2:
                self.way_ids.append(way.id)
                self.lengths.append(len(run))
                self.forward.append(speeds[0])
                self.backward.append(speeds[1])
                self.highway.append(str(way.tags.get("highway", "")))
                self.names.append(str(way.tags.get("name", "")))
                self.road_refs.append(str(way.tags.get("ref", "")))
                for ref, x, y in run:
                    self.refs.append(ref)
                    self.xs.append(x)
                    self.ys.append(y)
            run = []

    def graph(self, path: str | os.PathLike[str]) -> RoadGraph:
        if not self.way_ids:
            raise MapError("scenario", "map", f"road map {path} has no roads that cars may use")
        return build_graph(
            way_ids=np.array(self.way_ids, dtype=np.int64),
            way_offsets=np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64),
            node_ids=np.array(self.refs, dtype=np.int64),
            lon=np.array(self.xs, dtype=np.float64) / 1e7,
            lat=np.array(self.ys, dtype=np.float64) / 1e7,
            forward_kmh=np.array(self.forward, dtype=np.float64),
            backward_kmh=np.array(self.backward, dtype=np.float64),
            highway=self.highway,
            name=self.names,
            ref=self.road_refs,
        )


def parse_road_graph(path: str | os.PathLike[str]) -> RoadGraph:
    """Parse a map file without the cache. Raises ``MapError`` when it cannot be read or has no car roads."""
    roads = _RoadWays()
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if isinstance(way, osmium.osm.Way):  # the filters pass ways only; this tells the type checker
                roads.way(way)
    except RuntimeError as exc:
        raise MapError("scenario", "map", f"cannot read road map {path}: {exc}") from None
    return roads.graph(path)


def parse_map(path: str | os.PathLike[str]) -> tuple[RoadGraph, MapFeatures]:
    """The road graph and the map features (``matcher.roads.features``) of a map file, in one pass over it.

    The service needs both; ``evac plan`` needs only the graph and reads it with the faster
    ``parse_road_graph`` (its filters skip every other object in the file). Raises ``MapError`` like it.
    """
    from matcher.roads.features import FeatureReader

    roads, features = _RoadWays(), FeatureReader()
    try:
        # Untagged objects (most nodes) serve only as way locations, which osmium keeps before the filter.
        processor = osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(
            osmium.filter.EmptyTagFilter())
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                features.node(obj)
            elif isinstance(obj, osmium.osm.Way):
                features.way(obj)
                if "highway" in obj.tags:
                    roads.way(obj)
            elif isinstance(obj, osmium.osm.Area):
                features.area(obj)
    except RuntimeError as exc:
        raise MapError("scenario", "map", f"cannot read map {path}: {exc}") from None
    return roads.graph(path), features.result()


def load_road_graph(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> RoadGraph:
    """The drivable road graph of a map file, from the cache when this exact content was parsed before.

    ``cache_dir`` defaults to ``Settings.cache_dir``. Raises ``MapError`` (naming the path) when the file is
    missing, unreadable, not an OSM file, or has no car roads. A broken or unwritable cache is skipped.
    """
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise MapError("scenario", "map", f"cannot read road map {path}: {exc.strerror or exc}") from None
    cache_file = graph_cache_file(content, cache_dir)
    if cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as stored:
                return RoadGraph.from_arrays(dict(stored))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable road graph cache %s: %s", cache_file, exc)
    graph = parse_road_graph(path)
    _write_cache(cache_file, graph)
    return graph


def graph_cache_file(content: bytes, cache_dir: str | os.PathLike[str] | None) -> Path:
    """Where the road graph of a map file with this content is cached."""
    digest = hashlib.sha256(content)
    digest.update(LOADER_VERSION.encode())
    cache = Path(cache_dir if cache_dir is not None else get_settings().cache_dir)
    return cache / f"roadgraph-{digest.hexdigest()[:40]}.npz"


def write_graph_cache(cache_file: Path, graph: RoadGraph) -> None:
    """Keep a parsed graph in the cache (a graph read together with the map features goes there too)."""
    _write_cache(cache_file, graph)


def _write_cache(cache_file: Path, graph: RoadGraph) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=cache_file.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **graph.arrays())  # type: ignore[arg-type]
            os.replace(tmp, cache_file)  # readers see the whole file or none of it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write road graph cache %s: %s", cache_file, exc)
