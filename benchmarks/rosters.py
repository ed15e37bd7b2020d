"""The service at scale: a 50,000-row households CSV import over HTTP (and 2,000 cars), then the households, cars
and dashboard pages loaded in Chromium with that many registered.

    python -m benchmarks.rosters                       # SQLite, 50,000 rows, pages measured in Chromium
    python -m benchmarks.rosters --backend postgresql --rows 45000
    python -m benchmarks.rosters --no-pages            # the import only (no browser needed)

It starts its own ``evac serve`` on a free loopback port with a new database (a SQLite file in a temporary folder,
or a PostgreSQL database dropped afterwards), makes a coordinator, and prints one line per measure: seconds of the
whole import request as a client sees it (upload, checks, bulk insert, commit), and for each page the seconds from
navigation to the table drawn (the first page, a text search, a page deep in the list). Rows are made from the
bundled Kotka households, moved a few metres each (seeded), so every one is on the map.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from api.config import BUNDLED_MAP

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from load import SetupError, free_port, scratch_database, started_server  # noqa: E402

COLUMNS = ["name", "phone", "address", "lat", "lon", "people", "wheelchair_users", "needs", "priority"]
STREETS = ["Kirkkokatu", "Keskuskatu", "Satamakatu", "Kotkankatu", "Puistokatu", "Kymenlaaksonkatu", "Ruukinkatu"]
FIRST = ["Aino", "Eino", "Helmi", "Ville", "Lauri", "Saara", "Matti", "Kerttu", "Juhani", "Liisa"]
LAST = ["Virtanen", "Mäkinen", "Laine", "Korhonen", "Nieminen", "Heikkinen", "Koskinen", "Järvinen"]


def households_csv(rows: int, seed: int = 7) -> bytes:
    """``rows`` households at the bundled demo positions, each moved up to ~20 m (seeded): CSV bytes."""
    import yaml

    base = yaml.safe_load((ROOT / "scenarios" / "kotka_storm.yaml").read_text(encoding="utf-8"))["households"]
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(rows):
        h = base[i % len(base)]
        people = rng.randint(1, 5)
        writer.writerow([
            f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}", f"+358 40 {i:07d}",
            f"{rng.choice(STREETS)} {rng.randint(1, 120)}, Kotka",
            round(h["lat"] + rng.uniform(-1.5e-4, 1.5e-4), 6), round(h["lon"] + rng.uniform(-3e-4, 3e-4), 6),
            people, rng.choice([0] * 9 + [1]), rng.choice(["", "", "", "oxygen", "dialysis"]), rng.randint(1, 5),
        ])
    return out.getvalue().encode("utf-8")


def vehicles_csv(rows: int, owner_email: str, seed: int = 8) -> bytes:
    """``rows`` cars at the bundled demo drivers' positions (moved a little, seeded), owned by ``owner_email``."""
    import yaml

    base = yaml.safe_load((ROOT / "scenarios" / "kotka_storm.yaml").read_text(encoding="utf-8"))["drivers"]
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["owner_email", "label", "seats", "wheelchair_spaces", "available_from_minute", "lat", "lon"])
    for i in range(rows):
        d = base[i % len(base)]
        writer.writerow([owner_email, f"{rng.choice(['Blue', 'Red', 'Grey', 'White'])} car {i}", rng.randint(2, 6),
                         rng.choice([0] * 9 + [1]), rng.choice([0, 0, 15, 30]),
                         round(d["lat"] + rng.uniform(-1.5e-4, 1.5e-4), 6),
                         round(d["lon"] + rng.uniform(-3e-4, 3e-4), 6)])
    return out.getvalue().encode("utf-8")


def sign_in(url: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{url}/login/access-token", data={"username": email, "password": password}, timeout=60)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def timed_import(url: str, headers: dict[str, str], content: bytes, kind: str = "households") -> dict[str, Any]:
    started = time.perf_counter()
    response = httpx.post(f"{url}/{kind}/import", headers=headers, files={"file": (f"{kind}.csv", content, "text/csv")},
                          timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SetupError(f"import failed: {response.status_code} {response.text[:2000]}")
    return {"seconds": round(seconds, 2), "created": response.json()["created"], "bytes": len(content)}


def page_loads(url: str, email: str, password: str, rounds: int) -> dict[str, float]:
    """Seconds from navigation to the drawn table, best of ``rounds``, for each page (Chromium, desktop size)."""
    from playwright.sync_api import sync_playwright

    from tests.web.helpers import HOW_TO_GET_A_BROWSER, chromium

    executable = chromium()
    if executable is None:
        raise SetupError(HOW_TO_GET_A_BROWSER)
    pages = {
        "households, first page": ("/app/households", "#household-table[data-loaded]"),
        "households, search 'virtanen 1'": ("/app/households?q=virtanen%201", "#household-table[data-loaded]"),
        "households, page 500": ("/app/households?page=500", "#household-table[data-loaded]"),
        "households, priority 1 sorted by name": ("/app/households?priority_at_most=1&sort=name",
                                                  "#household-table[data-loaded]"),
        "cars, first page": ("/app/vehicles", "#vehicle-list[data-loaded]"),
        "dashboard (counts)": ("/app/dashboard", "#counts li"),
    }
    found: dict[str, float] = {}
    with sync_playwright() as p:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        browser = p.chromium.launch(executable_path=executable, args=flags)
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(600_000)
        page = context.new_page()
        page.goto("/app/signin")
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(lambda u: "/app/signin" not in u)
        for name, (path, ready) in pages.items():
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                page.goto(path)
                page.wait_for_selector(ready, state="attached")
                best = min(best, time.perf_counter() - started)
            found[name] = round(best, 3)
        browser.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="households in the CSV (default 50,000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("EVAC_TEST_POSTGRES_URL",
                                                                 "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--cars", type=int, default=2_000, help="cars imported after the households (default 2,000)")
    parser.add_argument("--no-pages", action="store_true", help="measure the import only")
    parser.add_argument("--rounds", type=int, default=3, help="page loads per page (the best is reported)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"rows": args.rows, "backend": args.backend, "map": BUNDLED_MAP.name,
                               "load_before": os.getloadavg()[0]}
    content = households_csv(args.rows)
    coordinator = ("bench-coordinator@example.org", secrets.token_urlsafe(12))
    os.environ.setdefault("EVAC_CSV_MAX_BYTES", str(max(len(content) + 1, 20_000_000)))
    try:
        with tempfile.TemporaryDirectory(prefix="evac-rosters-") as tmp, \
                scratch_database(args.backend, Path(tmp), args.postgres_url, keep=False) as database_url, \
                started_server(database_url, 1, free_port(), Path(tmp), coordinator) as server:
            headers = sign_in(server.url, *coordinator)
            figures["import"] = timed_import(server.url, headers, content)
            print(f"import of {args.rows:,} households ({len(content) / 1e6:.1f} MB CSV): "
                  f"{figures['import']['seconds']:.2f} s over HTTP, {figures['import']['created']:,} created")
            if args.cars:
                figures["import_cars"] = timed_import(server.url, headers, vehicles_csv(args.cars, coordinator[0]),
                                                      "vehicles")
                print(f"import of {args.cars:,} cars: {figures['import_cars']['seconds']:.2f} s over HTTP")
            if not args.no_pages:
                figures["pages_seconds"] = page_loads(server.url, *coordinator, rounds=args.rounds)
                for name, seconds in figures["pages_seconds"].items():
                    print(f"page load, {name}: {seconds:.3f} s")
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    figures["load_after"] = os.getloadavg()[0]
    print(f"load average (1 min) before {figures['load_before']:.2f}, after {figures['load_after']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
