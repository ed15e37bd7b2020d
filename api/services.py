"""The process's long-lived parts (database, password hasher, token signer, geocoder, job runner), started once."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

from api import migrate, planning
from api.config import Settings
from api.db import Database
from api.drills import DrillRunner
from api.geocode import Geocoder, make_geocoder
from api.jobs import JobRunner
from api.security import Passwords, Tokens

log = logging.getLogger(__name__)


class Services:
    """Built cheaply by the app factory; ``start()`` migrates, loads the map and starts the runner, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.geocoder: Geocoder = make_geocoder(settings)
        self.runner: JobRunner | None = None
        self.drill_runner: DrillRunner | None = None
        self._passwords: Passwords | None = None
        self._tokens: Tokens | None = None
        self._lock = threading.Lock()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self.started = False

    def start(self) -> None:
        if self.started:  # the common case, on every request: no lock
            return
        with self._lock:
            if self.started:
                return
            if self.settings.migrate_on_start:
                migrate.upgrade(self.settings, self.db)
            self._tokens = Tokens(self.settings.resolve_secret(), self.settings.access_token_minutes)
            # Loaded now so the first registration does not wait for it, and a bad map stops the start.
            planning.road_graph(self.settings)
            if self.settings.worker_mode == "embedded":
                self.runner = JobRunner(self.db, self.settings)
                self.runner.start()
                self.drill_runner = DrillRunner(self.db, self.settings)
                self.drill_runner.start()
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

    def wake_runner(self) -> None:
        if self.runner is not None:
            self.runner.wake()
