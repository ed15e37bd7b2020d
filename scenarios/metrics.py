"""Figures across replications: people out by the deadline, clearance, coverage by priority, households at risk.

Everything here is a function of the replication records alone, so the same seed gives the same figures;
wall-clock seconds (re-plan times) are kept apart in :func:`timings`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.codes import UNSERVED_TEXTS, UnservedCode
from matcher.needs import Need

KNOWN_NEEDS = frozenset(n.value for n in Need)

#: A household served in fewer than this share of the replications it was at home for is "at risk".
AT_RISK_BELOW = 0.95
#: Minutes between points of the people-out curve.
CURVE_STEP = 1.0

#: Words for a household's outcome in a replication: the drill's own outcomes, then the unserved codes' summaries.
STATUS_TEXT = {
    "late": "reached the shelter after the deadline: the roads were slower than planned",
    "stuck": "on board of a car that the water cut off on its way to the shelter",
    "not_reached": "still waiting when the simulation ended",
    **{str(code): text.summary for code, text in UNSERVED_TEXTS.items()},
}


@dataclass(frozen=True)
class HouseholdInfo:
    """What the figures need to know of a household."""

    id: str
    name: str
    people: int
    priority: int
    wheelchair_users: int
    needs: tuple[str, ...] = ()
    pets: int = 0

    def need_labels(self) -> list[str]:
        """The needs the at-risk table groups by: known needs, ``other needs``, ``pets``, ``wheelchair``."""
        labels = [n for n in self.needs if n in KNOWN_NEEDS]
        if any(n not in KNOWN_NEEDS for n in self.needs):
            labels.append("other needs")
        if self.pets:
            labels.append("pets")
        if self.wheelchair_users:
            labels.append("wheelchair")
        return labels or ["none"]


def _r(value: Any, digits: int = 2) -> float:
    return round(float(value), digits)


def _spread(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    if not len(a):
        return {"mean": 0.0, "min": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0}
    return {"mean": _r(a.mean(), digits), "min": _r(a.min(), digits), "median": _r(np.median(a), digits),
            "p90": _r(np.quantile(a, 0.9), digits), "max": _r(a.max(), digits)}


def _curve(runs: list[dict[str, Any]], deadline: float) -> dict[str, Any]:
    """Cumulative people at a shelter, minute by minute, across replications."""
    last = max([deadline] + [m for run in runs for m, _ in run["deliveries"]])
    grid = np.arange(0.0, np.ceil(last / CURVE_STEP) * CURVE_STEP + CURVE_STEP / 2, CURVE_STEP)
    rows = []
    for run in runs:
        times = np.array([m for m, _ in run["deliveries"]], dtype=float)
        people = np.cumsum([p for _, p in run["deliveries"]]) if len(times) else np.zeros(0)
        idx = np.searchsorted(times, grid, side="right")
        rows.append(np.where(idx > 0, people[np.maximum(idx - 1, 0)] if len(people) else 0, 0))
    block = np.asarray(rows, dtype=float)
    return {"minutes": grid.round(2).tolist(),
            **{name: np.quantile(block, q, axis=0).round(2).tolist()
               for name, q in (("min", 0.0), ("p10", 0.1), ("median", 0.5), ("p90", 0.9), ("max", 1.0))}}


def _at_risk(runs: list[dict[str, Any]], households: list[HouseholdInfo]) -> list[dict[str, Any]]:
    out = []
    for h in households:
        outcomes = [run["households"][h.id]["status"] for run in runs if h.id in run["households"]]
        home = [s for s in outcomes if s != UnservedCode.NO_SHOW]
        served = sum(1 for s in home if s == "served")
        share = served / len(home) if home else 0.0
        if share >= AT_RISK_BELOW and home:
            continue
        # The reason is the commonest miss while they were at home; being away is a reason only if it is all.
        misses = Counter(s for s in home if s != "served") or Counter(s for s in outcomes if s != "served")
        code = sorted(misses.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if misses else UnservedCode.NO_SHOW
        texts = Counter(run["reasons"].get(h.id, "") for run in runs
                        if run["households"].get(h.id, {}).get("status") == code)
        reason = max(sorted(texts), key=lambda t: texts[t]) if any(texts) else ""
        out.append({"household": h.id, "name": h.name, "priority": h.priority, "people": h.people,
                    "wheelchair_users": h.wheelchair_users, "needs": h.need_labels(),
                    "served_share": _r(share, 3), "runs_at_home": len(home),
                    "reason_code": code, "reason": reason or STATUS_TEXT.get(code, code)})
    return sorted(out, key=lambda r: (r["served_share"], r["priority"], r["household"]))


def _at_risk_by_need(at_risk: list[dict[str, Any]], households: list[HouseholdInfo]) -> dict[str, dict[str, int]]:
    """Per need: households with it, and how many of them are at risk (a household counts under each need)."""
    out: dict[str, dict[str, int]] = {}
    risky = {r["household"] for r in at_risk}
    for h in households:
        for label in h.need_labels():
            row = out.setdefault(label, {"households": 0, "at_risk": 0})
            row["households"] += 1
            row["at_risk"] += h.id in risky
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["at_risk"], kv[0])))


def _latest_pickup(runs: list[dict[str, Any]], households: list[HouseholdInfo]) -> dict[str, dict[str, float]]:
    """Per priority: the latest pickup minute of each replication, spread across replications."""
    out: dict[str, dict[str, float]] = {}
    for p in sorted({h.priority for h in households}):
        members = [h.id for h in households if h.priority == p]
        latest = [max(picked) for run in runs
                  if (picked := [run["households"][hid].get("picked_up") for hid in members
                                 if run["households"].get(hid, {}).get("picked_up") is not None])]
        if latest:
            out[str(p)] = _spread(latest)
    return out


def summarise(runs: list[dict[str, Any]], households: list[HouseholdInfo], deadline: float) -> dict[str, Any]:
    """Every figure of the report that does not depend on the machine."""
    people_total = sum(h.people for h in households)
    by_id = {h.id: h for h in households}
    people_out, households_out, clearance, longest = [], [], [], []
    for run in runs:
        served = [hid for hid, rec in run["households"].items() if rec["status"] == "served"]
        people_out.append(sum(by_id[hid].people for hid in served))
        households_out.append(len(served))
        clearance.append(max((m for m, _ in run["deliveries"]), default=0.0))
        longest.append(max((rec["ride"] or 0.0 for rec in run["households"].values()), default=0.0))
    coverage: dict[str, Any] = {}
    for p in sorted({h.priority for h in households}):
        members = [h.id for h in households if h.priority == p]
        shares = []
        for run in runs:
            home = [hid for hid in members if run["households"][hid]["status"] != UnservedCode.NO_SHOW]
            if home:  # a replication where all of them were away says nothing about their coverage
                shares.append(sum(run["households"][hid]["status"] == "served" for hid in home) / len(home))
        shares = shares or [1.0]
        coverage[str(p)] = {"households": len(members), "mean": _r(np.mean(shares), 4), "min": _r(min(shares), 4)}
    statuses: Counter[str] = Counter(rec["status"] for run in runs for rec in run["households"].values())
    at_risk = _at_risk(runs, households)
    replans = [rp for run in runs for rp in run["replans"]]
    triggers: Counter[str] = Counter(rp["trigger"] for rp in replans)
    drivers = sorted({d for run in runs for d in run["drivers"]})
    use = {d: float(np.mean([run["drivers"][d]["busy"] / max(1e-9, run["drivers"][d]["window"]) for run in runs]))
           for d in drivers}
    return {
        "households_total": len(households), "people_total": people_total, "deadline": deadline,
        "people_out": _spread(people_out), "households_out": _spread(households_out),
        "clearance_minute": {**_spread(clearance), "values": [_r(c) for c in clearance]},
        "runs_cleared_by_deadline": sum(c <= deadline for c in clearance),
        "longest_on_board_minutes": _spread(longest),
        "coverage_by_priority": coverage,
        "outcomes_per_run": {k: _r(v / len(runs)) for k, v in sorted(statuses.items())},
        "replans": {"per_run": _spread([len(run["replans"]) for run in runs]),
                    "by_trigger": {k: _r(v / len(runs)) for k, v in sorted(triggers.items())},
                    "stability_mean": _r(np.mean([rp["stability"] for rp in replans]) if replans else 1.0, 3),
                    "moved_per_replan": _r(np.mean([rp["reassigned"] for rp in replans]) if replans else 0.0),
                    # Re-plans the clock's far safety stop cut short: 0 unless the machine was far too slow,
                    # and then these figures may not repeat for the same seed.
                    "safety_stopped": sum(bool(rp.get("safety_stopped")) for rp in replans)},
        "driver_utilisation": {"mean": _r(np.mean(list(use.values())) if use else 0.0, 3),
                               "busiest": [[d, _r(u, 3)] for d, u in sorted(use.items(), key=lambda kv: -kv[1])[:5]],
                               "idle": sorted(d for d, u in use.items() if u == 0.0)},
        "curve": _curve(runs, deadline),
        "at_risk": at_risk,
        "at_risk_by_need": _at_risk_by_need(at_risk, households),
        "latest_pickup_by_priority": _latest_pickup(runs, households),
    }


def timings(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Wall-clock figures (they differ from machine to machine, so they stay out of the reproducible report)."""
    replans = [rp for run in runs for rp in run["replans"]]
    by_trigger: dict[str, list[float]] = {}
    for rp in replans:
        by_trigger.setdefault(rp["trigger"], []).append(rp["seconds"])
    seconds = [rp["seconds"] for rp in replans]
    return {"replans": len(replans), "replans_improved": sum(rp["improve"] for rp in replans),
            # Such a re-plan was cut by the clock, so its replication may not repeat exactly.
            "replans_safety_stopped": sum(bool(rp.get("safety_stopped")) for rp in replans),
            "replan_seconds": _spread(seconds, 3) | {"p95": _r(np.quantile(seconds, 0.95), 3) if seconds else 0.0},
            "replan_seconds_by_trigger": {k: _spread(v, 3) for k, v in sorted(by_trigger.items())}}
