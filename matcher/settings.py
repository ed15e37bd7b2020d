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


def get_settings() -> Settings:
    """Build the settings from the environment; cheap, call it where needed."""
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "evac"
    cache = os.environ.get("EVAC_CACHE_DIR") or str(default_cache)
    return Settings(
        cache_dir=Path(cache),
        snap_max_meters=float(os.environ.get("EVAC_SNAP_MAX_METERS", "500")),
        time_limit_seconds=float(os.environ.get("EVAC_TIME_LIMIT_SECONDS", "8")),
    )
