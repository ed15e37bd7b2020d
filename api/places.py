"""The map's base layers and address index for this process (loaded once per map file, like the road graph).

``base_map`` is what the pages draw under the roads (water, green, woods, buildings, street labels, place names);
``address_index`` answers address searches and describes positions in words for manifests, lists and messages.
Both come from ``matcher.roads.features``, which reads the map file once and caches what it read.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

from api.config import Settings
from matcher.roads.addresses import AddressIndex
from matcher.roads.features import MapFeatures, load_features

ATTRIBUTION = "Map data © OpenStreetMap contributors, ODbL 1.0 (openstreetmap.org/copyright)"


@functools.lru_cache(maxsize=4)
def _features(map_path: str, cache_dir: str) -> MapFeatures:
    return load_features(map_path, cache_dir)


def features(settings: Settings) -> MapFeatures:
    return _features(str(settings.map_path()), str(settings.matcher().cache_dir))


@functools.lru_cache(maxsize=4)
def _index(map_path: str, cache_dir: str) -> AddressIndex:
    return AddressIndex(_features(map_path, cache_dir))


def address_index(settings: Settings) -> AddressIndex:
    """The process's address index of ``settings.map``."""
    return _index(str(settings.map_path()), str(settings.matcher().cache_dir))


def describe(settings: Settings, lat: float, lon: float) -> str:
    """A position in words for people: "Tikankatu 11", "near Kortetie", or its coordinates when nothing is near."""
    found = address_index(settings).describe(lat, lon)
    return found.label if found is not None else f"{lat:.5f}, {lon:.5f}"


def _street_labels(feats: MapFeatures) -> list[dict[str, object]]:
    """One entry per street name with all its pieces: the pages put each name along its longest stretch."""
    by_name: dict[str, list[list[tuple[float, float]]]] = {}
    kinds: dict[str, str] = {}
    for street in feats.streets:
        by_name.setdefault(street.name, []).append(street.coords)
        kinds.setdefault(street.name, street.highway)
    return [{"name": name, "highway": kinds[name], "lines": lines} for name, lines in sorted(by_name.items())]


@functools.lru_cache(maxsize=4)
def _base_map_gzip(map_path: str, cache_dir: str) -> bytes:
    feats = _features(map_path, cache_dir)
    body = {
        "map": Path(map_path).name,
        "attribution": ATTRIBUTION,
        "areas": feats.areas,
        "lines": feats.lines,
        "streets": _street_labels(feats),
        "places": [{"name": p.name, "kind": p.kind, "lon": p.lon, "lat": p.lat} for p in feats.places],
    }
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=6, mtime=0)


def base_map_gzip(settings: Settings) -> bytes:
    """The base layers as gzip-compressed JSON (built once per process; most of it is buildings)."""
    return _base_map_gzip(str(settings.map_path()), str(settings.matcher().cache_dir))
