"""Limit decisions over HTTP, the whole path with durable commits, against a bare FastAPI endpoint that only
runs XGBoost predict on the same model — same load generator, same concurrency, same server setup.

    .venv/bin/python bench/bench_decisions.py                       # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/bench_decisions.py --requests 3000 --concurrency 16 --backends sqlite
    RISK_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_decisions.py
    .venv/bin/python bench/bench_decisions.py --endpoints decision --profile /tmp/prof   # py-spy stacks

For each backend: a fresh database (a temporary SQLite file in WAL mode with ``synchronous=FULL`` — every
commit fsynced — or a temporary PostgreSQL schema with the server's ``synchronous_commit``), migrated and
seeded (one bank, ``--dealers`` dealers with consent, a platform key). The model is the production one: a
PD model trained (``scoring.training``) on a synthetic platform's trade history (``risk_engine.demo``) and
registered as champion, and each bench dealer gets the catalog features of one synthetic dealer. Servers
are started as child processes with the same worker count: the engine (``POST /v1/credit-limit-requests``:
consent, locks, the registry's champion looked up and rated — encoder, XGBoost margin and exact TreeSHAP,
calibration, master scale, reason codes — rules, limit policy, decision record, ledger movement, audit
entries, idempotency record, one commit) and a bare app (``POST /predict``: parse the champion's encoded
input row, ``booster.inplace_predict`` — the fastest way to predict one row — answer). Both run the same
booster with one XGBoost thread (``OMP_NUM_THREADS=1``: one row at a time, OpenMP threads only add cost). The load
generator is ``wrk`` (the Debian package) with ``--concurrency`` connections for ``--seconds``, or, without
wrk, httpx with ``--concurrency`` clients in one event loop. Every decision request carries a fresh
``Idempotency-Key``.

A third server measures the floor under every decision: the same engine app with a route that only
authenticates, checks the ``Idempotency-Key`` and commits the stored response (``floor_app``).

The feature source is an in-memory dict (point-in-time feature computation is benchmarked by
``bench/bench_features.py``). Prints throughput, p50, p99 and the server's CPU time per request side by
side; never asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# module level: FastAPI resolves the floor route's (string) annotations in these globals
from fastapi import Response  # noqa: E402

from api.auth import PlatformClient  # noqa: E402
from api.deps import DbSession  # noqa: E402
from api.idempotency import Idempotency  # noqa: E402

# --------------------------------------------------------------------------- the two servers


def _booster():
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(os.environ["BENCH_BOOSTER_FILE"])
    booster.set_param({"nthread": 1})
    return booster


def _database():
    from risk_engine.db import Database

    url = os.environ["BENCH_DB_URL"]
    schema = os.environ.get("BENCH_PG_SCHEMA")
    if schema:
        return Database(url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=20, max_overflow=10)
    database = Database(url)
    _sqlite_full_sync(database)
    return database


def _sqlite_full_sync(database: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(database.engine, "connect")
    def _full(dbapi_connection: Any, _record: Any) -> None:  # fsync at every commit
        dbapi_connection.execute("PRAGMA synchronous=FULL")


def decision_app():  # noqa: ANN201 - uvicorn factory
    """The engine's app as ``risk-engine serve`` builds it (the registry's champion scores), with an
    in-memory feature source wired in."""
    from api.app import create_app
    from risk_engine.settings import Settings
    from tests.decision_support import DictFeatureSource

    settings = Settings(
        env="test",
        database_url=os.environ["BENCH_DB_URL"],
        keys_dir=Path(os.environ["BENCH_KEYS"]),
        models_dir=Path(os.environ["BENCH_MODELS_DIR"]),
        blacklist_file=Path(os.environ["BENCH_BLACKLIST_FILE"]),  # screened, as a deployment is
    )
    app = create_app(settings=settings, database=_database())
    source = DictFeatureSource(default={})
    for dealer_id, features in json.loads(Path(os.environ["BENCH_FEATURES_FILE"]).read_text()).items():
        source.set(dealer_id, **features)
    app.state.feature_source = source
    return app


def floor_app():  # noqa: ANN201 - uvicorn factory
    """The engine's app with one more route, ``POST /v1/bench-floor``: authentication, the
    ``Idempotency-Key`` check and the stored response committed durably — the fixed cost every
    mutating request of the engine pays — and no decision at all. The ceiling of any decision."""
    app = decision_app()

    @app.post("/v1/bench-floor", status_code=201)
    def floor(body: dict[str, Any], principal: PlatformClient, session: DbSession, idem: Idempotency) -> Response:
        return idem.run(session, principal, lambda: {"dealer_id": body.get("dealer_id")}, status_code=201)

    return app


def predict_app():  # noqa: ANN201 - uvicorn factory
    """A bare FastAPI endpoint: XGBoost predict on the champion's booster, given its encoded input row."""
    import numpy as np
    from fastapi import FastAPI

    booster = _booster()
    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, float]:
        row = [[np.nan if v is None else float(v) for v in body["row"]]]
        return {"pd": float(booster.inplace_predict(np.array(row, dtype=float))[0])}

    return app


