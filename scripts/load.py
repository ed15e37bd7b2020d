#!/usr/bin/env python
"""Load test of registration: N signed-in clients register households and vehicles for S seconds, then every
registration the server accepted is looked for through the API: nothing may be lost or stored twice.

By default it starts its own ``evac serve`` on a free loopback port, on a new SQLite file or a new PostgreSQL
database (dropped afterwards), with a coordinator made by ``evac admin create-coordinator``; ``--url`` targets a
server already running on this machine instead (loopback only). Half the clients are volunteers who sign up and
register vehicles, half are registrars (made by the coordinator) who register households. Sign-ups and sign-ins
hash passwords (argon2, slow on purpose): they happen before the timed phase and are reported apart.

    python scripts/load.py --backend sqlite                      # 200 clients, 60 s, as fast as they can
    python scripts/load.py --backend postgresql --workers 2 --rate 300
    python scripts/load.py --clients 20 --seconds 3 --json out.json

``--rate R`` paces the clients to R registrations/s in all (each client one request at a time, on a fixed
schedule); ``--rate 0`` (the default) sends each client's next request as soon as the last one is answered, which
measures capacity (and then, by Little's law, latency is about clients / throughput). Exit status 0 when nothing
was lost or duplicated and no request failed, 1 otherwise, 2 when the run could not be set up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "kotka_storm.yaml"
DEFAULT_POSTGRES = os.environ.get("EVAC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "load-test-password"
PAGE = 1000


def say(message: str) -> None:
    sys.stderr.write(f"[load] {message}\n")
    sys.stderr.flush()


class SetupError(Exception):
    """The run could not start (server, database, accounts): exit status 2."""


class CountError(Exception):
    """The rows could not be counted after the timed phase (the server stopped answering): exit status 1."""


# --- the server under test -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SetupError(f"{url}: only servers on this machine's loopback (127.0.0.0/8, ::1, localhost) are targets")


def evac_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "matcher.cli", *args]


def _libpq(url: str) -> str:
    """A SQLAlchemy-style PostgreSQL URL as libpq takes it."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


