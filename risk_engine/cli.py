"""The ``risk-engine`` command line (CONTRACT.md)."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from compliance.cli import keys_app, report_app
from loan_monitoring.cli import lpr_app
from risk_engine.db import get_database
from risk_engine.errors import DomainError
from risk_engine.settings import Settings, get_settings
from scoring import registry_cli  # noqa: F401  (adds train, list, promote and card to `model`)
from scoring.cli import model_app
from scoring.jobs import early_warning_reads_trade_features


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class _Commands(TyperGroup):
    """Every command, with the failures an operator fixes outside the code told in one line, exit 2:
    settings refused (``RISK_ENV=production`` with SQLite, a missing keys directory, a bad value) and a
    database not migrated to this version's schema; and a domain refusal no command worded itself (an unknown
    model version, too little data to train) in one line, exit 1. Anything else keeps its traceback: a bug."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise
            _fail(f"settings refused: {settings_problem(exc)}", code=2)
        except DBAPIError as exc:
            problem = schema_problem(exc)
            if problem is None:
                raise
            _fail(problem, code=2)
        except DomainError as exc:  # a refusal the command did not word itself (an unknown version...)
            _fail(f"{exc.field + ': ' if exc.field else ''}{exc.detail}")


def settings_problem(exc: ValidationError) -> str:
    """Which variable and why, from the settings object's validation error."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        variable = f"RISK_{str(error['loc'][0]).upper()}" if error["loc"] else None
        problems.append(f"{variable}: {message}" if variable else message)
    return "; ".join(problems)


_UNDEFINED_OBJECT = {"42P01", "42703"}  # PostgreSQL: undefined table, undefined column


def schema_problem(exc: DBAPIError) -> str | None:
    """What to do when a statement failed for want of a table or column the migrations create; None when the
    failure is something else or the database is at the newest revision (then it is not a migration matter)."""
    from risk_engine import migrations

    message = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
    missing = getattr(exc.orig, "sqlstate", None) in _UNDEFINED_OBJECT or message.startswith(
        ("no such table", "no such column"))
    if not missing:
        return None
    try:
        with get_database().engine.connect() as connection:
            current = migrations.current_revision(connection)
        head = migrations.head_revision()
    except Exception:  # cannot tell: report the original failure as it is
        return None
    if current == head:
        return None
    where = "is not migrated" if current is None else f"is at revision {current}, this version needs {head}"
    return f"the database {where} ({message}): run `risk-engine db upgrade` first"


app = typer.Typer(help="Credit-risk engine for supply-chain finance.", no_args_is_help=True, cls=_Commands)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
clients_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo platform.", no_args_is_help=True)
data_app = typer.Typer(help="Platform trade data.", no_args_is_help=True)
jobs_app = typer.Typer(help="Scheduled jobs, run one at a time.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")
app.add_typer(demo_app, name="demo")
app.add_typer(data_app, name="data")
app.add_typer(jobs_app, name="jobs")
app.add_typer(keys_app, name="keys")
app.add_typer(report_app, name="report")
app.add_typer(model_app, name="model")
app.add_typer(lpr_app, name="lpr")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the newest Alembic revision."""
    from risk_engine import migrations

    settings = get_settings()
    migrations.upgrade(settings.database_url, revision=revision)
    typer.echo(f"database at {migrations.head_revision() if revision == 'head' else revision}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the API and the risk-officer console."""
    from api.observability import configure_logging
    from risk_engine import serving

    settings = get_settings()
    configure_logging(settings.log_level)
    # forwarded headers only from the proxies named in RISK_FORWARDED_ALLOW_IPS (none by default)
    proxy: dict[str, object] = (
        {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
        if settings.forwarded_allow_ips else {"proxy_headers": False})
    if workers <= 1:
        serving.run("api.main:app", host=host, port=port, workers=workers, log_config=None, access_log=False,
                    **proxy)
        return
    # each worker counts its own requests: prometheus_client's multi-process mode keeps every worker's
    # figures in files of one directory (set before the workers start), and /metrics sums them
    with tempfile.TemporaryDirectory(prefix="risk-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        serving.run("api.main:app", host=host, port=port, workers=workers, log_config=None, access_log=False,
                    **proxy)


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="who the client is, e.g. the bank's integration")],
    role: Annotated[str, typer.Option(help="platform, bank, risk_officer or admin")],
    bank: Annotated[str | None, typer.Option(help="bank id (bank clients only)")] = None,
) -> None:
    """Create an API client; prints its key once (only a hash is stored)."""
    from api.clients import create_client

    try:
        with get_database().unit_of_work() as session:
            issued = create_client(session, name=name, role=role, bank_id=bank)
            client_id = issued.client.id
    except DomainError as exc:
        _fail(f"{exc.field + ': ' if exc.field else ''}{exc.detail}")
    typer.echo(json.dumps({"client_id": client_id, "role": role, "bank_id": bank, "key": issued.key}))
    typer.echo("store this key now: it is not shown again", err=True)