# --------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_champion(seed: int) -> tuple[Any, list[dict[str, float | None]]]:
    """A PD model trained on a synthetic platform's history, and the catalog features of its dealers
    (as of the end of that history) to hand to the bench's dealers."""
    import math

    from risk_engine.demo.synthetic import generate_platform
    from scoring.features import compute_features
    from scoring.training import train_dealer_model

    frames = generate_platform(n_dealers=600, months=24, seed=seed).trade_frames()
    version = train_dealer_model(frames, version="bench-pd-1", seed=seed)
    table = compute_features(frames, frames.observed_until)
    rows = [
        {name: None if value is None or math.isnan(value) else float(value) for name, value in row.items()}
        for row in table.to_dict(orient="records")
    ]
    return version, rows


def _prepare_database(backend: str, workdir: Path, pg_url: str) -> tuple[str, str | None]:
    from sqlalchemy import create_engine, text

    from risk_engine import migrations

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        migrations.upgrade(url)
        return url, None
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    from risk_engine.db import Database

    db = Database(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    with db.engine.connect() as conn:
        migrations.upgrade(connection=conn)
        conn.commit()
    db.dispose()
    return pg_url, schema


def _write_blacklist(path: Path) -> Path:
    """A platform blacklist naming nobody on the bench's platform: every dealer is screened and clean."""
    path.write_text("kind,number,reason\ncredit_code,9144030071526726XG,bench: a company not on this platform\n",
                    encoding="utf-8")
    return path


def _write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def _drop_schema(pg_url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _seed(
    url: str, schema: str | None, n_dealers: int, champion: Any, catalog_rows: list[dict], models_dir: Path
) -> tuple[str, list[str], str, dict]:
    """One bank, ``n_dealers`` dealers with consent (the features of the synthetic dealers, in turn), a
    platform key, and the champion registered in ``models_dir``."""
    from decimal import Decimal

    from risk_engine.db import Database
    from scoring import registry
    from tests.factories import make_api_key, make_bank, make_dealer

    db = Database(url, connect_args={"options": f"-csearch_path={schema}"}) if schema else Database(url)
    bank = make_bank(db, quota=Decimal("1000000000000.00"), max_line_amount=Decimal("100000000.00"))
    dealers = [make_dealer(db).id for _ in range(n_dealers)]
    key = make_api_key(db, "platform")
    with db.unit_of_work() as session:
        registry.register(session, champion, models_dir, actor="admin:bench", status="champion")
    db.dispose()
    features = {dealer_id: catalog_rows[i % len(catalog_rows)] for i, dealer_id in enumerate(dealers)}
    return bank.id, dealers, key, features


class _Server:
    def __init__(self, factory: str, env: dict[str, str], workers: int) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "risk_engine.serving",  # uvicorn, with TCP_NODELAY also when workers > 1
                f"bench.bench_decisions:{factory}",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{factory} server exited with {self.process.returncode}") from None
                time.sleep(0.2)
        raise RuntimeError(f"{factory} server did not start")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the server and its worker processes; None off Linux."""
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        pending, total = [self.process.pid], 0.0
        try:
            while pending:
                pid = pending.pop()
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            return None
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _load(url: str, make_request: Any, total: int, concurrency: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for n in counter:
                path, body, headers = make_request(n)
                started = time.perf_counter()
                response = await client.post(path, json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": total,
        "seconds": elapsed,
        "rps": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "statuses": statuses,
    }


WRK_SCRIPT = """
local requests, n = {}, 0
local path, headers_json = "%(path)s", %(headers)s
local bodies = {%(bodies)s}
local idempotent = %(idempotent)s
local counter, prefix = 0, "x"
function setup(thread)
  n = n + 1
  thread:set("prefix", "%(run)s-" .. n .. "-")
end
function init(args)
  prefix = wrk.thread:get("prefix") or "%(run)s-0-"
  math.randomseed(os.time() + #prefix)
end
function request()
  counter = counter + 1
  local headers = {}
  for k, v in pairs(headers_json) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  if idempotent then headers["Idempotency-Key"] = prefix .. counter end
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _load_wrk(
    url: str,
    path: str,
    headers: dict[str, str],
    bodies: list[dict],
    *,
    idempotent: bool,
    seconds: int,
    connections: int,
    workdir: Path,
) -> dict[str, Any]:
    """wrk (the Debian package) for ``seconds`` with ``connections`` open connections over 2 threads."""
    script = workdir / f"wrk-{secrets.token_hex(3)}.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "path": path,
            "headers": "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()) + "}",
            "bodies": ", ".join(_lua_string(json.dumps(b, separators=(",", ":"))) for b in bodies),
            "idempotent": "true" if idempotent else "false",
            "run": secrets.token_hex(4),
        }
    )
    result = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "--timeout",
            "60s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    distribution = re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    percentiles = {p: _ms(value, unit) for p, value, unit in distribution}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "requests": total,
        "seconds": seconds,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentiles["50"],
        "p99_ms": percentiles["99"],
        "statuses": {
            "non_2xx": int(bad.group(1)) if bad else 0,
            **({"socket_errors": errors.group(1)} if errors else {}),
        },
    }


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_backend(backend: str, args: argparse.Namespace, trained: tuple[Any, list[dict]]) -> dict[str, Any]:
    champion, catalog_rows = trained
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-decisions-{backend}-"))
    booster_file = workdir / "champion.ubj"
    champion.model.booster_.save_model(str(booster_file))
    url, schema = _prepare_database(backend, workdir, args.pg_url)
    try:
        bank_id, dealers, key, features = _seed(
            url, schema, args.dealers, champion, catalog_rows, workdir / "models"
        )
        encoder = champion.model.encoder_
        env = {
            "BENCH_BOOSTER_FILE": str(booster_file),
            "BENCH_MODELS_DIR": str(workdir / "models"),
            "BENCH_DB_URL": url,
            "BENCH_KEYS": str(workdir / "keys"),
            "BENCH_FEATURES_FILE": str(_write_json(workdir / "features.json", features)),
            "BENCH_BLACKLIST_FILE": str(_write_blacklist(workdir / "blacklist.csv")),
            "BENCH_PG_SCHEMA": schema or "",
            "RISK_LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": "1",
        }
        decision_bodies = [{"dealer_id": d, "bank_id": bank_id} for d in dealers]
        predict_bodies = [  # the champion's own input row for each dealer, NaN as null
            {"row": [None if v != v else float(v) for v in encoder.transform_record(features[d]).ravel()]}
            for d in dealers
        ]
        endpoints = {
            "predict": ("predict_app", "/predict", {}, predict_bodies, False),
            "floor": (
                "floor_app",
                "/v1/bench-floor",
                {"Authorization": f"Bearer {key}"},
                decision_bodies,
                True,
            ),
            "decision": (
                "decision_app",
                "/v1/credit-limit-requests",
                {"Authorization": f"Bearer {key}"},
                decision_bodies,
                True,
            ),
        }
        results = {}
        for name, (factory, path, headers, bodies, idempotent) in endpoints.items():
            if name not in args.endpoints.split(","):
                continue
            server = _Server(factory, env, args.workers)
            profiler = None
            try:
                if args.loader == "wrk":
                    load = functools.partial(
                        _load_wrk,
                        server.url,
                        path,
                        headers,
                        bodies,
                        idempotent=idempotent,
                        connections=args.concurrency,
                        workdir=workdir,
                    )
                    load(seconds=args.warmup_seconds)
                    if args.profile:
                        profiler = _profile(server, Path(args.profile) / f"{backend}-{name}.txt", args.seconds)
                    cpu = server.cpu_seconds()
                    results[name] = load(seconds=args.seconds)
                    cpu = server.cpu_seconds() - cpu
                else:
                    rng, sequence = random.Random(args.seed), iter(range(10**9))

                    def make(
                        n, path=path, headers=headers, bodies=bodies, idempotent=idempotent, rng=rng, seq=sequence
                    ):  # noqa: ANN001
                        # the floor and the decision share the database and the client: keys unique per endpoint
                        key = f"{workdir.name}-{path}-{next(seq)}"
                        extra = {"Idempotency-Key": key} if idempotent else {}
                        return path, rng.choice(bodies), headers | extra

                    asyncio.run(_load(server.url, make, args.warmup, args.concurrency))
                    cpu = server.cpu_seconds()
                    results[name] = asyncio.run(_load(server.url, make, args.requests, args.concurrency))
                    cpu = server.cpu_seconds() - cpu
                if cpu is not None and results[name]["requests"]:
                    results[name]["server_cpu_ms"] = round(1000 * cpu / results[name]["requests"], 2)
            finally:
                if profiler is not None:
                    profiler.wait()
                server.stop()
        return results
    finally:
        if schema:
            _drop_schema(args.pg_url, schema)


