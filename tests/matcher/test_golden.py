"""Golden plan and GeoJSON files on the tiny test map; fast JSON writing reads back identical; --timings adds up.

The golden files change only when the plan format, the solver's result or the GeoJSON layout changes on
purpose: regenerate them with ``EVAC_UPDATE_GOLDEN=1 python -m pytest tests/matcher/test_golden.py`` and
review the diff like code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from matcher.check import assert_plan_valid
from matcher.cli import _write_json, app
from matcher.plan import Plan
from matcher.scenario import load_scenario
from matcher.solver import SolveParams, solve
from tests.matcher.test_scenario import ROOT, write_scenario

TINY = ROOT / "tests" / "data" / "roads_tiny.osm"
GOLDEN = ROOT / "tests" / "data" / "golden"
LIMIT = "0.5"


def tiny_scenario() -> dict[str, Any]:
    """Two cars, four households and two shelters on road nodes of ``roads_tiny.osm`` (a one-way ring,
    a roundabout and a motorway loop), with personal data that must stay out of the GeoJSON."""
    return {
        "name": "tiny golden",
        "map": str(TINY),
        "alert": {"start": "2026-09-14T18:00:00+02:00", "deadline_minutes": 60, "closed_ways": [],
                  "flood_zones": []},
        "service_minutes": {"pickup": 3, "dropoff": 2},
        "shelters": [
            {"id": "S1", "name": "Roundabout school", "lat": 59.998, "lon": 25.0015, "capacity": 6,
             "wheelchair_accessible": True},
            {"id": "S2", "name": "Corner hall", "lat": 60.0, "lon": 25.002, "capacity": 3,
             "wheelchair_accessible": False},
        ],
        "drivers": [
            {"id": "D1", "name": "Aino Driver", "phone": "+358 50 111 0001", "lat": 60.0, "lon": 25.0, "seats": 3,
             "wheelchair_spaces": 1},
            {"id": "D2", "name": "Eero Driver", "phone": "+358 50 222 0002", "lat": 60.001, "lon": 25.0, "seats": 4,
             "available_until_minute": 40},
        ],
        "households": [
            {"id": "H1", "name": "Virtanen", "phone": "+358 40 000 0001", "lat": 60.0, "lon": 25.001, "people": 2},
            {"id": "H2", "name": "Korhonen", "phone": "+358 40 000 0002", "lat": 60.001, "lon": 25.001, "people": 1,
             "wheelchair_users": 1, "priority": 1},
            {"id": "H3", "name": "Nieminen", "phone": "+358 40 000 0003", "lat": 59.9985, "lon": 25.0015, "people": 3},
            {"id": "H4", "name": "Mäkinen", "phone": "+358 40 000 0004", "lat": 59.9975, "lon": 25.001, "people": 2,
             "ready_from_minute": 10},
        ],
    }


@pytest.fixture
def cache_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    cache = str(tmp_path_factory.mktemp("evac-cache"))
    monkeypatch.setenv("EVAC_CACHE_DIR", cache)
    return {**os.environ, "EVAC_CACHE_DIR": cache}


def _without_timings(data: dict[str, Any]) -> dict[str, Any]:
    data["metrics"].pop("solve_seconds")
    data["metrics"].pop("first_plan_seconds")
    return data


def _compare_golden(name: str, data: dict[str, Any]) -> None:
    path = GOLDEN / name
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("EVAC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"{name} differs from its golden file"


def test_plan_and_geojson_match_their_golden_files(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """``evac plan`` on the tiny map writes exactly the golden plan (format 2) and GeoJSON; the plan passes
    the checker with its legs on the map's roads."""
    scenario = write_scenario(tmp_path, tiny_scenario())
    out, geo = tmp_path / "plan.json", tmp_path / "plan.geojson"
    result = CliRunner().invoke(app, ["plan", str(scenario), "--out", str(out), "--geojson", str(geo),
                                      "--time-limit", LIMIT, "--seed", "0"])
    assert result.exit_code == 0, result.output
    plan_data = json.loads(out.read_text(encoding="utf-8"))
    assert plan_data["format_version"] == 2
    assert all("polyline" in leg and "coordinates" not in leg for r in plan_data["routes"] for leg in r["legs"])
    loaded = load_scenario(scenario)
    assert_plan_valid(loaded.problem, Plan.from_dict(plan_data), road_graph=loaded.graph,
                      closed_mask=loaded.closed_mask)
    _compare_golden("tiny_plan.json", _without_timings(plan_data))
    geo_data = json.loads(geo.read_text(encoding="utf-8"))
    geo_data["metrics"].pop("solve_seconds")
    geo_data["metrics"].pop("first_plan_seconds")
    _compare_golden("tiny_plan.geojson", geo_data)
    for secret in ("Virtanen", "+358", "Aino"):
        assert secret not in geo.read_text(encoding="utf-8")


