"""One settings object for the matcher, read from the environment (``EVAC_*``) by a factory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from matcher.errors import InputError
from matcher.problem import DEFAULT_PICKUP_TARGETS, Rules


@dataclass(frozen=True)
class Settings:
    """Knobs that differ between machines, not between problems."""

    #: Where parsed road graphs are cached, keyed by the map file's content.
    cache_dir: Path
    #: A place farther than this from the nearest usable road node is an input error.
    snap_max_meters: float = 500.0
    #: Default solver time limit in seconds.
    time_limit_seconds: float = 8.0
    #: Above this many households a plan is made by zones (``matcher.region``) unless zones are given anyway.
    region_min_households: int = 2000
    #: About this many households per zone when zones are found by clustering on the road network.
    zone_households: int = 500
    #: Address of an existing Dask scheduler for regional solves (``tcp://host:8786``); none: a local cluster.
    dask_scheduler: str | None = None
    #: Workers of the local Dask cluster (0: solve zones in this process, one by one).
    dask_workers: int = 2
    #: The needs and urgency rules' defaults (docs/needs.md); a scenario's ``rules`` override them.
    seats_per_pet: int = 1
    medical_max_ride_minutes: float = 45.0
    pickup_targets: tuple[tuple[int, float], ...] = DEFAULT_PICKUP_TARGETS
    walk_meters: float = 250.0
    wheelchair_walk_meters: float = 100.0
    #: Region of phone numbers written without a country code (ISO 3166 alpha-2), as the service's.
    phone_region: str = "FI"

    def rules(self) -> Rules:
        """The default rules of a problem."""
        return Rules(self.seats_per_pet, self.medical_max_ride_minutes, self.pickup_targets, self.walk_meters,
                     self.wheelchair_walk_meters)


def parse_pickup_targets(text: str) -> tuple[tuple[int, float], ...]:
    """``"1:30,2:60"`` -> ``((1, 30.0), (2, 60.0))``; raises ``InputError`` naming the setting."""
    out: list[tuple[int, float]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        priority, _, minutes = item.partition(":")
        try:
            out.append((int(priority), float(minutes)))
        except ValueError:
            raise InputError("settings", "EVAC_PICKUP_TARGETS", f"{item!r} is not priority:minutes") from None
    return tuple(out)


def get_settings() -> Settings:
    """Build the settings from the environment; cheap, call it where needed."""
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "evac"
    cache = os.environ.get("EVAC_CACHE_DIR") or str(default_cache)
    return Settings(
        cache_dir=Path(cache),
        snap_max_meters=float(os.environ.get("EVAC_SNAP_MAX_METERS", "500")),
        time_limit_seconds=float(os.environ.get("EVAC_TIME_LIMIT_SECONDS", "8")),
        seats_per_pet=int(os.environ.get("EVAC_SEATS_PER_PET", "1")),
        medical_max_ride_minutes=float(os.environ.get("EVAC_MEDICAL_MAX_RIDE_MINUTES", "45")),
        pickup_targets=parse_pickup_targets(os.environ.get("EVAC_PICKUP_TARGETS", "1:30,2:60")),
        walk_meters=float(os.environ.get("EVAC_WALK_METERS", "250")),
        wheelchair_walk_meters=float(os.environ.get("EVAC_WHEELCHAIR_WALK_METERS", "100")),
        phone_region=os.environ.get("EVAC_PHONE_REGION", "FI"),
        region_min_households=int(os.environ.get("EVAC_REGION_MIN_HOUSEHOLDS", "2000")),
        zone_households=int(os.environ.get("EVAC_ZONE_HOUSEHOLDS", "500")),
        dask_scheduler=os.environ.get("EVAC_DASK_SCHEDULER") or None,
        dask_workers=int(os.environ.get("EVAC_DASK_WORKERS", str(min(2, os.cpu_count() or 1)))),
    )
