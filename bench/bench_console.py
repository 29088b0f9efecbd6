"""Server time of each console page on the demo data.

    .venv/bin/python bench/bench_console.py                 # a copy of ./var/risk.db (after `make run`)
    .venv/bin/python bench/bench_console.py --fresh         # a newly seeded demo database in a temp dir
    .venv/bin/python bench/bench_console.py --database-url sqlite:////path/to/risk.db --repeat 20

Works on a copy (SQLite) or, for another URL, on the database itself (it adds one admin client and its
console session, both audited). Each page is requested in-process through the ASGI app, so the figure
is the server's time: routing, queries, templates — no network. Prints the median and the slowest of
``--repeat`` requests per page, plus the ``Server-Timing`` the page reports itself. The target is
300 ms per page; this script reports and never fails on a timing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from api.app import create_app  # noqa: E402
from api.clients import create_client  # noqa: E402
from risk_engine import migrations  # noqa: E402
from risk_engine.db import Database  # noqa: E402
from risk_engine.settings import Settings  # noqa: E402

TARGET_MS = 300.0


def database_url(args: argparse.Namespace, tmp: Path) -> str:
    if args.database_url:
        if args.database_url.startswith("sqlite:///"):
            source = Path(args.database_url.removeprefix("sqlite:///"))
            shutil.copy(source, tmp / "risk.db")
            return f"sqlite:///{tmp / 'risk.db'}"
        return args.database_url
    local = ROOT / "var" / "risk.db"
    if local.exists() and not args.fresh:
        shutil.copy(local, tmp / "risk.db")
        for suffix in ("-wal", "-shm"):
            if Path(f"{local}{suffix}").exists():
                shutil.copy(f"{local}{suffix}", tmp / f"risk.db{suffix}")
        return f"sqlite:///{tmp / 'risk.db'}"
    url = f"sqlite:///{tmp / 'risk.db'}"
    migrations.upgrade(url)
    from typer.testing import CliRunner

    from risk_engine.cli import app as cli

    print("seeding a fresh demo database (this takes a while)...", file=sys.stderr)
    result = CliRunner().invoke(
        cli,
        ["demo", "seed", "--if-empty"],
        env={"RISK_DATABASE_URL": url, "RISK_KEYS_DIR": str(tmp / "keys")},
    )
    if result.exit_code != 0:
        raise SystemExit(f"demo seed failed: {result.output}")
    return url


def sample_ids(db: Database) -> dict[str, str | None]:
    """A referred decision and the dealer with the most orders: the heaviest ordinary pages."""
    from risk_engine.trade.models import Order

    ids: dict[str, str | None] = {"decision": None, "dealer": None}
    with db.session() as s:
        try:
            from risk_engine.decisions.models import ReviewCase

            ids["decision"] = s.scalar(select(ReviewCase.decision_id).order_by(ReviewCase.opened_at).limit(1))
        except ImportError:
            pass
        ids["dealer"] = s.scalar(
            select(Order.dealer_id).group_by(Order.dealer_id).order_by(func.count().desc()).limit(1)
        )
        s.rollback()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--fresh", action="store_true", help="seed a new demo database instead of ./var/risk.db")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = database_url(args, tmp)
        db = Database(url)
        with db.unit_of_work() as s:
            key = create_client(s, name="console bench", role="admin", actor="system:bench").key
        keys_dir = ROOT / "var" / "keys" if (ROOT / "var" / "keys").exists() and not args.fresh else tmp / "keys"
        app = create_app(settings=Settings(env="test", keys_dir=keys_dir), database=db)
        ids = sample_ids(db)
        pages = [("review queue", "/console/reviews"), ("review queue, all", "/console/reviews?status=all")]
        if ids["decision"]:
            pages.append(("decision + waterfall", f"/console/decisions/{ids['decision']}"))
        if ids["dealer"]:
            pages.append(("dealer (most orders)", f"/console/dealers/{ids['dealer']}"))
        pages += [
            ("portfolio", "/console/portfolio"),
            ("model", "/console/model"),
            ("audit", "/console/audit"),
        ]

        with TestClient(app) as client:
            login = client.get("/console/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
            client.post("/console/login", data={"api_key": key, "csrf_token": csrf})
            print(f"database: {url}")
            print(f"{'page':<26}{'median ms':>11}{'max ms':>9}{'Server-Timing':>15}  status")
            started = time.perf_counter()
            cold = client.get("/console/audit")  # starts the background verification, does not wait
            cold_ms = (time.perf_counter() - started) * 1000
            first = f"{'audit, first view':<26}{cold_ms:>11.1f}{cold_ms:>9.1f}{_server_timing(cold):>15}"
            print(f"{first}  {cold.status_code}")
            run = app.state.console_verifier.wait(timeout=600)
            if run is not None:
                verdict = "intact" if run.intact else f"NOT intact: {run.error or run.report.problem}"
                print(f"  (background verification of the whole trail: {run.ms:.0f} ms, {verdict})")
            for name, path in pages:
                times, last = [], None
                client.get(path)  # warm: templates compiled, caches filled
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    last = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                flag = "" if max(times) < TARGET_MS else f"  over {TARGET_MS:.0f} ms"
                print(
                    f"{name:<26}{statistics.median(times):>11.1f}{max(times):>9.1f}"
                    f"{_server_timing(last):>15}  {last.status_code}{flag}"
                )
        db.dispose()


def _server_timing(response) -> str:  # noqa: ANN001
    match = re.search(r"dur=([\d.]+)", response.headers.get("server-timing", ""))
    return f"{float(match.group(1)):.1f}" if match else "—"


if __name__ == "__main__":
    main()
