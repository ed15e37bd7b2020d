"""The report's pictures (matplotlib, no tile server): people out over time, coverage by priority, clearance, map."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: a drill runs on servers without a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from shapely.geometry import shape

from matcher.plan import Plan
from matcher.scenario import Scenario

DPI = 110


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    # No timestamp in the file: the same figures give the same picture.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path.name


def people_over_time(figures: dict[str, Any], path: Path) -> str:
    """Cumulative people at a shelter: median line, 10-90% band and the min-max band across replications."""
    c = figures["curve"]
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    x = c["minutes"]
    ax.fill_between(x, c["min"], c["max"], color="#9ecae1", alpha=0.5, label="all replications")
    ax.fill_between(x, c["p10"], c["p90"], color="#4292c6", alpha=0.6, label="middle 80%")
    ax.plot(x, c["median"], color="#08306b", lw=2, label="median")
    ax.axvline(figures["deadline"], color="#cb181d", ls="--", lw=1.2, label="deadline")
    ax.axhline(figures["people_total"], color="#525252", ls=":", lw=1, label="everyone registered")
    ax.set_xlabel("minutes after the alert")
    ax.set_ylabel("people at a shelter")
    ax.set_title("People evacuated over time")
    ax.set_ylim(0, figures["people_total"] * 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def coverage_by_priority(figures: dict[str, Any], path: Path) -> str:
    """Share of households out by the deadline per priority: mean bar, worst replication as a marker."""
    cov = figures["coverage_by_priority"]
    keys = list(cov)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    means = [100 * cov[k]["mean"] for k in keys]
    worst = [100 * cov[k]["min"] for k in keys]
    bars = ax.bar([f"priority {k}\n({cov[k]['households']} households)" for k in keys], means, color="#41ab5d")
    ax.scatter(range(len(keys)), worst, color="#cb181d", zorder=3, marker="_", s=600, label="worst replication")
    for bar, m in zip(bars, means, strict=True):
        # Inside the bar, clear of the worst-replication marker that sits just below its top.
        ax.text(bar.get_x() + bar.get_width() / 2, max(m / 2, 3), f"{m:.0f}%", ha="center", fontsize=10,
                color="white", fontweight="bold")
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of households out by the deadline")
    ax.set_title("Coverage by priority (1 = most urgent)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def clearance(figures: dict[str, Any], path: Path) -> str:
    """Histogram of the minute the last household reached a shelter."""
    values = figures["clearance_minute"]["values"]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.hist(values, bins=min(20, max(5, len(values) // 2)), color="#6baed6", edgecolor="white")
    ax.axvline(figures["deadline"], color="#cb181d", ls="--", lw=1.2, label="deadline")
    ax.set_xlabel("minute the last household reached a shelter")
    ax.set_ylabel("replications")
    ax.set_title("Clearance time")
    ax.legend(fontsize=8)
    return _save(fig, path)


def route_map(base: Scenario, final: Scenario, plan: Plan, at_risk: set[str], path: Path) -> str:
    """The roads of the map itself, the drill's closures and flood zones, the planned routes, who is at risk."""
    g = base.graph
    lat0 = float(np.mean(g.lat))
    fig, ax = plt.subplots(figsize=(8.0, 8.0))
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    segments = [np.column_stack((g.lon[g.edge_nodes(e)], g.lat[g.edge_nodes(e)])) for e in range(g.edge_count)]
    ax.add_collection(LineCollection(segments, colors="#bdbdbd", linewidths=0.8, zorder=1))
    newly = np.flatnonzero(final.closures.closed & ~base.closures.closed)
    if len(newly):
        ax.add_collection(LineCollection([segments[e] for e in newly], colors="#cb181d", linewidths=2.2, zorder=4,
                                         label="closed in the drill"))
    for zones, color, label in ((base.problem.alert.flood_zones, "#6baed6", "flood zone at the alert"),
                                (final.problem.alert.flood_zones[len(base.problem.alert.flood_zones):], "#2171b5",
                                 "flood zone in the drill")):
        for k, zone in enumerate(zones):
            geom = shape(zone)
            for poly in getattr(geom, "geoms", [geom]):
                x, y = poly.exterior.xy
                ax.fill(x, y, color=color, alpha=0.3, zorder=2, label=label if k == 0 else None)
    cmap = plt.get_cmap("tab20")
    for k, route in enumerate(plan.routes):
        lines = [np.asarray(leg.coordinates) for leg in route.legs if len(leg.coordinates) > 1]
        if lines:
            ax.add_collection(LineCollection(lines, colors=[cmap(k % 20)], linewidths=1.2, alpha=0.8, zorder=3))
    p = final.problem
    ok = [h for h in p.households if h.id not in at_risk]
    risk = [h for h in p.households if h.id in at_risk]
    ax.scatter([h.lon for h in ok], [h.lat for h in ok], s=8, color="#238b45", zorder=5, label="household")
    ax.scatter([h.lon for h in risk], [h.lat for h in risk], s=40, color="#cb181d", marker="x", zorder=6,
               label="household at risk")
    ax.scatter([s.lon for s in p.shelters], [s.lat for s in p.shelters], s=90, color="black", marker="s", zorder=7,
               label="shelter")
    for s in p.shelters:
        ax.annotate(s.name or s.id, (s.lon, s.lat), textcoords="offset points", xytext=(6, 6), fontsize=8, zorder=8)
    ax.set_xlim(float(g.lon.min()) - 0.001, float(g.lon.max()) + 0.001)
    ax.set_ylim(float(g.lat.min()) - 0.0005, float(g.lat.max()) + 0.0005)
    ax.set_title("Planned routes on the town's roads")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
    return _save(fig, path)