@clients_app.command("list")
def clients_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked clients")] = False,
) -> None:
    """The API clients, one JSON object per line: id, name, role, bank, the key's first characters."""
    from api.clients import client_view, list_clients

    with get_database().session() as session:
        for client in list_clients(session, include_revoked=all_):
            typer.echo(json.dumps(client_view(client), ensure_ascii=False))


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[str, typer.Argument(help="the client's id (risk-engine clients list)")],
    reason: Annotated[str, typer.Option(help="why: a leaver, a leaked key... (kept in the audit trail)")],
) -> None:
    """Revoke a client's key (audited). Workers that cached it refuse it within RISK_API_KEY_CACHE_SECONDS."""
    from api.clients import client_view, revoke_client
    from loan_monitoring.cli import operator_actor

    try:
        with get_database().unit_of_work() as session:
            view = client_view(revoke_client(session, client_id, reason=reason, actor=operator_actor()))
    except DomainError as exc:
        _fail(f"{exc.field + ': ' if exc.field else ''}{exc.detail}")
    typer.echo(json.dumps(view, ensure_ascii=False))


@audit_app.command("verify")
def audit_verify(
    jwks: Annotated[str | None, typer.Option(
        "--jwks", help="check checkpoint signatures against this JWKS (file or URL), not the local keys",
    )] = None,
) -> None:
    """Check the whole audit trail: the hash chain, the Merkle tree and every signed checkpoint.
    Exit 0 when intact, 1 naming the first bad entry (or checkpoint)."""
    from compliance import checkpoints
    from compliance.cli import key_provider, verification_jwks

    database = get_database()  # settings first: their refusal is a ValueError too, told by _Commands
    try:
        keyset = verification_jwks(jwks)
    except ValueError as exc:
        _fail(str(exc), code=2)
    with database.snapshot() as session:  # a checkpoint signed meanwhile is not a truncated tail
        report = checkpoints.verify_trail(session, keyset or {"keys": []})
    if keyset is None and report.checkpoints:
        _fail(f"cannot check the signatures of {report.checkpoints} checkpoints: no signing keys in "
              f"{key_provider().keys_dir.resolve()} (RISK_KEYS_DIR); point it at the engine's keys or pass "
              "--jwks with the published key set", code=2)
    if report.intact:
        typer.echo(json.dumps({"status": "intact", "entries": report.entries, "head_hash": report.head_hash,
                               "root_hash": report.root_hash, "checkpoints": report.checkpoints,
                               "untrusted_checkpoints": list(report.untrusted_checkpoints)}))
        if report.untrusted_checkpoints:
            typer.echo(f"{len(report.untrusted_checkpoints)} checkpoints were signed with a revoked key and vouch "
                       "for nothing: the chain and the other checkpoints were checked", err=True)
        return
    typer.echo(json.dumps({"status": "broken", "entries_verified": report.entries,
                           "first_bad_entry": report.problem.seq, "bad_checkpoint": report.problem.checkpoint,
                           "reason": report.problem.reason}))
    typer.echo(f"audit trail broken: {report.problem}", err=True)
    raise typer.Exit(1)


@data_app.command("load")
def data_load(
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files, one event type each", exists=True,
                                                dir_okay=False, readable=True)],
    event_type: Annotated[str | None, typer.Option("--type", help="event type of every file "
                                                   "(default: a `type` column or the file name)")] = None,
    report: Annotated[Path, typer.Option(help="rejected-rows report (CSV)")] = Path("var/rejected-rows.csv"),
    chunk_rows: Annotated[int, typer.Option(min=1, max=100_000)] = 2000,
) -> None:
    """Load trade events from files, streamed in chunks, with the same validation as POST /v1/events."""
    from risk_engine.trade.loader import load_files

    report.parent.mkdir(parents=True, exist_ok=True)
    db = get_database()
    summary = load_files(db.unit_of_work, list(files), actor="system:data-load", report_path=report,
                         kind=event_type, chunk_rows=chunk_rows)
    typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
    if summary.rejected:  # the good rows are loaded; a script running the load must still notice
        typer.echo(f"{summary.rejected} rows rejected: see {report}", err=True)
        raise typer.Exit(1)