@pytest.mark.parametrize("pretty", [False, True])
def test_plan_written_with_the_fast_encoder_reads_back_identical(tmp_path: Path, cache_env: dict[str, str],
                                                                  pretty: bool) -> None:
    """The orjson-written file parses to exactly the plan's dict, and back into a Plan that writes the same."""
    loaded = load_scenario(write_scenario(tmp_path, tiny_scenario()))
    plan = solve(loaded.problem, SolveParams(time_limit_seconds=0.5))
    path = tmp_path / "plan.json"
    _write_json(path, plan.to_dict(), pretty=pretty)
    text = path.read_text(encoding="utf-8")
    assert ("\n  " in text) == pretty
    data = json.loads(text)
    assert data == plan.to_dict()
    again = Plan.from_dict(data)
    assert again == plan or again.to_dict() == plan.to_dict()
    assert again.to_dict() == plan.to_dict()
    assert [leg.coordinates for r in again.routes for leg in r.legs] == \
        [leg.coordinates for r in plan.routes for leg in r.legs]


def test_format_1_plans_are_still_read_and_checked(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """A plan written in format 1 (coordinate pairs) reads back to the same legs and passes the checker."""
    loaded = load_scenario(write_scenario(tmp_path, tiny_scenario()))
    plan = solve(loaded.problem, SolveParams(time_limit_seconds=0.5))
    old = plan.to_dict(format_version=1)
    assert "format_version" not in old and all("coordinates" in leg for r in old["routes"] for leg in r["legs"])
    read = Plan.from_dict(json.loads(json.dumps(old)))
    assert read.to_dict() == plan.to_dict()
    assert_plan_valid(loaded.problem, read, road_graph=loaded.graph, closed_mask=loaded.closed_mask)
    with pytest.raises(ValueError, match="format_version"):
        Plan.from_dict({**plan.to_dict(), "format_version": 99})


STAGE = re.compile(r"^\[evac\]   (\S.*?)\s+(\d+\.\d\d) s")


def test_timings_split_adds_up_to_the_wall(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """``--timings`` lists every stage from process start; the stages sum to the printed total, and the total
    accounts for the wall time measured around the process (less the process's own exit)."""
    scenario = write_scenario(tmp_path, tiny_scenario())
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "matcher.cli", "plan", str(scenario), "--out", str(tmp_path / "p.json"),
         "--geojson", str(tmp_path / "p.geojson"), "--time-limit", LIMIT, "--timings"],
        capture_output=True, text=True, env=cache_env, cwd=tmp_path, timeout=300, check=False,
    )
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    rows = [(m.group(1), float(m.group(2))) for line in proc.stderr.splitlines() if (m := STAGE.match(line))]
    stages = dict(rows[:-1])
    name, total = rows[-1]
    assert name == "total"
    assert list(stages) == ["start-up", "read scenario", "road map", "travel times", "first plan", "bisection",
                            "improvement", "road paths", "check", "write plan", "write GeoJSON", "summary"]
    # Each stage is rounded to 0.01 s on its own.
    assert abs(sum(stages.values()) - total) <= 0.005 * len(stages) + 1e-9
    # The total starts at the process's start (clock ticks of 0.01 s) and ends before the interpreter exits.
    assert total <= wall + 0.02
    assert wall - total < 0.5 * wall
