"""The process's long-lived parts (database, password hasher, token signer, geocoder, job runner, message sender),
started once."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api import migrate, places, planning
from api.config import Settings
from api.db import Database, secure_sqlite_file
from api.drills import DrillRunner
from api.geocode import Geocoder, make_geocoder
from api.jobs import JobRunner
from api.limits import Limits
from api.messaging.sender import Sender
from api.security import Passwords, Tokens

log = logging.getLogger(__name__)
T = TypeVar("T")


class Services:
    """Built cheaply by the app factory; ``start()`` migrates, loads the map and starts the runner, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.geocoder: Geocoder = make_geocoder(settings)
        self.runner: JobRunner | None = None
        self.drill_runner: DrillRunner | None = None
        self.sender: Sender | None = None
        self._passwords: Passwords | None = None
        self._tokens: Tokens | None = None
        self._lock = threading.Lock()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self._hash_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self.limits = Limits(settings)
        self.started = False

    def start(self) -> None:
        if self.started:  # the common case, on every request: no lock
            return
        with self._lock:
            if self.started:
                return
            secure_sqlite_file(self.settings.sqlite_path())
            if self.settings.migrate_on_start:
                migrate.upgrade(self.settings, self.db)
            self._tokens = Tokens(self.settings.resolve_secret(), self.settings.access_token_minutes)
            # Loaded now so the first registration does not wait for it, and a bad map stops the start.
            planning.road_graph(self.settings)
            places.address_index(self.settings)
            if self.settings.worker_mode == "embedded":
                self.runner = JobRunner(self.db, self.settings)
                self.runner.start()
                self.drill_runner = DrillRunner(self.db, self.settings)
                self.drill_runner.start()
            if self.settings.embedded_notifier:
                self.sender = Sender(self.db, self.settings)
                self.sender.start()
            self.started = True
            log.info("service started (database %s, worker mode %s)", self.db.engine.url.render_as_string(),
                     self.settings.worker_mode)

    def stop(self) -> None:
        with self._lock:
            if self.runner is not None:
                self.runner.stop()
                self.runner = None
            if self.drill_runner is not None:
                self.drill_runner.stop()
                self.drill_runner = None
            if self.sender is not None:
                self.sender.stop()
                self.sender = None
            self.db.dispose()
            self.started = False

    @property
    def passwords(self) -> Passwords:
        if self._passwords is None:  # built on first use: it hashes a dummy password, which is slow on purpose
            self._passwords = Passwords(self.settings.password_time_cost, self.settings.password_memory_kib)
        return self._passwords

    @property
    def tokens(self) -> Tokens:
        self.start()
        assert self._tokens is not None
        return self._tokens

    def db_gate(self) -> asyncio.Semaphore:
        """Admits requests to the database while the pool surely has a connection for each (``api.deps``).

        One per event loop (a server process has one; tests may run an app on several in turn).
        """
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.db.request_slots)
        return gate

    def wake_drills(self) -> None:
        if self.drill_runner is not None:
            self.drill_runner.wake()

    async def run_db(self, work: Callable[[Session], T]) -> T:
        """``work`` in a committed session on a worker thread, admitted like a request (``db_gate``): for routes
        that must do slow work (password hashing) outside the database slots, before or after."""
        async with self.db_gate():
            return await run_in_threadpool(self._in_session, work)

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with self.db.session() as session:
            return work(session)

    async def run_hashing(self, work: Callable[..., T], *args: object) -> T:
        """A password hash or check on a worker thread, at most ``hash_concurrency`` at once per process and
        holding no database slot: argon2 takes tens of milliseconds and 64 MiB by design."""
        loop = asyncio.get_running_loop()
        gate = self._hash_gates.get(loop)
        if gate is None:
            gate = self._hash_gates[loop] = asyncio.Semaphore(self.settings.hash_concurrency)
        async with gate:
            return await run_in_threadpool(work, *args)

    def wake_runner(self) -> None:
        if self.runner is not None:
            self.runner.wake()

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()
