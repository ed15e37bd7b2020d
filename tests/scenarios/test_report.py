"""``evac drill`` end to end: every bundled drill writes its report; a seed repeats it on any number of workers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.scenarios.conftest import BUNDLED, DATE, DRILLS, run_cli

PLOTS = ("people_over_time.png", "coverage_by_priority.png", "clearance.png", "map.png")


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_drill_writes_its_report(reports: dict[str, Path], name: str) -> None:
    """Markdown, HTML, JSON, timings, four plots, contacts, the runs and the shortfall scenario."""
    out = reports[name]
    for file in ("report.md", "report.html", "report.json", "timings.json", "shortfall_scenario.yaml"):
        assert (out / file).is_file(), file
    for plot in PLOTS:
        assert (out / "plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["run-001.json", "run-002.json", "run-003.json"]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    figures = report["figures"]
    assert report["drill"]["runs"] == 3 and report["drill"]["date"] == DATE
    assert 0 < figures["people_out"]["min"] <= figures["people_out"]["mean"] <= figures["people_total"]
    assert len(figures["clearance_minute"]["values"]) == 3
    assert set(figures["coverage_by_priority"]) == {"1", "2", "3"}
    text = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## The answer", "## Key figures", "## Who is at risk", "## Shortfall advice", "## Route test",
                    "## Since last time", "## Contact lists"):
        assert heading in text
    assert "data:image/png;base64," in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BUNDLED)
def test_contact_lists_are_marked_with_the_drill_date(reports: dict[str, Path], name: str) -> None:
    """Per driver their households, per household their driver; CSV rows and vCards carry the date."""
    contacts = reports[name] / "contacts"
    with (contacts / "drivers.csv").open(encoding="utf-8") as f:
        drivers = list(csv.DictReader(f))
    with (contacts / "households.csv").open(encoding="utf-8") as f:
        households = list(csv.DictReader(f))
    assert drivers and all(row["drill_date"] == DATE for row in drivers + households)
    served = {row["household_id"] for row in drivers}
    assert {row["household_id"] for row in households if row["driver_id"]} == served
    card = next((contacts / "drivers").glob("*.vcf")).read_bytes().decode("utf-8")
    assert card.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert f"CATEGORIES:Evacuation drill {DATE}" in card
    assert len(list((contacts / "households").glob("*.vcf"))) == len(served)


@pytest.mark.parametrize("name", BUNDLED)
def test_drill_writes_the_messages_people_would_get(reports: dict[str, Path], name: str) -> None:
    """The log channel: one message per served household (its driver and window, never its needs), one per driver
    with pickups, and "help is being arranged" for each unserved household; counted in the report."""
    out = reports[name]
    with (out / "contacts" / "drivers.csv").open(encoding="utf-8") as f:
        drivers = list(csv.DictReader(f))
    lines = [json.loads(line) for line in (out / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    households = [m for m in lines if m["template"] == "household_assigned"]
    assert {m["to"] for m in households} == {row["household_id"] for row in drivers}
    assert {m["to"] for m in lines if m["template"] == "driver_plan"} == {row["driver_id"] for row in drivers}
    needs = {n for row in drivers for n in row["needs"].split(";") if n}
    assert all(n not in m["body"] for m in lines for n in needs)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["files"]["messages"]["count"] == len(lines)
    assert "messages.jsonl" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BUNDLED)
def test_same_seed_same_report_on_any_number_of_workers(first_report_json: dict[str, str], tmp_path: Path,
                                                        name: str) -> None:
    """Each bundled drill on a local Dask cluster of 2 worker processes (on 127.0.0.1, each with its own hash seed)
    gives byte for byte the report made in one process: every search is cut by work or by the CPU safety stop,
    never by a wall clock (``matcher/solver/safety.py``)."""
    run_cli(str(DRILLS / f"{name}.yaml"), "--runs", "3", "--workers", "2", "--out", str(tmp_path), "--date", DATE)
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert json.loads(text)["figures"]["replans"]["safety_stopped"] == 0
    assert text == first_report_json[name]
    timings = json.loads((tmp_path / "timings.json").read_text(encoding="utf-8"))
    assert timings["workers"] == 2 and timings["replans"] > 0


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_drill_repeats_exactly(first_report_json: dict[str, str], tmp_path: Path, name: str) -> None:
    """The same drill file, seed and run count give byte for byte the same report.json on a second run in this
    process: re-plans spend a work budget, and the clock's far safety stop was never reached."""
    run_cli(str(DRILLS / f"{name}.yaml"), "--runs", "3", "--workers", "0", "--out", str(tmp_path), "--date", DATE)
    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert json.loads(text)["figures"]["replans"]["safety_stopped"] == 0
    assert text == first_report_json[name]


def test_a_second_report_in_the_folder_is_compared(reports: dict[str, Path], first_report_json: dict[str, str]) -> None:
    """Run the drill again into the same folder with another seed: the report says better or worse, by how much."""
    out = reports["storm_night"]
    run_cli(str(DRILLS / "storm_night.yaml"), "--runs", "3", "--workers", "0", "--out", str(out), "--date", DATE,
            "--seed", "99")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    comparison = report["comparison"]
    assert comparison["previous_date"] == DATE and comparison["previous_seed"] != report["drill"]["seed"]
    rows = {r["measure"]: r for r in comparison["rows"]}
    people = rows["people out by the deadline (mean)"]
    assert people["change"] == pytest.approx(people["now"] - people["before"], abs=0.01)
    assert people["verdict"] == ("same" if people["change"] == 0 else "better" if people["change"] > 0 else "worse")
    assert json.loads((out / "history" / f"report-{DATE}-1.json").read_text(encoding="utf-8")) == \
        json.loads(first_report_json["storm_night"])
    assert "Since the previous drill" in (out / "report.md").read_text(encoding="utf-8")
