"""The demo seed's order loans: a small platform, its lines' loans through the loan services, one run of
the monitoring jobs — and everything as the real services leave it (audit chain, ledger, alerts)."""

from collections import Counter, defaultdict
from decimal import Decimal

from sqlalchemy import select

from compliance import audit
from compliance.keys import FileKeyProvider
from limits.models import CreditLineRecord, CreditMovement
from loan_monitoring.models import Alert, OrderLoan
from risk_engine import bootstrap
from risk_engine.parties.models import Bank

ZERO = Decimal("0.00")


def seed_small_demo(db, settings, tmp_path, *, dealers=80, seed=0):
    keys = FileKeyProvider(settings.keys_dir)
    with db.unit_of_work() as s:
        bootstrap.seed_demo(s, keys_file=tmp_path / "demo-keys.json", only_if_empty=False)
    bootstrap.seed_platform(db, keys, dealers=dealers, months=14, seed=seed, progress=lambda _msg: None)
    return bootstrap.seed_order_loans(db, settings, keys, loans=400, seed=seed, progress=lambda _msg: None)


def test_a_small_demo_seed_lends_to_line_holders_and_its_loans_fill_every_bucket(db, settings, tmp_path):
    jobs = seed_small_demo(db, settings, tmp_path)

    with db.session() as s:
        loans = s.scalars(select(OrderLoan)).all()
        alerts = s.scalars(select(Alert)).all()
        chain = audit.verify(s)
    states = {loan.state for loan in loans}
    outstanding = [loan for loan in loans if loan.state in ("disbursed", "overdue", "defaulted")]
    assert {"repaid", "disbursed", "overdue"} <= states
    assert sum(loan.state == "repaid" for loan in loans) > len(outstanding) / 2  # most are repaid
    assert {"current", "1-30", "31-60", "61-90"} <= {loan.bucket for loan in outstanding}
    for loan in outstanding:
        assert (loan.days_past_due > 0) == (loan.state != "disbursed")
    assert jobs["loan_delinquency_daily"]["fall_overdue"] >= 3

    overdue_dealers = {loan.dealer_id for loan in loans if loan.state == "overdue"}
    dpd_alerts = {a.dealer_id for a in alerts if a.kind == "days_past_due" and a.status == "open"}
    assert overdue_dealers <= dpd_alerts
    assert chain.intact, chain


def test_the_demo_loans_keep_the_credit_ledger_consistent(db, settings, tmp_path):
    seed_small_demo(db, settings, tmp_path, seed=1)

    with db.session() as s:
        lines = {line.id: line for line in s.scalars(select(CreditLineRecord))}
        loans = s.scalars(select(OrderLoan)).all()
        movements = s.scalars(select(CreditMovement).order_by(CreditMovement.id)).all()
        banks = s.scalars(select(Bank.id).order_by(Bank.created_at)).all()
    lines_at = Counter(line.bank_id for line in lines.values())
    assert lines_at[banks[0]] > lines_at[banks[2]] > 0  # at the bank the generator chose: every bank has some
    assert any(loan.line_id for loan in loans)
    held = defaultdict(lambda: [ZERO, ZERO])
    for loan in loans:
        assert ZERO <= loan.disbursed_amount <= loan.approved_amount <= loan.amount
        if loan.line_id:
            held[loan.line_id][0] += loan.reserved_held
            held[loan.line_id][1] += loan.outstanding_principal
    by_line = defaultdict(list)
    for movement in movements:
        by_line[movement.line_id].append(movement)
        assert movement.audit_seq is not None
    for line_id, line in lines.items():
        assert line.limit - line.reserved - line.utilised >= 0
        assert [line.reserved, line.utilised] == held[line_id]  # the line holds exactly what its loans hold
        moves = by_line[line_id]
        for earlier, later in zip(moves, moves[1:], strict=False):  # each movement starts where the last ended
            assert (later.reserved_before, later.utilised_before, later.limit_before) == (
                earlier.reserved_after, earlier.utilised_after, earlier.limit_after)
        assert (moves[-1].reserved_after, moves[-1].utilised_after) == (line.reserved, line.utilised)
