"""``evac drill``: rehearse an evacuation and write the report (an ``evac.commands`` entry point)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_OUT = Path("drill-report")


def _say(message: str) -> None:
    typer.echo(f"[evac] {message}", err=True)


def _date(value: str | None) -> str:
    when = value or dt.date.today().isoformat()
    try:
        return dt.date.fromisoformat(when).isoformat()
    except ValueError:
        _say(f"error: --date: {when!r} is not a date like 2026-10-01")
        raise typer.Exit(2) from None


def drill(
    scenario: Annotated[Path | None, typer.Argument(
        help="Drill file: a scenario with a drill: block (.yaml or .json). Not with --from-service.")] = None,
    runs: Annotated[int | None, typer.Option("--runs", min=1, help="Replications (default: the file's).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Report folder; an earlier report there is compared.")] = (
        DEFAULT_OUT),
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Drill seed (default: the file's); same seed, same report.")
                    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Local Dask worker processes; 0 runs here.")] = 2,
    date: Annotated[str | None, typer.Option("--date", help="Drill date on the report and contacts (YYYY-MM-DD).")
                    ] = None,
    from_service: Annotated[bool, typer.Option(
        "--from-service", help="Drill the town as registered in the service's database (EVAC_* settings): its "
                               "households, cars and shelters, an alert's flood zone and closures, scripted events.")
                            ] = False,
    alert: Annotated[int | None, typer.Option("--alert", min=1, help="With --from-service: the alert to rehearse "
                                                                      "(default: the newest).")] = None,
) -> None:
    """Rehearse an evacuation: run the drill's replications and write the report a coordinator reads."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from matcher.errors import EvacError
    from scenarios.metrics import timings
    from scenarios.report import build_report, write_report
    from scenarios.routetest import route_test
    from scenarios.runner import make_payload, run_drill
    from scenarios.spec import drill_from_dict, load_drill
    from scenarios.world import DrillContext

    started = time.perf_counter()
    if (scenario is None) == (not from_service):
        _say("error: give a drill file, or --from-service to drill the town as registered in the service")
        raise typer.Exit(2)
    try:
        if from_service:
            from api.drills import service_drill_data

            data = service_drill_data(alert, runs or 5, seed or 0, _date(date))
            spec = drill_from_dict(data, base=Path(data["map"]).parent)
        else:
            assert scenario is not None
            spec = load_drill(scenario)
        spec = dataclasses.replace(spec, runs=runs or spec.runs, seed=spec.seed if seed is None else seed)
        when = _date(date or spec.date)
        _say(f"drill {spec.name!r}: {spec.runs} replications, seed {spec.seed}")
        ctx = DrillContext(spec)
        # The first plan's safety stop counts this process's CPU seconds (``DrillSpec.params``), so its use is
        # measured on the same clock: seconds on the wall clock grow with the machine's load, CPU seconds do not.
        cpu = time.process_time()
        _ = ctx.base_plan
        first_plan_cpu = time.process_time() - cpu
        if first_plan_cpu >= 0.9 * spec.safety_stop_seconds:
            _say(f"warning: the first plan took {first_plan_cpu:.1f} CPU seconds, at the drill's safety stop "
                 f"({spec.safety_stop_seconds:g} CPU seconds), so this report may not repeat exactly for the same "
                 "seed; raise safety_stop_seconds")
        columns = (TextColumn("[evac] replications"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("runs", total=spec.runs)
            result = run_drill(make_payload(spec, ctx.map_path), workers=workers, scheduler=scheduler, ctx=ctx,
                               progress=lambda done, _total: bar.update(task, completed=done))
        where = f"{result.workers} Dask workers" if result.workers else "this process"
        _say(f"{spec.runs} replications and the shortfall advice in {result.seconds:.1f} s on {where}")
        report = build_report(ctx, result.runs, result.advice, route_test(ctx), when)
        times = timings(result.runs) | {"replications_seconds": round(result.seconds, 2), "workers": result.workers}
        paths = write_report(out, ctx, report, result.runs, times)
    except EvacError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:  # a scheduler that cannot be reached, an output folder that cannot be written
        _say(f"error: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    times["total_seconds"] = round(time.perf_counter() - started, 2)
    paths["timings"].write_text(json.dumps(times, indent=1, sort_keys=True) + "\n", "utf-8")
    if times["replans_safety_stopped"]:
        _say(f"warning: {times['replans_safety_stopped']} re-plans reached the drill's safety stop "
             f"({spec.safety_stop_seconds:g} s; a machine far too slow): their replications may not repeat exactly")
    f, adv = report["figures"], report["shortfall"]
    typer.echo(f"Drill {spec.name}: {f['people_out']['mean']:.0f} of {f['people_total']} people out by the deadline "
               f"on average (worst {f['people_out']['min']:.0f}); {report['summary']['at_risk']} households at risk; "
               f"suggested: {adv['cars']} cars, {adv['wheelchair_vans']} wheelchair vans")
    typer.echo(f"Report: {paths['md']} and {paths['html']} (figures in {paths['json']})")
    _say(f"done in {times['total_seconds']:.1f} s")
