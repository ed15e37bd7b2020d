"""Zones of a regional problem: who belongs where, which zones touch, and how cars and shelter room are shared.

A household, driver or shelter's zone is, in order: its own ``zone`` field (set by the registrar), the
polygon of a zones GeoJSON file that contains it, or a cluster found on the road network (a Voronoi
partition of the roads around seed households, refined a few times). Cars are then lent between
neighbouring zones so that each zone's cars match its work (estimated drive time to its shelters),
which evens out the zones' finishing times; shelter room is split among zones by where their households
would go, the slack in proportion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import shape

from matcher.errors import InputError

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Rounds of re-seeding the road-network clusters (each moves a seed to the household nearest its centroid).
CLUSTER_ROUNDS = 3
#: Households looked at around each household to find which zones touch.
NEIGHBOUR_PROBES = 8
#: Zones that share fewer household contacts than this are not neighbours (a single stray pair is noise).
MIN_CONTACTS = 2
#: A car is lent at most this many zones away (1: a neighbour; 2: a neighbour's neighbour).
LEND_HOPS = 2


@dataclass(frozen=True)
class ZonesFile:
    """The named polygons of a zones GeoJSON file, in file order."""

    names: tuple[str, ...]
    geometries: tuple[Any, ...]

    def locate(self, lat: Floats, lon: Floats) -> Ints:
        """Index of the zone containing each point; a point in none goes to the zone whose edge is nearest."""
        out = np.full(len(lat), -1, dtype=np.int64)
        for k, geometry in enumerate(self.geometries):
            inside = shapely.contains_xy(geometry, lon, lat) & (out < 0)
            out[inside] = k
        outside = np.flatnonzero(out < 0)
        if len(outside):
            points = shapely.points(lon[outside], lat[outside])
            distance = np.stack([shapely.distance(g, points) for g in self.geometries])
            out[outside] = np.argmin(distance, axis=0)
        return out


def read_zones_file(path: str | Path) -> ZonesFile:
    """Read a GeoJSON FeatureCollection of Polygon/MultiPolygon features, each named by ``name`` or ``zone``.

    Raises ``InputError`` naming the feature (``zones file feature #3 'Foz'``) and the field.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("zones file", "path", f"no such file: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError("zones file", "file", f"{path} is not a readable GeoJSON file: {exc}") from None
    return parse_zones(data)


def parse_zones(data: Any) -> ZonesFile:
    """The zones of a GeoJSON mapping (see :func:`read_zones_file`)."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
            data.get("features"), list):
        raise InputError("zones file", "type", "must be a GeoJSON FeatureCollection of named polygons")
    names: list[str] = []
    geometries: list[Any] = []
    for number, feature in enumerate(data["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        raw = (props or {}).get("name", (props or {}).get("zone"))
        label = f"zones file feature #{number}" + (f" {str(raw)!r}" if raw not in (None, "") else "")
        if raw in (None, ""):
            raise InputError(label, "properties.name", "is required: the zone's name")
        name = str(raw)
        if name in names:
            raise InputError(label, "properties.name", f"duplicate zone name {name!r}")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputError(label, "geometry", "must be a GeoJSON Polygon or MultiPolygon")
        try:
            polygon = shape(geometry)
        except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
            raise InputError(label, "geometry", f"is not a valid polygon: {exc}") from None
        if polygon.is_empty or not polygon.is_valid:
            reason = shapely.is_valid_reason(polygon) if not polygon.is_empty else "empty"
            raise InputError(label, "geometry", f"is not a valid polygon ({reason})")
        bounds = polygon.bounds
        if not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
            raise InputError(label, "geometry", "coordinates must be [lon, lat] in WGS84 degrees")
        shapely.prepare(polygon)
        names.append(name)
        geometries.append(polygon)
    if not names:
        raise InputError("zones file", "features", "holds no zone")
    return ZonesFile(tuple(names), tuple(geometries))


def project(lat: Floats, lon: Floats) -> Floats:
    """Meters on a local flat projection (good enough to compare distances within a region)."""
    lat0 = math.radians(float(np.mean(lat))) if len(lat) else 0.0
    return np.column_stack((np.asarray(lon) * 111_320.0 * math.cos(lat0), np.asarray(lat) * 110_540.0))


@dataclass(frozen=True)
class ZoneMap:
    """Zone names, each household's and car's home zone (index into ``names``) and which zones touch."""

    names: tuple[str, ...]
    household_zone: Ints
    driver_zone: Ints
    neighbours: tuple[frozenset[int], ...]

    def households_of(self, zone: int) -> Ints:
        return np.flatnonzero(self.household_zone == zone)


@dataclass(frozen=True)
class Places:
    """What the zoning needs of the records: positions, registered zones and road vertices."""

    household_lat: Floats
    household_lon: Floats
    household_zone: tuple[str, ...]
    household_labels: tuple[str, ...]
    driver_lat: Floats
    driver_lon: Floats
    driver_zone: tuple[str, ...]
    driver_labels: tuple[str, ...]
    household_vertex: Ints
    driver_vertex: Ints


def _clusters(csr: csr_matrix, places: Places, size: int) -> tuple[tuple[str, ...], Ints]:
    """Road-network clusters of about ``size`` households: Voronoi cells of seed households by driving time."""
    xy = project(places.household_lat, places.household_lon)
    n = len(xy)
    k = max(1, math.ceil(n / max(size, 1)))
    # Farthest-point seeds from the household nearest the centre: spread out and deterministic.
    seeds = [int(np.argmin(((xy - xy.mean(axis=0)) ** 2).sum(axis=1)))]
    gap = ((xy - xy[seeds[0]]) ** 2).sum(axis=1)
    while len(seeds) < k:
        seeds.append(int(np.argmax(gap)))
        gap = np.minimum(gap, ((xy - xy[seeds[-1]]) ** 2).sum(axis=1))
    label = np.zeros(n, dtype=np.int64)
    for _ in range(CLUSTER_ROUNDS):
        label = _voronoi(csr, places.household_vertex, np.array(seeds), xy)
        seeds = []
        for z in range(k):
            members = np.flatnonzero(label == z)
            if len(members) == 0:
                continue
            centre = xy[members].mean(axis=0)
            seeds.append(int(members[np.argmin(((xy[members] - centre) ** 2).sum(axis=1))]))
        k = len(seeds)
    label = _voronoi(csr, places.household_vertex, np.array(seeds), xy)
    names = tuple(f"Z{z + 1:02d}" for z in range(k))
    return names, label


def _voronoi(csr: csr_matrix, vertex: Ints, seeds: Ints, xy: Floats) -> Ints:
    """Zone of each household: the seed household that reaches it soonest (straight line where none can)."""
    seed_vertex = vertex[seeds]
    _, _, sources = dijkstra(csr, directed=True, indices=np.unique(seed_vertex), min_only=True,
                             return_predecessors=True)
    first = {int(v): z for z, v in reversed(list(enumerate(seed_vertex)))}
    origin = sources[vertex]
    label = np.array([first.get(int(v), -1) for v in origin], dtype=np.int64)
    lost = np.flatnonzero(label < 0)
    if len(lost):
        _, nearest = cKDTree(xy[seeds]).query(xy[lost])
        label[lost] = nearest
    return label


def _by_nearest(xy_from: Floats, zone_from: Ints, xy_to: Floats) -> Ints:
    """The zone of the nearest already-zoned point, for each point in ``xy_to``."""
    _, nearest = cKDTree(xy_from).query(xy_to)
    return zone_from[np.asarray(nearest, dtype=np.int64)]


def _named(values: Sequence[str], labels: Sequence[str], names: list[str], known: bool) -> Ints:
    """Indices of registered zone names; a new name is added unless ``known`` (a zones file) forbids it."""
    out = np.full(len(values), -1, dtype=np.int64)
    index = {n: i for i, n in enumerate(names)}
    for i, value in enumerate(values):
        if not value:
            continue
        if value not in index:
            if known:
                raise InputError(labels[i], "zone", f"unknown zone {value!r}: the zones file names "
                                 f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
            index[value] = len(names)
            names.append(value)
        out[i] = index[value]
    return out


def zone_map(places: Places, csr: csr_matrix, zone_households: int, zones_file: ZonesFile | None = None) -> ZoneMap:
    """Zone every household and car (see the module doc) and find the neighbouring zones."""
    # Registered names in sorted order, so a zone's number does not depend on who registered first.
    names = list(zones_file.names) if zones_file else sorted({z for z in places.household_zone if z})
    hz = _named(places.household_zone, places.household_labels, names, zones_file is not None)
    dz = _named(places.driver_zone, places.driver_labels, names, zones_file is not None)
    hxy = project(places.household_lat, places.household_lon)
    dxy = project(places.driver_lat, places.driver_lon) if len(places.driver_lat) else np.zeros((0, 2))
    if zones_file is not None:
        free = hz < 0
        hz[free] = zones_file.locate(places.household_lat[free], places.household_lon[free])
        free_d = dz < 0
        dz[free_d] = zones_file.locate(places.driver_lat[free_d], places.driver_lon[free_d])
    elif (hz < 0).all():
        cluster_names, hz = _clusters(csr, places, zone_households)
        names = list(cluster_names)
    elif (hz < 0).any():
        hz[hz < 0] = _by_nearest(hxy[hz >= 0], hz[hz >= 0], hxy[hz < 0])
    if len(dz) and (dz < 0).any() and len(hz):
        dz[dz < 0] = _by_nearest(hxy, hz, dxy[dz < 0])
    # Only zones with households remain; names keep their first-seen order.
    used = sorted(set(hz.tolist()))
    renumber = np.full(max(len(names), 1), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    hz = renumber[hz]
    if len(dz):
        stray = renumber[dz] < 0  # a car registered in a zone with no households: nearest zone with some
        dz = renumber[dz]
        if stray.any():
            dz[stray] = _by_nearest(hxy, hz, dxy[stray])
    kept = tuple(names[i] for i in used)
    return ZoneMap(kept, hz, dz, _neighbours(hxy, hz, len(kept)))


def _neighbours(xy: Floats, zone: Ints, count: int) -> tuple[frozenset[int], ...]:
    """Zones touch when enough of their households are among each other's nearest households."""
    if count <= 1:
        return tuple(frozenset() for _ in range(count))
    probes = min(NEIGHBOUR_PROBES + 1, len(xy))
    _, near = cKDTree(xy).query(xy, k=probes)
    near = np.asarray(near).reshape(len(xy), probes)
    contacts: dict[tuple[int, int], int] = {}
    for a, b in zip(np.repeat(zone, probes), zone[near].reshape(-1), strict=True):
        if a != b:
            key = (min(int(a), int(b)), max(int(a), int(b)))
            contacts[key] = contacts.get(key, 0) + 1
    out: list[set[int]] = [set() for _ in range(count)]
    for (za, zb), n in contacts.items():
        if n >= MIN_CONTACTS:
            out[za].add(zb)
            out[zb].add(za)
    # A zone with no contact (an island, a far village) still gets its two nearest zones by centre.
    centres = np.array([xy[zone == z].mean(axis=0) for z in range(count)])
    for z in range(count):
        if not out[z]:
            gap = ((centres - centres[z]) ** 2).sum(axis=1)
            gap[z] = np.inf
            for other in np.argsort(gap, kind="stable")[: min(2, count - 1)]:
                out[z].add(int(other))
                out[int(other)].add(z)
    return tuple(frozenset(s) for s in out)


@dataclass(frozen=True)
class Work:
    """Per household: zone, estimated minutes of car work, whether a wheelchair car is needed, and the minutes of
    wheelchair-space work (what the scarce wheelchair cars must do for it; 0 for a household without one)."""

    zone: Ints
    minutes: Floats
    wheelchair: npt.NDArray[np.bool_]
    wheelchair_minutes: Floats


def _targets(total: int, weight: Floats) -> Ints:
    """``total`` split in proportion to ``weight`` (largest remainder; ties to the lower index)."""
    if total <= 0 or weight.sum() <= 0:
        return np.zeros(len(weight), dtype=np.int64)
    share = weight / weight.sum() * total
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


def _fewest_per_car(total: int, weight: Floats) -> Ints:
    """``total`` cars split so that the most work per car over the zones is as small as it can be.

    Each car in turn goes to the zone with the most work per car it has (none yet: first), which is Adams'
    apportionment: it minimises the largest ``weight / cars``. A zone's clearance is about its work over its
    cars, so that largest ratio, not the rounding of proportional shares, is what sets the region's; a zone
    with work gets a car before any zone gets a second. Ties go to the lower index."""
    out = np.zeros(len(weight), dtype=np.int64)
    if total <= 0 or weight.sum() <= 0:
        return out
    for _ in range(total):
        per_car = np.where(weight > 0, weight / np.maximum(out, 1e-12), -1.0)
        out[int(np.argmax(per_car))] += 1
    return out


def allot_cars(zmap: ZoneMap, work: Work, driver_xy: Floats, household_xy: Floats,
               wheelchair_car: npt.NDArray[np.bool_]) -> Ints:
    """The zone each car serves: its home zone, or a neighbour short of cars for its work.

    Wheelchair-capable cars are shared by wheelchair-space work, the ordinary cars by all work, each pool so
    that the most work per car is as small as it can be (``_fewest_per_car``). A car is lent only to a zone near
    its own (a neighbour first, else a neighbour's neighbour), the nearest of the donor's cars to that zone
    first; a zone with none to spare near it keeps what it has (perhaps none).
    """
    n_z = len(zmap.names)
    serving = zmap.driver_zone.copy()
    centres = np.array([household_xy[zmap.household_zone == z].mean(axis=0) for z in range(n_z)])
    for pool, minutes in ((wheelchair_car, work.wheelchair_minutes), (~wheelchair_car, work.minutes)):
        cars = np.flatnonzero(pool)
        weight = np.bincount(work.zone, weights=minutes, minlength=n_z).astype(np.float64)
        if weight.sum() <= 0:
            weight = np.bincount(work.zone, weights=work.minutes, minlength=n_z).astype(np.float64)
        _lend(serving, cars, _fewest_per_car(len(cars), weight), zmap, driver_xy, centres)
        if pool is wheelchair_car:
            _even_out(serving, cars, weight, zmap, driver_xy, centres)
    return serving


def _even_out(serving: Ints, cars: Ints, weight: Floats, zmap: ZoneMap, xy: Floats, centres: Floats) -> None:
    """Lend cars of a pool, one at a time, to the zone with the most work per car from the zone near it (within
    ``LEND_HOPS``) that would still have the least work per car, while that lowers the largest.

    ``_lend`` only takes from zones above their share; a zone whose neighbours are all at their share then stays
    short (at 10,000 households on Porto a zone kept 5 wheelchair cars for 28 wheelchair households, a work per
    car a third above the others'). For the wheelchair pool only: its few cars set the zones' clearance."""
    n_z = len(weight)
    for _ in range(len(cars)):
        have = np.bincount(serving[cars], minlength=n_z).astype(np.float64)
        per_car = np.where(weight > 0, weight / np.maximum(have, 1e-12), 0.0)
        z = int(np.argmax(per_car))
        after = np.where(have >= 1, weight / np.maximum(have - 1, 1e-12), np.inf)
        after[weight <= 0] = np.where(have[weight <= 0] >= 1, 0.0, np.inf)
        donors = [d for d in sorted(_hops(zmap, z)) if after[d] < per_car[z]]
        if not donors:
            return
        donor = min(donors, key=lambda d: (after[d], d))
        own = cars[serving[cars] == donor]
        serving[own[np.argmin(((xy[own] - centres[z]) ** 2).sum(axis=1))]] = z


def _hops(zmap: ZoneMap, zone: int) -> dict[int, int]:
    """Zones within ``LEND_HOPS`` of ``zone`` (not itself) and how many hops away."""
    seen = {zone: 0}
    frontier = [zone]
    for hop in range(1, LEND_HOPS + 1):
        frontier = [n for z in frontier for n in sorted(zmap.neighbours[z]) if n not in seen]
        for n in frontier:
            seen.setdefault(n, hop)
    del seen[zone]
    return seen


def _lend(serving: Ints, cars: Ints, target: Ints, zmap: ZoneMap, xy: Floats, centres: Floats) -> None:
    """Move cars of one pool from zones above their target to neighbouring zones below it, one at a time."""
    n_z = len(target)
    for _ in range(len(cars) + 1):
        have = np.bincount(serving[cars], minlength=n_z)
        short = have - target
        # Neediest zone first (most cars short, then the lower index), fed by its richest neighbour.
        moved = False
        for z in np.argsort(short, kind="stable"):
            if short[z] >= 0:
                break
            hops = _hops(zmap, int(z))
            donors = [d for d in sorted(hops) if short[d] > 0]
            if not donors:
                continue
            donor = max(donors, key=lambda d: (-hops[d], short[d], -d))
            own = cars[serving[cars] == donor]
            pick = own[np.argmin(((xy[own] - centres[z]) ** 2).sum(axis=1))]
            serving[pick] = z
            moved = True
            break
        if not moved:
            return


def split_capacity(zone: Ints, people: Ints, wheelchair: npt.NDArray[np.bool_], to_shelter: Floats,
                   capacity: Ints, accessible: npt.NDArray[np.bool_], priority: Ints, n_zones: int,
                   takes: npt.NDArray[np.bool_] | None = None) -> Ints:
    """Room per (zone, shelter): each household (most urgent, then least choice, first) counts at its nearest
    shelter with room it may use; the spare room is split by each zone's share of the shelter's use.

    ``takes[h, s]``: shelter s fits household h's needs (pets, medical support), as the solver's rule."""
    n_s = len(capacity)
    room = capacity.astype(np.int64).copy()
    use = np.zeros((n_zones, n_s), dtype=np.int64)
    allowed = np.isfinite(to_shelter) & np.where(wheelchair[:, None], accessible[None, :], True)
    if takes is not None:
        allowed &= takes
    times = np.where(allowed, to_shelter, np.inf)
    ordered = np.sort(times, axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf where a household reaches one shelter or none
        regret = ordered[:, 1] - ordered[:, 0] if n_s > 1 else np.zeros(len(zone))
    regret = np.where(np.isfinite(regret), regret, 1e9)
    for h in np.lexsort((-regret, priority)):
        for s in np.argsort(times[h], kind="stable"):
            if not np.isfinite(times[h, s]):
                break
            if room[s] >= people[h]:
                room[s] -= people[h]
                use[zone[h], s] += people[h]
                break
    out = use.copy()
    for s in range(n_s):
        weight = use[:, s].astype(np.float64)
        if weight.sum() == 0:
            weight = np.bincount(zone, weights=people, minlength=n_zones).astype(np.float64)
        out[:, s] += _targets(int(room[s]), weight)
    return out
