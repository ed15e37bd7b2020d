"""The service's commands reach `evac` through the `evac.commands` entry points; a broken plugin is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from matcher import cli


def test_service_commands_are_registered() -> None:
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for name in ("plan", "serve", "db", "admin", "worker"):
        assert name in result.output


def test_broken_plugin_is_reported_and_skipped(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    def boom() -> None:
        raise ImportError("no such module")

    good = typer.Typer()
    entries = [SimpleNamespace(name="bad", value="x:y", load=boom), SimpleNamespace(name="good", value="a:b",
                                                                                     load=lambda: good)]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: entries)
    target = typer.Typer()
    assert cli.load_plugins(target) == ["good"]
    assert "command 'bad' (x:y) not loaded: ImportError" in capsys.readouterr().err


def test_db_upgrade_and_create_coordinator(tmp_path: Path) -> None:
    """The first coordinator is made from the command line; a second with the same e-mail is refused."""
    env = {**os.environ, "EVAC_DATABASE_URL": f"sqlite:///{tmp_path / 'evac.db'}", "EVAC_PASSWORD_TIME_COST": "1",
           "EVAC_PASSWORD_MEMORY_KIB": "64"}
    run = [sys.executable, "-m", "matcher.cli"]
    assert subprocess.run([*run, "db", "upgrade"], env=env, capture_output=True).returncode == 0
    args = [*run, "admin", "create-coordinator", "--email", "Boss@Example.org", "--password", "long enough"]
    first = subprocess.run(args, env=env, capture_output=True, text=True)
    assert first.returncode == 0 and "coordinator boss@example.org created" in first.stderr
    again = subprocess.run(args, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "already registered" in again.stderr
    short = subprocess.run([*args[:-1], "short"], env=env, capture_output=True, text=True)
    assert short.returncode == 2 and "password" in short.stderr
