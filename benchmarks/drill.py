"""Drill benchmark: ``evac drill`` on a bundled drill, timed end to end as a coordinator runs it.

    python -m benchmarks.drill [--drill scenarios/drills/storm_night.yaml] [--runs 50] [--workers 2] [--out DIR]

The target (issue 4): 50 replications of the bundled drill, re-plans included, on 2 cores in at most 60 s.
The command runs in a child process, so the figure includes starting Python, the Dask cluster, the
shortfall advice and writing the report. The load average is printed beside it: on a shared machine
other work slows the drill down, and the figure should be read with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
DEFAULT_DRILL = Path(__file__).parents[1] / "scenarios" / "drills" / "storm_night.yaml"


def _children_cpu() -> float:
    """User and system seconds of finished child processes (the Dask workers are the command's children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drill", type=Path, default=DEFAULT_DRILL)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: a temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="drill-bench-"))
    command = [sys.executable, "-m", "matcher.cli", "drill", str(args.drill), "--runs", str(args.runs),
               "--workers", str(args.workers), "--out", str(out)]
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    times = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rs = times["replan_seconds"]
    print(f"drill            {args.drill.name}, {args.runs} replications, {args.workers} workers, "
          f"{os.cpu_count()} cores")
    verdict = "met" if wall <= TARGET_SECONDS else "NOT met"
    print(f"wall clock       {wall:.1f} s end to end (target <= {TARGET_SECONDS:.0f} s: {verdict}); "
          f"replications + advice {times['replications_seconds']:.1f} s")
    print(f"re-plans         {times['replans']} ({times['replans'] / args.runs:.1f} per replication, "
          f"{times['replans_improved']} improved after the repair), mean {rs['mean']:.3f} s, p95 {rs['p95']:.3f} s, "
          f"max {rs['max']:.3f} s; safety stop reached: {times['replans_safety_stopped']}")
    print(f"CPU              {cpu:.1f} s in all processes (the command, its Dask workers): what a quiet machine needs, "
          f"over {os.cpu_count()} cores")
    print(f"load average     {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (1 minute)")
    print(f"people out       {report['figures']['people_out']['mean']:.0f} of {report['figures']['people_total']} "
          f"on average; report in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
