"""Shared, expensive fixtures: the bundled drills' contexts and one report per drill (3 replications, fixed seed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.cli import app
from scenarios.spec import load_drill
from scenarios.world import DrillContext

DRILLS = Path(__file__).parents[2] / "scenarios" / "drills"
BUNDLED = sorted(p.stem for p in DRILLS.glob("*.yaml"))
DATE = "2026-10-01"


def run_cli(*args: str) -> str:
    """``evac drill ...`` through the real command line (entry point included); the combined output."""
    result = CliRunner().invoke(app, ["drill", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each bundled drill's report folder: 3 replications in this process, the drill file's seed, a fixed date."""
    out: dict[str, Path] = {}
    for name in BUNDLED:
        folder = tmp_path_factory.mktemp(name)
        run_cli(str(DRILLS / f"{name}.yaml"), "--runs", "3", "--workers", "0", "--out", str(folder), "--date", DATE)
        out[name] = folder
    return out


@pytest.fixture(scope="session")
def first_report_json(reports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """report.json of each drill as first written (later tests write into the same folders)."""
    keep = tmp_path_factory.mktemp("first")
    texts = {}
    for name, folder in reports.items():
        shutil.copyfile(folder / "report.json", keep / f"{name}.json")
        texts[name] = (keep / f"{name}.json").read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="session")
def storm() -> DrillContext:
    """The storm-at-night drill's context (map, stages, base plan)."""
    return DrillContext(load_drill(DRILLS / "storm_night.yaml"))
