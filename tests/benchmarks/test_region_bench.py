"""The regional benchmark skips with a clear message when its map is absent (the shared maps folder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import region
from matcher.plan import Metrics, Plan


def test_skips_without_the_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert region.main(["--map", str(tmp_path / "porto_portugal.osm.pbf")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Skipped the regional benchmark:")
    assert "porto_portugal.osm.pbf is not there" in out


KOTKA = Path(__file__).parents[2] / "data" / "kotka.osm.pbf"


@pytest.fixture(scope="module")
def side_by_side_out() -> str:
    """One small side-by-side run on the bundled Kotka map: our solve in-process (0 workers) and on a real
    1-worker Dask cluster, the single solve, the greedy and VROOM by zones."""
    lines = region.side_by_side(KOTKA, 100, 2.0, 0, single=True, vroom=True, write=None, replan=False,
                                workers_list=[0, 1])
    return "\n".join(lines)


def test_every_method_gives_a_checked_plan(side_by_side_out: str) -> None:
    rows = {line.split(" | ")[0].strip("| "): line for line in side_by_side_out.splitlines()
            if line.startswith("| ") and not line.startswith("| method |")}
    assert set(rows) == {"ours, regional, 0 Dask workers", "ours, regional, 1 Dask worker",
                         "whole-region single solve (same table)", "pooled greedy (whole region)",
                         "VROOM by the same zones, bisected"}
    assert all("| valid |" in row for row in rows.values())
    # 0 and 1 workers: the same plan (the regional solve's determinism, seen by the benchmark).
    assert rows["ours, regional, 1 Dask worker"].endswith("the same plan as 0 worker(s): yes |")
    assert "limit 2 s; improvement clearance" in rows["whole-region single solve (same table)"]


def test_targets_are_judged_against_the_peers_of_the_run(side_by_side_out: str) -> None:
    out = side_by_side_out
    assert "- served ≥ every peer: **" in out
    assert "- clearance ≤ 0.85 × the pooled greedy's: **" in out
    assert "- clearance ≤ the whole-region single solve's: **" in out


def test_vroom_gets_three_times_our_time() -> None:
    assert region.vroom_budget(40.0, 35.5) == (106.5, "3x our 35.5 s")
    assert region.vroom_budget(40.0, None) == (120.0, "3x our limit of 40 s")


def test_verdict_compares_served_and_clearance() -> None:
    def plan(served: int, clearance: float) -> Plan:
        return Plan("s", Metrics(clearance_minute=clearance, households_served=served, households_unserved=0,
                                 people_served=served), ())

    ours = plan(100, 90.0)
    lines = region.verdict(ours, {"pooled greedy": plan(100, 110.0), "whole-region single solve": plan(99, 91.0)})
    assert lines[0] == "- served ≥ every peer: **met** (100)"
    assert lines[1].startswith("- clearance ≤ 0.85 × the pooled greedy's: **met** (90.0 against 93.5")
    assert lines[2].startswith("- clearance ≤ the whole-region single solve's: **met**")
    lines = region.verdict(replace(ours, metrics=replace(ours.metrics, households_served=98)),
                           {"pooled greedy": plan(100, 100.0)})
    assert lines[0] == "- served ≥ every peer: **missed** (98; more: pooled greedy)"
    assert lines[1].startswith("- clearance ≤ 0.85 × the pooled greedy's: **missed**")
    assert lines[2] == "- clearance ≤ the whole-region single solve's: not measured in this run"
