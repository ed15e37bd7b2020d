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
from matcher.settings import parse_pickup_targets

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
    #: ``local``: the map file's own addresses, no network (default). A geopy geocoder name (``nominatim``, ...) to
    #: look addresses up online instead, or ``none`` to refuse addresses without lat/lon.
    geocoder: str = "local"
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
    #: Largest CSV upload accepted, in bytes (a 50,000-household roster is about 6 MB).
    csv_max_bytes: int = Field(default=20_000_000, ge=1)
    #: Drills (``POST /drills``): local Dask worker processes for the replications (0: on the drill thread itself),
    #: or an existing Dask scheduler's address; each coordinator may ask for this many an hour.
    drill_workers: int = Field(default=0, ge=0, le=64)
    drill_scheduler: str | None = None
    drill_max_per_hour: int = Field(default=4, ge=1)
    #: Re-plan time limit inside a drill's replications (the drill rehearses the service's re-plans, faster).
    drill_replan_time_limit_seconds: float = Field(default=0.2, gt=0)
    #: Requests of one server process using the database at once (the others wait, holding no thread); capped by
    #: the connection pool. A few keep a Python process busiest: more only contend for its lock (scripts/load.py).
    db_concurrency: int = Field(default=4, ge=1)
    #: Two registrations with the same name this close (meters) are taken for one household (409).
    duplicate_meters: float = Field(default=50.0, ge=0)
    #: The needs and urgency rules (docs/needs.md): seats a pet takes, the longest ride for medical needs,
    #: pickup targets per priority (``priority:minutes,...``), walking limits to a meeting point.
    seats_per_pet: int = Field(default=1, ge=0, le=4)
    medical_max_ride_minutes: float = Field(default=45.0, gt=0)
    pickup_targets: str = "1:30,2:60"
    walk_meters: float = Field(default=250.0, ge=0)
    wheelchair_walk_meters: float = Field(default=100.0, ge=0)
    #: Plans of more households than this are made by zones (``matcher.region``); so are plans where any
    #: household has a registered zone.
    region_min_households: int = Field(default=2000, ge=1)
    #: About this many households per zone when zones are found by clustering on the road network.
    zone_households: int = Field(default=500, ge=10)
    #: Zone solves run on this Dask scheduler (``tcp://host:8786``); unset: a local cluster of ``dask_workers``.
    dask_scheduler: str | None = None
    #: Local Dask workers for zone solves; 0 solves zones one by one in the job's own process.
    dask_workers: int = Field(default=0, ge=0)
    #: Password hashes (argon2, 64 MiB each by default) computed at once per process, outside the database slots.
    hash_concurrency: int = Field(default=2, ge=1)
    #: Largest request body in bytes, refused (413) before it is read whole; CSV uploads get ``csv_max_bytes``.
    json_max_bytes: int = Field(default=1_000_000, ge=1024)
    #: Addresses geocoded online per request (a CSV import of addresses: split it), and the time each may take;
    #: the local geocoder (the map's own addresses) has no cap.
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

    # --- messages (docs/messages.md) -----------------------------------------------------------------------------
    #: Where links in messages point and what signed webhooks were addressed to (``https://evac.example.org``);
    #: unset: links are left out and webhook signatures are checked against the URL the request arrived at.
    public_base_url: str = ""
    #: ``twilio``: SMS through Twilio's Messages API; ``none``: SMS stay queued ("no SMS provider set up").
    sms_provider: Literal["none", "twilio"] = "none"
    #: Twilio's API root; a local server speaking the same API in tests, drills and benchmarks.
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    #: Signs API requests and Twilio's webhooks; never logged or shown.
    twilio_auth_token: SecretStr = SecretStr("")
    #: The sending number (E.164) or a Messaging Service SID (``MG...``).
    twilio_from: str = ""
    #: SMTP for e-mail; unset host: e-mail stays queued.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_from: str = "evac@localhost"
    #: Also write every message to this file (JSON lines): the ``log`` channel that drills and demos read.
    message_log: Path | None = None
    #: The region phone numbers without a country code belong to (``phonenumbers`` region code).
    phone_region: str = "FI"
    #: Clock times in messages are in this zone.
    timezone: str = "Europe/Helsinki"
    #: After a re-plan, a household is told again only if its driver changed or its pickup moved more than this.
    notify_moved_minutes: float = Field(default=10.0, ge=0)
    #: Coordinators are told of a household not confirming its ride, or a driver (by SMS) not acknowledging the
    #: plan, this long after the message (0: never).
    confirm_within_minutes: float = Field(default=30.0, ge=0)
    ack_within_minutes: float = Field(default=15.0, ge=0)
    #: A reminder goes this long before each pickup (0: none).
    reminder_minutes: float = Field(default=15.0, ge=0)
    #: Sender: rows claimed per batch, sends per second per channel (0: unlimited), retries, backoff.
    notifier_batch: int = Field(default=50, ge=1)
    #: Messages a sender process hands over at once (each waits for the provider's answer).
    notifier_threads: int = Field(default=8, ge=1, le=64)
    sms_per_second: float = Field(default=10.0, ge=0)
    email_per_second: float = Field(default=5.0, ge=0)
    message_max_attempts: int = Field(default=5, ge=1)
    message_backoff_seconds: float = Field(default=5.0, gt=0)
    #: Runaway-loop guards: at most this many messages to one address per hour, and to everyone per minute
    #: (0: no limit). Messages over a limit wait; none is dropped.
    per_person_per_hour: int = Field(default=12, ge=0)
    global_per_minute: int = Field(default=3000, ge=0)
    #: A message claimed this long ago and still not recorded is looked up at the provider, then re-queued.
    message_stale_seconds: float = Field(default=30.0, gt=0)
    #: Provider calls give up after this long (below ``message_stale_seconds``).
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Records not confirmed at a check-in for this many days are listed as stale.
    checkin_stale_days: int = Field(default=45, ge=1)
    #: A page's live stream (server-sent events) lasts this long before the page reconnects; checked this often.
    stream_seconds: float = Field(default=25.0, gt=0)
    stream_poll_seconds: float = Field(default=1.0, gt=0)
    #: ``true``: each server process runs the sender too (with ``worker_mode`` embedded or not).
    embedded_notifier: bool = True

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
            seats_per_pet=self.seats_per_pet,
            medical_max_ride_minutes=self.medical_max_ride_minutes,
            pickup_targets=parse_pickup_targets(self.pickup_targets),
            walk_meters=self.walk_meters,
            wheelchair_walk_meters=self.wheelchair_walk_meters,
            phone_region=self.phone_region,
            region_min_households=self.region_min_households,
            zone_households=self.zone_households,
            dask_scheduler=self.dask_scheduler,
            dask_workers=self.dask_workers,
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