@contextlib.contextmanager
def scratch_database(backend: str, workdir: Path, postgres_url: str, keep: bool) -> Iterator[str]:
    """A new, empty database for the run: a SQLite file in ``workdir`` or a PostgreSQL database (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'evac.db'}"
        return
    import psycopg

    try:
        admin = psycopg.connect(_libpq(postgres_url), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise SetupError(f"PostgreSQL is unreachable at {postgres_url}: {str(exc).strip()}") from None
    name = f"evac_load_{os.getpid()}_{secrets.token_hex(3)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = _libpq(postgres_url).rpartition("/")
    try:
        yield f"postgresql+psycopg://{base.removeprefix('postgresql://')}/{name}"
    finally:
        if keep:
            say(f"kept PostgreSQL database {name}")
        else:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@contextlib.contextmanager
def started_server(database_url: str, workers: int, port: int, workdir: Path, coordinator: tuple[str, str]
                   ) -> Iterator[Server]:
    """``evac serve`` on 127.0.0.1 with a coordinator account; stopped (SIGINT, then SIGKILL) on the way out."""
    env = {
        **os.environ,
        "EVAC_DATABASE_URL": database_url,
        "EVAC_SECRET_KEY": secrets.token_urlsafe(32),
        "EVAC_GEOCODER": "none",
        "EVAC_WORKER_MODE": "external",  # no plan jobs are posted; keep the servers to serving
        "EVAC_OPEN_SIGNUP": "true",
    }
    email, password = coordinator
    made = subprocess.run(evac_command("admin", "create-coordinator", "--email", email, "--password", password),
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    if made.returncode != 0:
        raise SetupError(f"evac admin create-coordinator failed: {made.stderr.strip()[-2000:]}")
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            evac_command("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_healthy(server, timeout=180.0)
        yield server
    finally:
        stop_server(process)


def wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:] if server.log else ""
            raise SetupError(f"evac serve exited with status {server.process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise SetupError(f"{server.url} did not answer /health within {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)  # its own session: uvicorn and its worker processes
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- CPU accounting (Linux /proc) ------------------------------------------------------------------------------


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [float(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return sum(values) - idle, sum(values)


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, user + system CPU seconds) of every process now alive."""
    found: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                head, _, tail = stat.read().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        found[int(entry)] = (head.partition("(")[2], int(fields[1]),
                             (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and all its descendants now alive."""
    found = _processes()
    parents = {pid: parent for pid, (_, parent, _) in found.items()}
    times = {pid: seconds for pid, (_, _, seconds) in found.items()}
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def postgres_cpu_seconds() -> float | None:
    """CPU seconds of the local PostgreSQL server (its postmaster and backends), if one runs on this machine."""
    found = _processes()
    roots = [pid for pid, (name, parent, _) in found.items()
             if name == "postgres" and found.get(parent, ("", 0, 0.0))[0] != "postgres"]
    return sum(tree_cpu_seconds(pid) for pid in roots) if roots else None


# --- clients -----------------------------------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    marker: str
    status: int | None  # None: no answer (timeout, connection error)
    seconds: float
    record_id: int | None = None
    error: str = ""


@dataclass
class Client:
    index: int
    kind: str  # "vehicle" (a volunteer) or "household" (a registrar)
    email: str
    http: httpx.AsyncClient
    results: list[Result] = field(default_factory=list)


def positions() -> dict[str, list[tuple[float, float]]]:
    """Real positions on the bundled map (the demo scenario's homes and drivers)."""
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    return {"household": [(h["lat"], h["lon"]) for h in data["households"]],
            "vehicle": [(d["lat"], d["lon"]) for d in data["drivers"]]}


def body(kind: str, marker: str, n: int, places: dict[str, list[tuple[float, float]]]) -> dict[str, Any]:
    lat, lon = places[kind][n % len(places[kind])]
    if kind == "vehicle":
        return {"label": marker, "lat": lat, "lon": lon, "seats": 1 + n % 7, "wheelchair_spaces": int(n % 5 == 0),
                "available_from_minute": float(n % 30)}
    people = 1 + n % 4
    return {"name": marker, "phone": f"+358 40 {n:07d}", "lat": lat, "lon": lon, "people": people,
            "wheelchair_users": int(n % 6 == 0), "priority": 1 + n % 5, "needs": ["oxygen"] if n % 9 == 0 else [],
            "pets": n % 3, "language": "fi", "notes": "load test"}


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    ordered = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {"p50_ms": ms(percentile(ordered, 50)), "p95_ms": ms(percentile(ordered, 95)),
            "p99_ms": ms(percentile(ordered, 99)), "max_ms": ms(ordered[-1] if ordered else None)}


async def timed_post(http: httpx.AsyncClient, path: str, **kwargs: Any) -> tuple[httpx.Response | None, float, str]:
    start = time.perf_counter()
    try:
        response = await http.post(path, **kwargs)
        return response, time.perf_counter() - start, ""
    except httpx.HTTPError as exc:
        return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> tuple[str, float]:
    response, seconds, error = await timed_post(http, "/login/access-token",
                                                data={"username": email, "password": password})
    if response is None or response.status_code != 200:
        raise SetupError(f"sign-in of {email} failed: {error or (response and response.text)}")
    return response.json()["access_token"], seconds


async def make_accounts(url: str, clients: int, run: str, coordinator: tuple[str, str], timeout: float,
                        concurrency: int) -> tuple[list[Client], httpx.AsyncClient, dict[str, Any]]:
    """The coordinator signs in; half the clients sign up as volunteers, half are made registrars; all sign in.

    At most ``concurrency`` accounts are being made at once: each costs two argon2 hashes (64 MiB, slow on purpose),
    and 200 at once would only queue up behind each other past any sensible timeout.
    """
    coord = httpx.AsyncClient(base_url=url, timeout=timeout)
    gate = asyncio.Semaphore(concurrency)
    token, _ = await sign_in(coord, *coordinator)
    coord.headers["Authorization"] = f"Bearer {token}"
    signups: list[float] = []
    logins: list[float] = []

    async def account(index: int) -> Client:
        async with gate:
            return await make_account(index)

    async def make_account(index: int) -> Client:
        kind = "vehicle" if index % 2 == 0 else "household"
        email = f"{run}-{index}@load.example.org"
        http = httpx.AsyncClient(base_url=url, timeout=timeout, limits=httpx.Limits(max_connections=1))
        account_body = {"email": email, "password": PASSWORD, "name": f"load client {index}"}
        if kind == "vehicle":  # volunteers sign up themselves
            response, seconds, error = await timed_post(http, "/users/signup", json=account_body)
        else:  # registrars are made by a coordinator
            response, seconds, error = await timed_post(coord, "/users", json={**account_body, "role": "registrar"})
        # Sign-up answers 202 (the same whether or not the e-mail had an account); a coordinator's creation 201.
        if response is None or response.status_code != (202 if kind == "vehicle" else 201):
            raise SetupError(f"account {email} not created: {error or (response and response.text)}")
        signups.append(seconds)
        token, seconds = await sign_in(http, email, PASSWORD)
        logins.append(seconds)
        http.headers["Authorization"] = f"Bearer {token}"
        return Client(index, kind, email, http)

    start = time.perf_counter()
    made = await asyncio.gather(*(account(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    stats = {"accounts": clients, "seconds": round(elapsed, 2), "accounts_per_second": round(clients / elapsed, 1),
             "signup": latency_summary(signups), "login": latency_summary(logins)}
    return list(made), coord, stats


async def register(client: Client, run: str, deadline: float, interval: float, start_at: float,
                   places: dict[str, list[tuple[float, float]]]) -> None:
    """Register until the deadline: one request at a time, every ``interval`` s (0: back to back)."""
    path = "/vehicles" if client.kind == "vehicle" else "/households"
    n = 0
    next_at = start_at
    while True:
        if interval:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
        if time.perf_counter() >= deadline:
            return
        marker = f"{run} c{client.index} n{n}"
        response, seconds, error = await timed_post(client.http, path,
                                                    json=body(client.kind, marker, client.index * 7919 + n, places))
        result = Result(client.kind, marker, None if response is None else response.status_code, seconds, error=error)
        if response is not None:
            if response.status_code == 201:
                result.record_id = response.json()["id"]
            else:
                result.error = response.text[:300]
        client.results.append(result)
        n += 1


async def stored(coord: httpx.AsyncClient, path: str, field_name: str, run: str) -> dict[str, list[int]]:
    """Marker -> ids of every stored record of this run, read page by page as the coordinator."""
    found: dict[str, list[int]] = {}
    offset = 0
    while True:
        response = await coord.get(path, params={"offset": offset, "limit": PAGE})
        response.raise_for_status()
        rows = response.json()
        for row in rows:
            if row[field_name].startswith(f"{run} "):
                found.setdefault(row[field_name], []).append(row["id"])
        if len(rows) < PAGE:
            return found
        offset += PAGE


def check_rows(results: list[Result], found: dict[str, list[int]]) -> dict[str, Any]:
    """Every accepted registration stored exactly once, under the id it was answered with."""
    accepted = {r.marker: r.record_id for r in results if r.status == 201}
    lost = sorted(m for m in accepted if m not in found)
    duplicated = sorted(m for m, ids in found.items() if len(ids) > 1)
    wrong_id = sorted(m for m, rid in accepted.items() if m in found and found[m] != [rid])
    # Refused or unanswered requests whose record is there all the same (a timeout after the commit, say).
    unconfirmed = sorted(m for m in found if m not in accepted)
    return {"accepted": len(accepted), "stored": sum(len(ids) for ids in found.values()), "lost": len(lost),
            "duplicated": len(duplicated), "wrong_id": len(wrong_id), "stored_but_not_confirmed": len(unconfirmed),
            "examples": {"lost": lost[:5], "duplicated": duplicated[:5], "wrong_id": wrong_id[:5],
                         "stored_but_not_confirmed": unconfirmed[:5]}}


async def run_load(url: str, args: argparse.Namespace, coordinator: tuple[str, str], server_pid: int | None
                   ) -> dict[str, Any]:
    run = f"load-{secrets.token_hex(4)}"
    places = positions()
    say(f"{args.clients} clients sign up and sign in (password hashing, not timed below)")
    clients, coord, accounts = await make_accounts(url, args.clients, run, coordinator, args.timeout,
                                                   args.signup_concurrency)
    say(f"accounts: {accounts['accounts']} in {accounts['seconds']} s ({accounts['accounts_per_second']}/s); "
        f"registering for {args.seconds:g} s" + (f" at {args.rate:g}/s" if args.rate else " as fast as possible"))
    interval = args.clients / args.rate if args.rate else 0.0
    cpu_before, own_before = machine_cpu(), time.process_time()
    server_before = tree_cpu_seconds(server_pid) if server_pid else None
    postgres_before = postgres_cpu_seconds()
    start = time.perf_counter()
    deadline = start + args.seconds
    try:
        await asyncio.gather(*(register(c, run, deadline, interval, start + interval * c.index / args.clients, places)
                               for c in clients))
        elapsed = time.perf_counter() - start
        cpu_after, own_after = machine_cpu(), time.process_time()
        server_after = tree_cpu_seconds(server_pid) if server_pid else None
        postgres_after = postgres_cpu_seconds()
        results = [r for c in clients for r in c.results]
        try:
            rows = {"vehicle": await stored(coord, "/vehicles", "label", run),
                    "household": await stored(coord, "/households", "name", run)}
        except httpx.HTTPError as exc:
            raise CountError(f"counting the rows failed: {type(exc).__name__}: {exc}") from None
    finally:
        await asyncio.gather(*(c.http.aclose() for c in clients), coord.aclose())
    checks = {kind: check_rows([r for r in results if r.kind == kind], rows[kind]) for kind in rows}
    statuses = Counter("no answer" if r.status is None else str(r.status) for r in results)
    errors = [r for r in results if r.status != 201]
    ok = [r.seconds for r in results if r.status == 201]
    cores = os.cpu_count() or 1
    busy = (cpu_after[0] - cpu_before[0]) / max(cpu_after[1] - cpu_before[1], 1.0)
    cpu: dict[str, Any] = {"cores": cores, "machine_busy_fraction": round(busy, 3),
                           "load_generator_cores": round((own_after - own_before) / elapsed, 2)}
    if server_before is not None and server_after is not None:
        cpu["server_cores"] = round((server_after - server_before) / elapsed, 2)
    if postgres_before is not None and postgres_after is not None:
        cpu["postgres_cores"] = round((postgres_after - postgres_before) / elapsed, 2)
    if ok:  # CPU milliseconds per accepted registration, by where it was spent
        cpu["ms_per_registration"] = {k.removesuffix("_cores"): round(v * elapsed / len(ok) * 1000, 2)
                                      for k, v in cpu.items() if k.endswith("_cores")}
    return {
        "run": run, "url": url, "clients": args.clients, "seconds": round(elapsed, 2), "target_rate": args.rate,
        "accounts": accounts,
        "requests": len(results), "registrations": len(ok),
        "by_kind": {kind: sum(1 for r in results if r.kind == kind and r.status == 201) for kind in rows},
        "registrations_per_second": round(len(ok) / elapsed, 1),
        "latency": latency_summary(ok),
        "statuses": dict(statuses), "errors": len(errors),
        "error_examples": [{"status": r.status, "error": r.error} for r in errors[:5]],
        "rows": checks,
        "cpu": cpu,
    }


def report(summary: dict[str, Any]) -> str:
    lat, acc = summary["latency"], summary["accounts"]
    rows = summary["rows"]
    lines = [
        f"accounts (argon2 sign-up + sign-in, before the timed phase): {acc['accounts']} in {acc['seconds']} s, "
        f"{acc['accounts_per_second']}/s; sign-up p50 {acc['signup']['p50_ms']} ms, p99 {acc['signup']['p99_ms']} "
        f"ms; sign-in p50 {acc['login']['p50_ms']} ms, p99 {acc['login']['p99_ms']} ms",
        f"registrations: {summary['registrations']} in {summary['seconds']} s by {summary['clients']} clients = "
        f"{summary['registrations_per_second']}/s ({summary['by_kind']['household']} households, "
        f"{summary['by_kind']['vehicle']} vehicles)" + (f", target {summary['target_rate']:g}/s"
                                                        if summary["target_rate"] else ""),
        f"latency of accepted registrations: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms",
        f"errors: {summary['errors']} of {summary['requests']} requests; statuses {summary['statuses']}"
        + "".join(f"\n  {e['status'] or 'no answer'}: {e['error']}" for e in summary["error_examples"]),
        "rows: " + "; ".join(f"{kind}s accepted {r['accepted']}, stored {r['stored']}, lost {r['lost']}, duplicated "
                             f"{r['duplicated']}, wrong id {r['wrong_id']}, stored but unconfirmed "
                             f"{r['stored_but_not_confirmed']}" for kind, r in rows.items()),
        "cpu: " + ", ".join(f"{k} {v}" for k, v in summary["cpu"].items()),
    ]
    return "\n".join(lines)


def passed(summary: dict[str, Any]) -> bool:
    rows = summary["rows"].values()
    return summary["errors"] == 0 and summary["registrations"] > 0 and all(
        r["lost"] == 0 and r["duplicated"] == 0 and r["wrong_id"] == 0 for r in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200, help="concurrent signed-in clients (default 200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the timed phase (default 60)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="registrations/s for all clients together; 0 (default): back to back")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="database of the server this script starts (default sqlite)")
    parser.add_argument("--workers", type=int, default=1, help="evac serve --workers (default 1)")
    parser.add_argument("--port", type=int, default=0, help="port of the started server (default: a free one)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES,
                        help="PostgreSQL server where a scratch database is made (default: %(default)s)")
    parser.add_argument("--url", help="target this running server (loopback only) instead of starting one")
    parser.add_argument("--coordinator-email", default="coordinator@load.example.org")
    parser.add_argument("--coordinator-password", default="coordinator-load-password",
                        help="with --url: an existing coordinator's password")
    parser.add_argument("--signup-concurrency", type=int, default=8,
                        help="accounts made at once before the timed phase (default 8)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds (default 30)")
    parser.add_argument("--json", type=Path, help="also write the summary here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and server log")
    args = parser.parse_args(argv)
    if min(args.clients, args.workers, args.signup_concurrency) < 1 or args.seconds <= 0 or args.rate < 0:
        parser.error("--clients, --workers and --signup-concurrency must be >= 1, --seconds > 0, --rate >= 0")
    if args.seconds > 3600 or args.clients > 5000:
        parser.error("bounded on purpose: --seconds <= 3600 and --clients <= 5000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    coordinator = (args.coordinator_email, args.coordinator_password)
    workdir = Path(tempfile.mkdtemp(prefix="evac-load-"))
    try:
        with contextlib.ExitStack() as stack:
            if args.url:
                require_loopback(args.url)
                url, server_pid = args.url.rstrip("/"), None
            else:
                database = stack.enter_context(scratch_database(args.backend, workdir, args.postgres_url, args.keep))
                port = args.port or free_port()
                say(f"starting evac serve on 127.0.0.1:{port} ({args.backend}, {args.workers} worker(s))")
                server = stack.enter_context(started_server(database, args.workers, port, workdir, coordinator))
                url = server.url
                server_pid = server.process.pid if server.process else None
            summary = asyncio.run(run_load(url, args, coordinator, server_pid))
        summary["backend"] = None if args.url else args.backend
        summary["workers"] = None if args.url else args.workers
    except SetupError as exc:
        say(f"setup failed: {exc}")
        return 2
    except CountError as exc:
        say(f"FAIL: {exc}")
        return 1
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(report(summary) + "\n")
    sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    ok = passed(summary)
    say("PASS: nothing lost, nothing duplicated, no errors" if ok else "FAIL: see errors and rows above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
