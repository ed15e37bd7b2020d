"""The service's one settings object (``EVAC_*`` environment variables), built by ``get_settings()``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.settings import Settings as MatcherSettings
from matcher.settings import get_settings as matcher_settings

#: HS256 keys shorter than this are refused at start (RFC 7518 3.2: a key at least as long as the hash output).
MIN_SECRET_BYTES = 32
#: The map bundled with the project (Kotka harbour district), used when ``EVAC_MAP`` is not set.
BUNDLED_MAP = Path(__file__).resolve().parent.parent / "data" / "kotka.osm.pbf"


class Settings(BaseSettings):
    """Knobs that differ between deployments. Cheap to build: nothing is opened or created here."""

    model_config = SettingsConfigDict(env_prefix="EVAC_", extra="ignore")

    #: SQLAlchemy URL; ``postgresql+psycopg://user@host/db`` for the scale-out path.
    database_url: str = "sqlite:///./evac.db"
    #: The road map every position is checked against and every plan is driven on.
    map: Path = BUNDLED_MAP
    #: JWT signing key. Unset: generated once and kept in ``<db file>.secret`` (SQLite only; required otherwise,
    #: because every server process sharing a PostgreSQL database must sign with the same key).
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=12 * 60, ge=1)
    #: A geopy geocoder name (``nominatim``, ...) or ``none`` to refuse addresses without lat/lon.
    geocoder: str = "nominatim"
    geocoder_user_agent: str = "evac-rideshare"
    #: A self-hosted geocoder (``nominatim.example.org`` or ``127.0.0.1:8080``) and its scheme; unset: the
    #: service's public address.
    geocoder_domain: str | None = None
    geocoder_scheme: Literal["https", "http"] = "https"
    #: Short: a request waits for the geocoder while holding a database slot (``geocode_max_per_request`` caps it).
    geocoder_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    #: ``embedded``: each server process also runs plan jobs on a background thread.
    #: ``external``: servers only queue jobs; ``evac worker`` processes run them.
    worker_mode: Literal["embedded", "external"] = "embedded"
    #: Solver time limit per plan job (same variable as the ``evac plan`` command).
    time_limit_seconds: float = Field(default=8.0, gt=0)
    solve_seed: int = 0
    #: A running job writes a heartbeat this often; a job silent for ``stale_after_seconds`` is re-queued.
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    stale_after_seconds: float = Field(default=30.0, gt=0)
    #: A job whose process died this many times is marked failed instead of re-queued again.
    max_attempts: int = Field(default=3, ge=1)
    #: How often an idle worker looks for queued jobs.
    poll_seconds: float = Field(default=1.0, gt=0)
    #: Positions farther than this from the nearest road of the map are refused.
    snap_max_meters: float = Field(default=500.0, gt=0)
    #: Parsed road graphs are cached here (shared with ``evac plan``); unset: the matcher's default.
    cache_dir: Path | None = None
    #: Apply Alembic migrations when the app starts (``evac db upgrade`` does it explicitly).
    migrate_on_start: bool = True
    #: Anyone may sign up as a volunteer; coordinators create registrars and other coordinators.
    open_signup: bool = True
    #: Argon2 cost; the defaults are argon2-cffi's (RFC 9106 low-memory). Tests lower them for speed.
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=64)
    #: Largest CSV upload accepted, in bytes.
    csv_max_bytes: int = Field(default=5_000_000, ge=1)
    #: Requests of one server process using the database at once (the others wait, holding no thread); capped by
    #: the connection pool. A few keep a Python process busiest: more only contend for its lock (scripts/load.py).
    db_concurrency: int = Field(default=4, ge=1)
    #: Password hashes (argon2, 64 MiB each by default) computed at once per process, outside the database slots.
    hash_concurrency: int = Field(default=2, ge=1)
    #: Largest request body in bytes, refused (413) before it is read whole; CSV uploads get ``csv_max_bytes``.
    json_max_bytes: int = Field(default=1_000_000, ge=1024)
    #: Addresses geocoded per request (a CSV import of addresses: split it), and the time each may take.
    geocode_max_per_request: int = Field(default=20, ge=1)
    #: Sign-in: failed attempts on one account, and from one address, before a lockout of ``lockout_base_seconds``
    #: that doubles with each further failure up to ``lockout_max_seconds``. A success clears the count.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    lockout_base_seconds: float = Field(default=30.0, gt=0)
    lockout_max_seconds: float = Field(default=900.0, gt=0)
    #: Sign-in attempts and sign-ups from one address: a burst, then a steady rate per minute. Generous on purpose:
    #: many honest people share one address (a shelter's or a town hall's network); the lockouts stop guessing.
    login_burst_per_address: int = Field(default=300, ge=1)
    login_per_minute_per_address: float = Field(default=120.0, gt=0)
    signup_burst_per_address: int = Field(default=250, ge=1)
    signup_per_minute_per_address: float = Field(default=10.0, gt=0)
    #: Events that may queue a re-plan (drop-outs, stop reports asking for one, closures, new households, asks).
    replan_events_burst_per_user: int = Field(default=10, ge=1)
    replan_events_per_minute_per_user: float = Field(default=6.0, gt=0)
    replan_events_burst_per_alert: int = Field(default=60, ge=1)
    replan_events_per_minute_per_alert: float = Field(default=60.0, gt=0)
    #: A re-plan serving fewer than this share of the households its base plan serves is not published unless a
    #: coordinator confirms it (``POST /alerts/{id}/replan?confirm=true``).
    replan_min_served_share: float = Field(default=0.8, ge=0, le=1)

    @field_validator("secret_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        key = "" if value is None else value.get_secret_value()
        if key and len(key.encode("utf-8")) < MIN_SECRET_BYTES:  # empty: unset (a generated key, SQLite only)
            raise ValueError(f"EVAC_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes (HS256 signs tokens with "
                             "it): make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or ``None`` for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        path = path.split("?", 1)[0]
        if not path or path == ":memory:":
            return None
        return Path(path)

    def matcher(self) -> MatcherSettings:
        """The matcher's settings with this service's cache, snap limit and time limit."""
        base = matcher_settings()
        return MatcherSettings(
            cache_dir=self.cache_dir or base.cache_dir,
            snap_max_meters=self.snap_max_meters,
            time_limit_seconds=self.time_limit_seconds,
        )

    def map_path(self) -> Path:
        return self.map.expanduser().resolve()

    def resolve_secret(self) -> str:
        """The JWT key: given, or read from (first time: written to) the file beside the SQLite database."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        db_file = self.sqlite_path()
        if db_file is None:
            if self.is_sqlite:  # in-memory: one process only, a key for its lifetime is right
                return secrets.token_urlsafe(32)
            raise RuntimeError("EVAC_SECRET_KEY is required with PostgreSQL: every server process must share it")
        key_file = db_file.with_name(db_file.name + ".secret")
        if not key_file.exists():
            # Written aside then linked: link() fails if another process won the race, and a reader never sees
            # a half-written key.
            tmp = key_file.with_name(f"{key_file.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(32))
            try:
                os.link(tmp, key_file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = key_file.read_text(encoding="utf-8").strip()
        if len(key.encode("utf-8")) < MIN_SECRET_BYTES:
            raise RuntimeError(f"{key_file}: the key is shorter than {MIN_SECRET_BYTES} bytes; delete the file to "
                               "have a new one made (every signed-in user then signs in again)")
        return key

def get_settings() -> Settings:
    """Build the settings from the environment; tests build ``Settings(...)`` directly instead."""
    return Settings()
