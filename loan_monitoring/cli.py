"""``risk-engine lpr …`` (mounted by ``risk_engine.cli``): the one-year LPR table behind the order-loan APR
cap — record an announced fixing, confirm the table through a date, show it."""
from __future__ import annotations

import getpass
import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

import typer

from risk_engine.errors import DomainError

lpr_app = typer.Typer(
    help="The one-year LPR table (order-loan APR cap): add fixings, confirm it through a date, show it.",
    no_args_is_help=True,
)
FIXING_SOURCE = "PBOC / NIFC one-year LPR announcement"
CONFIRMATION_SOURCE = "PBOC / NIFC announcements checked: no change beyond the fixings recorded"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def operator_actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "operator:cli"


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD: {value!r}", code=2)


def _today() -> date:
    from loan_monitoring.dates import business_date

    return business_date(datetime.now(UTC))


Actor = Annotated[str | None, typer.Option(help="who records it, for the audit trail (default operator:<login>)")]


@lpr_app.command("add")
def lpr_add(
    effective: Annotated[str, typer.Option("--effective", help="the date the fixing takes effect (YYYY-MM-DD)")],
    rate: Annotated[str, typer.Option("--rate", help="the one-year LPR in percent, as published (e.g. 3.00)")],
    source: Annotated[str, typer.Option(help="where it was published")] = FIXING_SOURCE,
    actor: Actor = None,
) -> None:
    """Record an announced one-year LPR fixing (it also confirms the table through its date); audited."""
    from loan_monitoring import lpr_records
    from risk_engine.db import get_database

    day = _day(effective, "--effective")
    try:
        percent = Decimal(rate)
    except InvalidOperation:
        _fail(f"--rate must be a percent such as 3.00: {rate!r}", code=2)
    try:
        with get_database().unit_of_work() as session:
            row = lpr_records.record_fixing(
                session, effective_date=day, rate_percent=percent, source=source, actor=actor or operator_actor(),
                today=_today(),
            )
            recorded = {"fixing_id": row.id, "effective_date": day.isoformat(),
                        "one_year_lpr_percent": str(row.rate * 100), "audit_seq": row.audit_seq}
    except DomainError as exc:
        _fail(f"{exc.field + ': ' if exc.field else ''}{exc.detail}")
    typer.echo(json.dumps(recorded))


@lpr_app.command("confirm")
def lpr_confirm(
    through: Annotated[str, typer.Option("--through", help="the table is complete through this date (YYYY-MM-DD)")],
    source: Annotated[str, typer.Option(help="what was checked")] = CONFIRMATION_SOURCE,
    actor: Actor = None,
) -> None:
    """Record that no fixing up to ``--through`` changed the rate beyond those in the table; audited."""
    from loan_monitoring import lpr_records
    from risk_engine.db import get_database

    day = _day(through, "--through")
    try:
        with get_database().unit_of_work() as session:
            row = lpr_records.record_confirmation(
                session, through=day, source=source, actor=actor or operator_actor(), today=_today()
            )
            recorded = {"confirmation_id": row.id, "confirmed_through": day.isoformat(), "audit_seq": row.audit_seq}
    except DomainError as exc:
        _fail(f"{exc.field + ': ' if exc.field else ''}{exc.detail}")
    typer.echo(json.dumps(recorded))


@lpr_app.command("show")
def lpr_show() -> None:
    """The table in force: confirmed through, whether today is covered, every fixing and record (JSON)."""
    from loan_monitoring import lpr_records
    from risk_engine.db import get_database
    from risk_engine.settings import get_settings

    settings = get_settings()
    with get_database().session() as session:
        view = lpr_records.table_view(session, settings, today=_today())
    typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
    if not view["current_today"]:
        typer.echo(
            f"warning: the table is confirmed only through {view['confirmed_through']}: order loans decided after "
            f"{view['current_until']} are referred until an operator records the fixings or confirms the table",
            err=True,
        )
