"""One settings object for the matcher, read from the environment (``EVAC_*``) by a factory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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


def get_settings() -> Settings:
    """Build the settings from the environment; cheap, call it where needed."""
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "evac"
    cache = os.environ.get("EVAC_CACHE_DIR") or str(default_cache)
    return Settings(
        cache_dir=Path(cache),
        snap_max_meters=float(os.environ.get("EVAC_SNAP_MAX_METERS", "500")),
        time_limit_seconds=float(os.environ.get("EVAC_TIME_LIMIT_SECONDS", "8")),
        region_min_households=int(os.environ.get("EVAC_REGION_MIN_HOUSEHOLDS", "2000")),
        zone_households=int(os.environ.get("EVAC_ZONE_HOUSEHOLDS", "500")),
        dask_scheduler=os.environ.get("EVAC_DASK_SCHEDULER") or None,
        dask_workers=int(os.environ.get("EVAC_DASK_WORKERS", str(min(2, os.cpu_count() or 1)))),
    )
