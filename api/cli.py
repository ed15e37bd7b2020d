"""The service's ``evac`` commands (``serve``, ``db``, ``admin``, ``worker``, ``notifier``), found through the
``evac.commands`` entry points. Heavy imports stay inside the commands so ``evac --help`` stays fast."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

db_app = typer.Typer(no_args_is_help=True, help="The service's database.")
admin_app = typer.Typer(no_args_is_help=True, help="Accounts, from the machine running the service.")


def _say(message: str) -> None:
    typer.echo(f"[evac] {message}", err=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each runs plan jobs too in embedded mode).")] = 1,
) -> None:
    """Run the web service (settings from EVAC_* variables; migrations are applied first)."""
    import uvicorn

    from api import migrate
    from api.config import get_settings

    settings = get_settings()
    # Once here, before the workers start, so they do not all race to migrate.
    migrate.upgrade(settings)
    settings.resolve_secret()  # likewise: one key file, written before any worker reads it
    _say(f"serving on http://{host}:{port} with {workers} process(es), jobs {settings.worker_mode}")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (EVAC_DATABASE_URL)."""
    from api import migrate
    from api.config import get_settings

    migrate.upgrade(get_settings())
    _say("database is up to date")


@admin_app.command("create-coordinator")
def create_coordinator(
    email: Annotated[str, typer.Option(prompt=True, help="The coordinator's e-mail (their sign-in name).")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters.")
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a coordinator account (the first one, or more)."""
    from pydantic import ValidationError

    from api import crud, migrate, schemas
    from api.config import get_settings
    from api.db import Database
    from api.errors import ServiceError
    from api.security import Passwords

    settings = get_settings()
    try:
        data = schemas.UserCreate(email=email, password=password, name=name, role="coordinator")
    except ValidationError as exc:
        first = exc.errors()[0]
        _say(f"error: {'.'.join(map(str, first['loc']))}: {first['msg']}")
        raise typer.Exit(2) from None
    migrate.upgrade(settings)
    db = Database(settings)
    try:
        with db.sessions() as session:
            passwords = Passwords(settings.password_time_cost, settings.password_memory_kib)
            user = crud.create_user(session, passwords, data, "coordinator", None)
    except ServiceError as exc:
        _say(f"error: {exc.message}")
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    _say(f"coordinator {user.email} created (id {user.id})")


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run at most one job, then exit.")] = False,
) -> None:
    """Run plan jobs (and drills, on a thread of their own) from the shared database until stopped (SIGTERM/Ctrl-C
    finish the current plan job first; a drill cut short is re-queued by its stale heartbeat)."""
    from api import migrate
    from api.config import get_settings
    from api.db import Database
    from api.jobs import JobRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    migrate.upgrade(settings)
    db = Database(settings)
    runner = JobRunner(db, settings)
    _say(f"worker {runner.worker} polling every {settings.poll_seconds} s")
    if once:
        runner.run_once()
        db.dispose()
        return
    sender = None
    if settings.embedded_notifier:  # the outbox is delivered from here too (claims are safe to share)
        from api.messaging.sender import Sender

        sender = Sender(db, settings)
        sender.start()
    from api.drills import DrillRunner

    drills = DrillRunner(db, settings)
    drills.start()
    signal.signal(signal.SIGTERM, lambda *_: runner.request_stop())
    try:
        runner.loop()
    except KeyboardInterrupt:
        pass
    finally:
        drills.stop()
        if sender is not None:
            sender.stop()
        db.dispose()


def notifier(
    once: Annotated[bool, typer.Option("--once", help="Send one batch, then exit.")] = False,
) -> None:
    """Deliver queued messages (SMS, e-mail, log) until stopped; SIGTERM/Ctrl-C finish the message in hand."""
    from api import migrate
    from api.config import get_settings
    from api.db import Database
    from api.messaging.channels import available
    from api.messaging.sender import Sender

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    migrate.upgrade(settings)
    db = Database(settings)
    sender = Sender(db, settings)
    channels = ", ".join(sorted(available(settings))) or "none (messages stay queued)"
    _say(f"notifier {sender.worker} sending on: {channels}")
    if once:
        sender.run_once()
        sender.stop()
        db.dispose()
        return
    signal.signal(signal.SIGTERM, lambda *_: sender.request_stop())
    try:
        sender.loop()
    except KeyboardInterrupt:
        pass
    finally:
        sender.stop()
        db.dispose()
