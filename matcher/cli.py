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
) -> None:
    """Solve a scenario: print a summary, optionally write the plan, its GeoJSON and the matrix."""
    from matcher.check import check_plan
    from matcher.scenario import load_scenario
    from matcher.solver import SolveParams, solve
    from matcher.summary import format_summary

    settings = get_settings()
    try:
        started = time.perf_counter()
        loaded = load_scenario(scenario, settings, _say)
        _say(f"problem ready in {time.perf_counter() - started:.1f} s")
        if matrix_out is not None:
            _write_json(matrix_out, export_matrix(loaded.problem))
            _say(f"matrix written to {matrix_out}")
        limit = settings.time_limit_seconds if time_limit is None else time_limit
        result = solve(loaded.problem, SolveParams(time_limit_seconds=limit, seed=seed), _say)
        violations = check_plan(loaded.problem, result, loaded.graph, loaded.closed_mask)
        if violations:
            for v in violations[:20]:
                _say(f"plan check: {v}")
            raise SolverError(f"the plan failed its check ({len(violations)} violations); this is a bug")
        _say("plan check: ok")
        if out is not None:
            _write_json(out, result.to_dict())
            _say(f"plan written to {out}")
        if geojson is not None:
            _write_json(geojson, plan_to_geojson(result, loaded.problem))
            _say(f"GeoJSON written to {geojson}")
        typer.echo(format_summary(result, loaded.problem))
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