@demo_app.command("seed")
def demo_seed(
    dealers: Annotated[int, typer.Option(min=1, max=200_000, help="dealers to generate")] = 2000,
    months: Annotated[int, typer.Option(min=13, max=60, help="months of trade history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same platform")] = 0,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="keep an already seeded platform")] = False,
    decisions: Annotated[int, typer.Option(min=0, help="demo credit-limit requests to decide")] = 150,
    loans: Annotated[int, typer.Option(min=0, help="demo order loans, at most, for the dealers holding a line")] = 400,
    keys_file: Annotated[Path, typer.Option(help="where the demo keys are kept (local use only)")] = Path(
        "var/demo-keys.json"),
) -> None:
    """Seed the demo: banks, a guarantor, API clients, a synthetic platform loaded through the real
    services, the default rule set, a champion model trained on it, a first batch of decisions, order
    loans with one run of the monitoring jobs; prints the demo keys."""
    from compliance.keys import FileKeyProvider
    from risk_engine import bootstrap

    settings = get_settings()
    if settings.env == "production":
        _fail("demo seeding is refused when RISK_ENV=production")
    db = get_database()
    with db.unit_of_work() as session:
        keys = bootstrap.seed_demo(session, keys_file=keys_file, only_if_empty=if_empty)
    with db.session() as session:
        empty = bootstrap.platform_is_empty(session)
    started = time.monotonic()

    def progress(msg: str) -> None:
        typer.echo(f"seed [{time.monotonic() - started:6.1f}s] {msg}", err=True)

    blacklist_file = settings.blacklist_file or bootstrap.DEMO_BLACKLIST
    if bootstrap.write_demo_blacklist(blacklist_file):
        progress(f"synthetic blacklist written to {blacklist_file} (serve with RISK_BLACKLIST_FILE={blacklist_file}; "
                 "`make run` does)")
    from compliance.kyb import load_blacklist

    blacklist = load_blacklist(blacklist_file)

    if empty:
        loaded = bootstrap.seed_platform(db, FileKeyProvider(settings.keys_dir), dealers=dealers, months=months,
                                         seed=seed, progress=progress)
        progress(f"{loaded.dealers} dealers, {loaded.suppliers} suppliers, {loaded.events} trade events "
                 f"({loaded.rejected} rejected), {loaded.credit_lines} credit lines")
        for reason, count in loaded.rejected_by_reason.most_common():
            progress(f"  rejected {count}: {reason}")
    try:
        champion = bootstrap.seed_model_and_rules(db, settings.models_dir, seed=seed, progress=progress)
    except DomainError as exc:  # a tiny demo may have too little history to train on
        progress(f"no model trained: {exc.detail}")
        champion = None
    if empty and champion and decisions:
        from scoring.registry import RegistryScorer
        from scoring.snapshots import SnapshotFeatureSource

        bootstrap.seed_decisions(db, scorer=RegistryScorer(db, settings.models_dir),
                                 features=SnapshotFeatureSource(), dealers=decisions, seed=seed, progress=progress,
                                 blacklist=blacklist)
    if empty and loans:
        bootstrap.seed_order_loans(db, settings, FileKeyProvider(settings.keys_dir), loans=loans, seed=seed,
                                   progress=progress)
    typer.echo(bootstrap.format_keys(keys))


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--as-of must be an RFC 3339 time, e.g. 2026-01-31T16:30:00Z: {value!r}", code=2)
    if moment.tzinfo is None:
        _fail("--as-of needs a time zone (e.g. a trailing Z)", code=2)
    return moment


def _run_job_once(name: str, as_of: str | None) -> None:
    from risk_engine import scheduler

    # refused settings or a bad --as-of are the caller's mistake, not a failed run
    database, settings, moment = get_database(), get_settings(), _as_of(as_of)
    try:
        with early_warning_reads_trade_features():
            outcome = scheduler.run_job(database, settings, name, as_of=moment)
    except DomainError as exc:
        if exc.code == "unknown_job":  # the caller's mistake, as a bad --as-of
            _fail(exc.detail, code=2)
        _fail(f"job {name} failed: {exc.detail}")  # recorded as a failed run, like any other failure
    except Exception as exc:  # the run is recorded as failed; say so and exit non-zero
        if isinstance(exc, DBAPIError) and (problem := schema_problem(exc)):
            _fail(problem, code=2)
        _fail(f"job {name} failed: {exc}")
    typer.echo(json.dumps(outcome.as_dict(), ensure_ascii=False, default=str))


@app.command("scheduler")
def scheduler_serve(
    run_once: Annotated[str | None, typer.Option("--run-once", metavar="JOB",
                                                 help="run this job once now and exit")] = None,
    as_of: Annotated[str | None, typer.Option(help="with --run-once: the moment to run for (RFC 3339)")] = None,
) -> None:
    """The one process that runs scheduled jobs (APScheduler); each slot runs once across schedulers."""
    from api.observability import configure_logging
    from risk_engine import scheduler

    if run_once:
        _run_job_once(run_once, as_of)
        return
    settings = get_settings()
    configure_logging(settings.log_level)
    with early_warning_reads_trade_features():
        scheduler.serve(get_database(), settings)


@jobs_app.command("list")
def jobs_list() -> None:
    """The registered jobs and when they fire."""
    from risk_engine import scheduler

    for job in scheduler.registered_jobs().values():
        typer.echo(json.dumps({"job": job.name, "cron": job.cron, "description": job.description}))


@jobs_app.command("run")
def jobs_run(
    job: Annotated[str, typer.Argument(help="the job's name (risk-engine jobs list)")],
    as_of: Annotated[str | None, typer.Option(help="the moment to run for (RFC 3339); default now")] = None,
) -> None:
    """Run one job once now (recorded as a manual run); prints its result."""
    _run_job_once(job, as_of)


@jobs_app.command("runs")
def jobs_runs(
    job: Annotated[str | None, typer.Option(help="only this job")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """The latest runs, newest first."""
    from risk_engine import scheduler

    for run in scheduler.recent_runs(get_database(), job, limit):
        typer.echo(json.dumps(run, ensure_ascii=False, default=str))


def main() -> None:  # pragma: no cover
    app(prog_name="risk-engine")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
