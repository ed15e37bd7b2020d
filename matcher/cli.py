"""The ``evac`` command line: progress on stderr, results on stdout, one-line errors with stable exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from matcher.errors import EvacError, SolverError
from matcher.geojson import plan_to_geojson
from matcher.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evacuation ride-share matcher.")


@app.callback()
def main() -> None:
    """Plan evacuations: match volunteer drivers to households who cannot leave on their own."""


def _say(message: str) -> None:
    typer.echo(f"[evac] {message}", err=True)


def _write_json(path: Path, data: Any) -> None:
    """Write through a temporary file so a crash never leaves half a file behind."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False), encoding="utf-8")
    tmp.replace(path)


def export_matrix(problem: Any) -> dict[str, Any]:
    """Travel minutes among all locations, ``null`` where unreachable, in the order of ``locations``."""
    minutes = problem.travel.minutes
    rows = np.where(np.isfinite(minutes), np.round(minutes, 3), np.nan).tolist()
    return {
        "locations": [{"kind": ref.kind, "id": ref.id} for ref in problem.travel.locations],
        "minutes": [[None if v != v else v for v in row] for row in rows],
    }


def _bar(done: int, total: int) -> None:
    """A progress bar of zones solved, one line per zone (stderr is often a log, not a terminal)."""
    width = 20
    filled = round(width * done / max(total, 1))
    _say(f"zones [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")


def _check_or_exit(problem: Any, result: Any, graph: Any, closed: Any) -> None:
    from matcher.check import check_plan

    violations = check_plan(problem, result, graph, closed)
    if violations:
        for v in violations[:20]:
            _say(f"plan check: {v}")
        raise SolverError(f"the plan failed its check ({len(violations)} violations); this is a bug")
    _say("plan check: ok")


def _solve_regional(scenario: Path, data: dict[str, Any], zones: Path | None, scheduler: str | None,
                    workers: int | None, limit: float, seed: int, settings: Any) -> tuple[Any, Any, Any, Any]:
    """Load, zone and solve a scenario by zones; the cluster starts while the travel times are computed."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    from matcher.cluster import executor_for
    from matcher.region import RegionParams, region_from_dict, solve_region
    from matcher.roads.load import load_road_graph
    from matcher.scenario import records_of, resolve_map
    from matcher.zones import read_zones_file

    records_of(data)  # bad records fail before the map or the cluster is touched
    zones_file = read_zones_file(zones) if zones is not None else None
    map_path = resolve_map(data, scenario.parent.resolve())
    n_workers = settings.dask_workers if workers is None else workers
    address = scheduler or settings.dask_scheduler
    stack = ExitStack()
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(lambda: stack.enter_context(executor_for(n_workers, address)))
        try:
            _say(f"loading map {map_path.name}")
            graph = load_road_graph(map_path, settings.cache_dir)
            params = RegionParams(time_limit_seconds=limit, seed=seed, zone_households=settings.zone_households)
            region = region_from_dict(data, graph, zones_file=zones_file, params=params, settings=settings,
                                      progress=_say)
            executor = starting.result()
            result = solve_region(region, params, executor, _say, _bar)
        finally:
            starting.exception()  # wait for the cluster to be up (or failed) before closing it
            stack.close()
    return region.problem, result, graph, region.closures.closed if region.closures else None


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan JSON here.")] = None,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write the plan as GeoJSON here.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Solver time limit, seconds.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed and limit, same plan.")] = 0,
    matrix_out: Annotated[
        Path | None, typer.Option("--export-matrix", help="Write the travel-time matrix JSON here.")
    ] = None,
    zones: Annotated[
        Path | None, typer.Option("--zones", help="Zones GeoJSON (named polygons): plan by these zones.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address for zone solves (else a local "
                                 "cluster; also EVAC_DASK_SCHEDULER).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Local Dask workers for zone solves (0: in this process).")
    ] = None,
    regional: Annotated[
        bool | None, typer.Option("--regional/--single", help="Plan by zones, or as one problem (default: by "
                                  "zones when zones are given or the problem is large).")
    ] = None,
) -> None:
    """Solve a scenario: print a summary, optionally write the plan, its GeoJSON and the matrix."""
    from matcher.scenario import load_scenario, read_scenario_file
    from matcher.solver import SolveParams, solve
    from matcher.summary import format_summary

    settings = get_settings()
    try:
        started = time.perf_counter()
        limit = settings.time_limit_seconds if time_limit is None else time_limit
        data = read_scenario_file(scenario)
        if regional is None:
            listed = data.get("households")
            households: list[Any] = listed if isinstance(listed, list) else []
            zoned = any(isinstance(h, dict) and h.get("zone") for h in households)
            regional = zones is not None or zoned or len(households) > settings.region_min_households
        if regional:
            problem, result, graph, closed = _solve_regional(scenario, data, zones, scheduler, workers, limit, seed,
                                                             settings)
        else:
            loaded = load_scenario(scenario, settings, _say)
            _say(f"problem ready in {time.perf_counter() - started:.1f} s")
            problem, graph, closed = loaded.problem, loaded.graph, loaded.closed_mask
            result = solve(problem, SolveParams(time_limit_seconds=limit, seed=seed), _say)
        if matrix_out is not None:
            _write_json(matrix_out, export_matrix(problem))
            _say(f"matrix written to {matrix_out}")
        _check_or_exit(problem, result, graph, closed)
        if out is not None:
            _write_json(out, result.to_dict())
            _say(f"plan written to {out}")
        if geojson is not None:
            _write_json(geojson, plan_to_geojson(result, problem))
            _say(f"GeoJSON written to {geojson}")
        typer.echo(format_summary(result, problem))
    except EvacError as exc:
        _say(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None


#: Entry-point group through which other packages add commands (the service adds serve, db, admin, worker).
PLUGIN_GROUP = "evac.commands"


def load_plugins(target: typer.Typer, group: str = PLUGIN_GROUP) -> list[str]:
    """Add every command or Typer sub-app registered under ``group``; their names, in order.

    A plugin that fails to load is reported on stderr and skipped, so a broken add-on never stops ``evac plan``.
    The matcher knows no plugin by name: it stays free of the service.
    """
    from importlib.metadata import entry_points

    added: list[str] = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            obj = entry.load()
        except Exception as exc:  # any import failure of an add-on, whatever it is
            _say(f"warning: command {entry.name!r} ({entry.value}) not loaded: {type(exc).__name__}: {exc}")
            continue
        if isinstance(obj, typer.Typer):
            target.add_typer(obj, name=entry.name)
        elif callable(obj):
            target.command(name=entry.name)(obj)
        else:
            _say(f"warning: command {entry.name!r} ({entry.value}) is neither a Typer app nor a function")
            continue
        added.append(entry.name)
    return added


load_plugins(app)


if __name__ == "__main__":  # pragma: no cover
    app()