def _profile(server: _Server, out: Path, seconds: int) -> subprocess.Popen:
    """py-spy (``pip install py-spy``) sampling the server and its workers during the measured run, only
    the thread holding the GIL (where the Python time goes), as collapsed stacks: one line per stack,
    its sample count last, for a flame graph or ``grep``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))  # the venv's, if not on PATH
    command = [spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--gil"]
    command += ["--format", "raw", "--rate", "250", "--duration", str(seconds), "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _failures(statuses: dict[Any, Any]) -> int:
    """Requests answered with anything but 2xx (wrk counts them as ``non_2xx``; httpx by status)."""
    return sum(
        int(count)
        for status, count in statuses.items()
        if status == "non_2xx" or (isinstance(status, int) and not 200 <= status < 300)
    )


def _pg_reachable(url: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - reachability probe
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--loader",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="wrk (Debian package `wrk`) when installed, else httpx",
    )
    parser.add_argument("--seconds", type=int, default=20, help="wrk: measured seconds per endpoint")
    parser.add_argument("--warmup-seconds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="httpx: requests per endpoint")
    parser.add_argument("--warmup", type=int, default=100, help="httpx: warm-up requests")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, both servers")
    parser.add_argument("--dealers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--endpoints", default="predict,floor,decision", help="which of the three to load")
    parser.add_argument("--profile", metavar="DIR", help="also record each server with py-spy into DIR")
    parser.add_argument("--pg-url", default=os.environ.get("RISK_BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()

    rows = []
    trained = _train_champion(args.seed)
    for backend in args.backends.split(","):
        if backend == "postgresql" and not _pg_reachable(args.pg_url):
            print(f"postgresql: skipped, {args.pg_url} not reachable", file=sys.stderr)
            continue
        results = run_backend(backend, args, trained)
        rows.append((backend, results))
        print(json.dumps({"backend": backend, **results}), file=sys.stderr)

    load = f"{args.seconds} s per endpoint (wrk)" if args.loader == "wrk" else f"{args.requests} requests (httpx)"
    print(
        f"\n{load}, {args.concurrency} concurrent clients, {args.workers} uvicorn worker(s) per server, "
        f"{os.cpu_count()} CPUs, load average before the run {os.getloadavg()[0]:.1f}"
    )
    header = f"{'backend':<11}{'endpoint':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}  statuses"
    print(header)
    print("-" * len(header))
    for backend, results in rows:
        for name, label in (
            ("predict", "bare xgboost predict"),
            ("floor", "auth+idempotency+commit"),
            ("decision", "limit decision (full)"),
        ):
            if name not in results:
                continue
            r = results[name]
            cpu = f"{r['server_cpu_ms']:.2f}" if "server_cpu_ms" in r else "-"
            figures = f"{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{cpu:>12}"
            print(f"{backend:<11}{label:<26}{figures}  {r['statuses']}")
            failed = _failures(r["statuses"])
            if failed:
                print(f"{'':<11}^ {failed} requests failed: these figures do not measure the endpoint's work")
        for name, label in (("floor", "floor / predict"), ("decision", "decision / predict")):
            if name not in results or "predict" not in results:
                continue
            ratio = results[name]["rps"] / results["predict"]["rps"]
            print(f"{backend:<11}{label:<26}{100 * ratio:>8.1f}%")


if __name__ == "__main__":
    main()
