"""Compare a drill report with the previous one of the same drill in the same folder: better or worse, how much."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

#: (label, path into the report, True when higher is better)
MEASURES: list[tuple[str, tuple[str, ...], bool]] = [
    ("people out by the deadline (mean)", ("figures", "people_out", "mean"), True),
    ("people out by the deadline (worst)", ("figures", "people_out", "min"), True),
    ("households out by the deadline (mean)", ("figures", "households_out", "mean"), True),
    ("households at risk", ("summary", "at_risk"), False),
    ("clearance minute (median)", ("figures", "clearance_minute", "median"), False),
    ("clearance minute (worst)", ("figures", "clearance_minute", "max"), False),
    ("priority 1 coverage (mean)", ("figures", "coverage_by_priority", "1", "mean"), True),
    ("cars to add (advice)", ("summary", "cars_to_add"), False),
]


def _get(report: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = report
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


def previous_report(out: Path, key: str) -> dict[str, Any] | None:
    """The report.json already in ``out`` when it is of the same drill, else ``None``."""
    path = out / "report.json"
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return old if isinstance(old, dict) and old.get("drill", {}).get("key") == key else None


def archive(out: Path) -> None:
    """Keep the report being replaced under history/ (by its drill date), so each month stays readable."""
    path = out / "report.json"
    if not path.is_file():
        return
    try:
        date = json.loads(path.read_text(encoding="utf-8")).get("drill", {}).get("date", "undated")
    except ValueError:
        date = "unreadable"
    (out / "history").mkdir(exist_ok=True)
    n = 1
    while (target := out / "history" / f"report-{date}-{n}.json").exists():
        n += 1
    shutil.copyfile(path, target)


def compare(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """Each measure before and now, the change, and whether that is better."""
    if old is None:
        return None
    rows = []
    for label, path, higher_better in MEASURES:
        before, now = _get(old, path), _get(new, path)
        if before is None or now is None:
            continue
        change = round(now - before, 2)
        verdict = "same" if abs(change) < 1e-9 else "better" if (change > 0) == higher_better else "worse"
        rows.append({"measure": label, "before": before, "now": now, "change": change, "verdict": verdict})
    return {"previous_date": old.get("drill", {}).get("date"), "previous_seed": old.get("drill", {}).get("seed"),
            "previous_runs": old.get("drill", {}).get("runs"), "rows": rows,
            "better": sum(r["verdict"] == "better" for r in rows), "worse": sum(r["verdict"] == "worse" for r in rows)}
