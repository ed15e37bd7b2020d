"""The ``evac plan`` command: outputs and their JSON shapes, exit codes, one-line errors, seed determinism."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import shapely.geometry
from typer.testing import CliRunner

from matcher.check import assert_plan_valid
from matcher.cli import app
from matcher.plan import Plan
from matcher.scenario import load_scenario
from tests.matcher.test_scenario import ROOT, circle, small_scenario, write_scenario

LIMIT = "0.5"


@pytest.fixture
def cache_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the graph cache at a temporary folder, for CliRunner (monkeypatch) and subprocesses (env)."""
    cache = str(tmp_path_factory.mktemp("evac-cache"))
    monkeypatch.setenv("EVAC_CACHE_DIR", cache)
    return {**os.environ, "EVAC_CACHE_DIR": cache}


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 always keeps stderr apart
        return CliRunner()


def _plan_without_timings(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["metrics"].pop("solve_seconds")
    data["metrics"].pop("first_plan_seconds")
    return data


def test_plan_writes_plan_geojson_and_matrix(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """Exit 0, a summary on stdout, and plan / GeoJSON / matrix files of the documented shapes."""
    data = small_scenario()
    h = data["households"][3]
    data["alert"]["flood_zones"] = [circle(h["lat"], h["lon"], 60)]
    h["max_walk_meters"] = 0  # H004 cannot walk out of the flood: cut off, null cells in the matrix
    scenario_path = write_scenario(tmp_path, data)
    out, geo, matrix = tmp_path / "plan.json", tmp_path / "plan.geojson", tmp_path / "matrix.json"
    result = _runner().invoke(
        app,
        ["plan", str(scenario_path), "--out", str(out), "--geojson", str(geo), "--export-matrix", str(matrix),
         "--time-limit", LIMIT, "--seed", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "Plan small Kotka test" in result.stdout
    assert "served      5 of 6 households" in result.stdout
    assert "[evac]" not in result.stdout  # progress goes to stderr

    plan_data = json.loads(out.read_text(encoding="utf-8"))
    assert {"scenario", "metrics", "routes", "unserved"} <= plan_data.keys()
    assert plan_data["metrics"]["households_served"] == 5
    assert [(u["household_id"], u["code"]) for u in plan_data["unserved"]] == [("H004", "cut_off")]
    assert plan_data["unserved"][0]["reason"].startswith("inside the flood zone")
    assert "needs a boat or the fire service" in plan_data["unserved"][0]["reason"]
    assert all({"driver_id", "stops", "legs"} <= r.keys() for r in plan_data["routes"])
    assert all(len(r["stops"]) == len(r["legs"]) for r in plan_data["routes"])
    # The written plan reads back and passes the checker on the same scenario, legs on real roads.
    loaded = load_scenario(scenario_path)
    assert_plan_valid(loaded.problem, Plan.from_dict(plan_data), road_graph=loaded.graph,
                      closed_mask=loaded.closed_mask)

    geo_data = json.loads(geo.read_text(encoding="utf-8"))
    assert geo_data["type"] == "FeatureCollection"
    assert geo_data["features"]
    for feature in geo_data["features"]:  # valid GeoJSON geometry, read back by shapely
        if feature["geometry"]["type"] == "LineString":
            assert len(feature["geometry"]["coordinates"]) >= 2
        assert shapely.geometry.shape(feature["geometry"]).is_valid

    m = json.loads(matrix.read_text(encoding="utf-8"))
    assert m.keys() == {"locations", "minutes"}
    assert len(m["locations"]) == 11
    assert m["locations"][0] == {"kind": "driver", "id": "D01"}
    assert {loc["kind"] for loc in m["locations"]} == {"driver", "household", "shelter"}
    assert len(m["minutes"]) == 11 and all(len(row) == 11 for row in m["minutes"])
    h4 = next(i for i, loc in enumerate(m["locations"]) if loc == {"kind": "household", "id": "H004"})
    assert all(m["minutes"][h4][j] is None for j in range(11) if j != h4)
    assert all(m["minutes"][i][h4] is None for i in range(11) if i != h4)
    finite = [v for row in m["minutes"] for v in row if v is not None]
    assert all(isinstance(v, float | int) and math.isfinite(v) and v >= 0 for v in finite)
    assert not list(tmp_path.glob("*.tmp"))


BAD: list[tuple[str, str, Any, str]] = [
    # a household of nobody
    ("households", "people", 0, "household H001: people"),
    # more wheelchair users than people
    ("households", "wheelchair_users", 50, "household H001: wheelchair_users"),
    # a need spelt wrong: refused with the right word
    ("households", "needs", ["oxigen"], "household H001: needs: unknown need 'oxigen': did you mean 'oxygen'?"),
    # a negative number of pets
    ("households", "pets", -1, "household H001: pets"),
    # a negative walk
    ("households", "max_walk_meters", -5, "household H001: max_walk_meters"),
    # a driver's language that is no language code
    ("drivers", "languages", ["klingon"], "driver D01: languages"),
    # room for 60 pets at a shelter that says it takes none
    ("shelters", "pets_allowed", False, "shelter S1: pet_capacity"),
    # a phone that does not parse
    ("households", "phone", "abc-not-a-phone", "household H001: phone: 'abc-not-a-phone' is not a valid phone number"),
    # a duplicate household: the first takes the second's id
    ("households", "id", "H002", "household H002: id: duplicate household id 'H002'"),
    # a car with negative seats
    ("drivers", "seats", -1, "driver D01: seats"),
    # a latitude out of range
    ("shelters", "lat", 95.0, "shelter S1: lat"),
]


@pytest.mark.parametrize(("key", "name", "value", "expected"), BAD)
def test_bad_input_exits_2_with_one_line_naming_the_record(
    tmp_path: Path, cache_env: dict[str, str], key: str, name: str, value: Any, expected: str
) -> None:
    """Bad input exits 2 with one error line that names the record and the field; stdout stays empty and no
    file is written."""
    data = small_scenario()
    data[key][0][name] = value
    out = tmp_path / "plan.json"
    result = _runner().invoke(app, ["plan", str(write_scenario(tmp_path, data)), "--time-limit", LIMIT,
                                    "--out", str(out), "--geojson", str(tmp_path / "plan.geojson")])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert expected in errors[0]
    assert result.stdout == ""
    assert not out.exists() and not (tmp_path / "plan.geojson").exists()


def test_missing_scenario_file_exits_2(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """A scenario path that does not exist exits 2 and says so."""
    result = _runner().invoke(app, ["plan", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "scenario: path: no such file" in result.stderr


def test_household_off_the_map_exits_2(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """A household far off the map exits 2 with a message naming it."""
    data = small_scenario()
    data["households"][1]["lon"] += 0.1
    result = _runner().invoke(app, ["plan", str(write_scenario(tmp_path, data))])
    assert result.exit_code == 2
    assert "household H002: lat" in result.stderr


def test_same_seed_and_limit_give_identical_plan_json(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """Two runs with one seed and time limit write the same plan, timings aside."""
    path = write_scenario(tmp_path, small_scenario(households=12, drivers=3))
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        result = _runner().invoke(app, ["plan", str(path), "--out", str(out), "--seed", "5", "--time-limit", "1"])
        assert result.exit_code == 0, result.output
    first, second = (_plan_without_timings(o) for o in outs)
    assert first == second
    assert first["metrics"]["households_served"] == 12


def test_plan_as_a_real_subprocess(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """``python -m matcher.cli plan`` exits 0 with the summary on stdout and progress on stderr."""
    path = write_scenario(tmp_path, small_scenario())
    out = tmp_path / "plan.json"
    proc = subprocess.run(
        [sys.executable, "-m", "matcher.cli", "plan", str(path), "--out", str(out), "--time-limit", LIMIT],
        capture_output=True, text=True, env=cache_env, cwd=tmp_path, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Plan small Kotka test" in proc.stdout
    assert "served      6 of 6 households" in proc.stdout
    assert "[evac] plan check: ok" in proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["metrics"]["households_served"] == 6
    assert data["unserved"] == []


def test_bad_input_as_a_real_subprocess(tmp_path: Path, cache_env: dict[str, str]) -> None:
    """The installed module exits 2 on bad input with the record in a single stderr line."""
    data = small_scenario()
    data["households"][0]["people"] = 0
    proc = subprocess.run(
        [sys.executable, "-m", "matcher.cli", "plan", str(write_scenario(tmp_path, data))],
        capture_output=True, text=True, env=cache_env, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith("[evac] error: household H001: people:")
