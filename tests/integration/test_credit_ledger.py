"""The credit-line ledger on a real database: each movement, its record and audit entry, the bank quota,
random operation sequences checked against the pure model, and concurrent reservations."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from compliance import audit
from compliance.models import AuditEntry
from limits import ledger
from limits.credit_line import CreditLine, LineStatus, open_credit_line
from limits.models import BankAllocation, CreditLineRecord, CreditMovement
from risk_engine.errors import Conflict, DomainError, IllegalTransition
from tests.factories import make_bank, make_dealer

D = Decimal
CAUSE = ledger.Cause("test", "t-1")


def open_line(db, bank, dealer, limit="100000.00", **kw) -> str:
    with db.unit_of_work() as s:
        return ledger.open_line(
            s, dealer_id=dealer.id, bank_id=bank.id, limit=D(limit), cause=CAUSE, actor="test", **kw
        ).id


def read(db, line_id) -> CreditLineRecord:
    with db.session() as s:
        return s.get(CreditLineRecord, line_id)


def allocated(db, bank_id) -> Decimal:
    with db.session() as s:
        return s.scalar(select(BankAllocation.allocated).where(BankAllocation.bank_id == bank_id)) or D(
            "0.00"
        )


@pytest.fixture
def bank(db):
    return make_bank(db, quota=D("1000000.00"))


@pytest.fixture
def dealer(db):
    return make_dealer(db)


def test_a_reservation_is_one_movement_with_its_figures_and_audit_entry(db, bank, dealer):
    line_id = open_line(db, bank, dealer)
    with db.unit_of_work() as s:
        movement = ledger.reserve(
            s, line_id, D("30000.00"), cause=ledger.Cause("order_loan", "oln_1"), actor="platform:x"
        )
        movement_id = movement.id
    line = read(db, line_id)
    assert (line.limit, line.reserved, line.available, line.version) == (
        D("100000.00"),
        D("30000.00"),
        D("70000.00"),
        2,
    )
    with db.session() as s:
        m = s.get(CreditMovement, movement_id)
        assert (m.kind, m.amount, m.reserved_before, m.reserved_after) == (
            "reserve",
            D("30000.00"),
            0,
            D("30000.00"),
        )
        assert (m.caused_by_type, m.caused_by_id, m.actor) == ("order_loan", "oln_1", "platform:x")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.seq == m.audit_seq)).one()
        assert entry.action == "credit_line.reserve" and entry.subject_id == line_id
        assert audit.verify(s).intact


def test_a_second_reservation_beyond_the_limit_is_declined_and_nothing_is_written(db, bank, dealer):
    line_id = open_line(db, bank, dealer)
    with db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("60000.00"), cause=CAUSE, actor="test")
    with pytest.raises(Conflict) as caught, db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("40000.01"), cause=CAUSE, actor="test")
    assert caught.value.code == "insufficient_credit"
    assert caught.value.extra == {"available": "40000.00"}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditMovement)) == 2  # open + first reserve
    with db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("40000.00"), cause=CAUSE, actor="test")
    assert read(db, line_id).available == D("0.00")


def test_fen_amounts_that_floating_point_would_miscount_are_exact(db, bank, dealer):
    line_id = open_line(db, bank, dealer, limit="1.00")
    with db.unit_of_work() as s:
        for amount in ("0.10", "0.20", "0.70"):
            ledger.reserve(s, line_id, D(amount), cause=CAUSE, actor="test")
        ledger.release(s, line_id, D("0.30"), cause=CAUSE, actor="test")
        ledger.utilise(s, line_id, D("0.70"), cause=CAUSE, actor="test")
    line = read(db, line_id)
    assert (line.reserved, line.utilised, line.available) == (D("0.00"), D("0.70"), D("0.30"))


def test_a_frozen_line_refuses_reservations_and_names_why(db, bank, dealer):
    line_id = open_line(db, bank, dealer)
    with db.unit_of_work() as s:
        ledger.freeze(s, line_id, cause=CAUSE, actor="officer", reason="early warning")
    with pytest.raises(Conflict) as caught, db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("1.00"), cause=CAUSE, actor="test")
    assert caught.value.code == "line_frozen"
    with pytest.raises(IllegalTransition), db.unit_of_work() as s:
        ledger.freeze(s, line_id, cause=CAUSE, actor="officer")


def test_an_expired_line_refuses_reservations(db, bank, dealer):
    line_id = open_line(db, bank, dealer, expires_on=dt.date(2026, 6, 30))
    with pytest.raises(Conflict) as caught, db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("1.00"), cause=CAUSE, actor="test", on=dt.date(2026, 7, 1))
    assert caught.value.code == "line_expired"
    with db.unit_of_work() as s:
        ledger.reserve(s, line_id, D("1.00"), cause=CAUSE, actor="test", on=dt.date(2026, 6, 30))


def test_limits_are_allocated_from_the_bank_quota(db, dealer):
    bank = make_bank(db, quota=D("150000.00"))
    other = make_dealer(db)
    line_id = open_line(db, bank, dealer, limit="100000.00")
    assert allocated(db, bank.id) == D("100000.00")
    with pytest.raises(Conflict) as caught:
        open_line(db, bank, other, limit="50000.01")
    assert caught.value.code == "bank_quota_exceeded"
    assert caught.value.extra == {"remaining_quota": "50000.00"}
    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, D("40000.00"), cause=CAUSE, actor="test")
        assert ledger.remaining_quota(s, bank.id) == D("110000.00")
    other_line = open_line(db, bank, other, limit="110000.00")
    with db.unit_of_work() as s:
        ledger.close(s, other_line, cause=CAUSE, actor="test")
        assert ledger.remaining_quota(s, bank.id) == D("110000.00")
        ledger.reopen(s, other_line, D("60000.00"), cause=CAUSE, actor="test")
    assert allocated(db, bank.id) == D("100000.00")


def test_a_limit_change_sets_only_what_it_is_given(db, bank, dealer):
    """The movements' statements are built once with parameters: what a call leaves out (grade, expiry)
    stays as it was, what it gives is set, and a closed line reopens with the expiry it is given."""
    expiry = dt.date(2027, 6, 30)
    line_id = open_line(db, bank, dealer, grade="A", expires_on=expiry)
    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, D("90000.00"), cause=CAUSE, actor="test")
    line = read(db, line_id)
    assert (line.limit, line.grade, line.expires_on, line.version) == (D("90000.00"), "A", expiry, 2)
    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, D("80000.00"), grade="BBB", cause=CAUSE, actor="test")
    assert (read(db, line_id).grade, read(db, line_id).expires_on) == ("BBB", expiry)
    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, D("80000.00"), expires_on=None, cause=CAUSE, actor="test")
    assert (read(db, line_id).grade, read(db, line_id).expires_on) == ("BBB", None)
    with db.unit_of_work() as s:
        ledger.renew(s, line_id, expiry, cause=CAUSE, actor="test")
        ledger.close(s, line_id, cause=CAUSE, actor="test")
        ledger.reopen(s, line_id, D("70000.00"), expires_on=dt.date(2028, 1, 31), cause=CAUSE, actor="test")
    line = read(db, line_id)
    assert (line.status, line.limit, line.grade) == ("active", D("70000.00"), "BBB")
    assert line.expires_on == dt.date(2028, 1, 31)
    assert allocated(db, bank.id) == D("70000.00")


def test_the_audit_entry_of_a_limit_change_names_the_expiry_it_sets(db, bank, dealer):
    """A decision opens, re-rates or reopens a line with a fresh expiry; the trail must say so, or no one
    can tell from it until when the bank's money could be drawn."""
    line_id = open_line(db, bank, dealer, expires_on=dt.date(2027, 6, 30))
    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, D("90000.00"), expires_on=dt.date(2027, 12, 31), cause=CAUSE, actor="t")
        ledger.close(s, line_id, cause=CAUSE, actor="t")
        ledger.reopen(s, line_id, D("70000.00"), expires_on=dt.date(2028, 1, 31), cause=CAUSE, actor="t")
    with db.session() as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == line_id).order_by(AuditEntry.seq)
        ).all()
    expiries = {e.action: json.loads(e.payload).get("expires_on") for e in entries}
    assert expiries == {
        "credit_line.open": "2027-06-30",
        "credit_line.adjust": "2027-12-31",
        "credit_line.close": None,
        "credit_line.reopen": "2028-01-31",
    }


def test_one_line_per_dealer_and_bank(db, bank, dealer):
    open_line(db, bank, dealer)
    with pytest.raises(Conflict) as caught:
        open_line(db, bank, dealer)
    assert caught.value.code == "line_exists"


def test_the_database_refuses_a_negative_balance_whatever_the_caller(db, bank, dealer):
    from sqlalchemy.exc import IntegrityError

    line_id = open_line(db, bank, dealer)
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        s.execute(ledger.LINE.update().where(ledger.LINE.c.id == line_id).values(reserved=D("-0.01")))
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        s.execute(ledger.LINE.update().where(ledger.LINE.c.id == line_id).values(status="open"))


# --------------------------------------------------------------------------- random sequences vs the model

cents = st.integers(min_value=1, max_value=15_000_000).map(lambda n: D(n).scaleb(-2))
QUOTA = D("200000.00")


class LedgerMachine(RuleBasedStateMachine):
    """Random movements on one line in the database, each in its own transaction, mirrored on the pure
    model: the same movements succeed, the same ones fail with the same error, the figures agree."""

    def __init__(self, db) -> None:
        super().__init__()
        self.db = db

    @initialize(limit=st.integers(0, 20_000_000).map(lambda n: D(n).scaleb(-2)))
    def open(self, limit):
        self.bank = make_bank(self.db, quota=QUOTA)
        self.dealer = make_dealer(self.db)
        self.model: CreditLine | None = None
        self.attempt(
            "open",
            lambda s: ledger.open_line(
                s, dealer_id=self.dealer.id, bank_id=self.bank.id, limit=limit, cause=CAUSE, actor="test"
            ),
            lambda _: open_credit_line(limit) if limit <= QUOTA else _quota_exceeded(),
        )
        if self.model is None:  # over the quota: open within it instead
            self.attempt(
                "open",
                lambda s: ledger.open_line(
                    s, dealer_id=self.dealer.id, bank_id=self.bank.id, limit=QUOTA, cause=CAUSE, actor="test"
                ),
                lambda _: open_credit_line(QUOTA),
            )
        with self.db.session() as s:
            self.line_id = ledger.find_line(s, self.dealer.id, self.bank.id).id

    def attempt(self, name, on_db, on_model):
        expected_error = None
        try:
            expected = on_model(self.model)
        except DomainError as exc:
            expected, expected_error = None, exc
        try:
            with self.db.unit_of_work() as s:
                on_db(s)
        except DomainError as exc:
            assert expected_error is not None, (
                f"{name} refused by the ledger ({exc.code}) but the model allows it"
            )
            assert exc.code == expected_error.code, (
                f"{name}: ledger says {exc.code}, model {expected_error.code}"
            )
            return
        assert expected_error is None, (
            f"{name} accepted by the ledger but the model says {expected_error.code}"
        )
        self.model = expected

    def allocation_after(self, new_limit: Decimal) -> None:
        current = D("0.00") if self.model.status is LineStatus.CLOSED else self.model.limit
        if new_limit - current > QUOTA - current:
            _quota_exceeded()

    @rule(amount=cents)
    def reserve(self, amount):
        self.attempt(
            "reserve",
            lambda s: ledger.reserve(s, self.line_id, amount, cause=CAUSE, actor="t"),
            lambda m: m.reserve(amount),
        )

    @rule(amount=cents, whole=st.booleans())
    def release(self, amount, whole):
        amount = self.model.reserved if whole and self.model.reserved else amount
        self.attempt(
            "release",
            lambda s: ledger.release(s, self.line_id, amount, cause=CAUSE, actor="t"),
            lambda m: m.release(amount),
        )

    @rule(amount=cents, whole=st.booleans())
    def utilise(self, amount, whole):
        amount = self.model.reserved if whole and self.model.reserved else amount
        self.attempt(
            "utilise",
            lambda s: ledger.utilise(s, self.line_id, amount, cause=CAUSE, actor="t"),
            lambda m: m.utilise(amount),
        )

    @rule(amount=cents, whole=st.booleans())
    def repay(self, amount, whole):
        amount = self.model.utilised if whole and self.model.utilised else amount
        self.attempt(
            "repay",
            lambda s: ledger.repay(s, self.line_id, amount, cause=CAUSE, actor="t"),
            lambda m: m.repay(amount),
        )

    @rule(new_limit=st.integers(0, 25_000_000).map(lambda n: D(n).scaleb(-2)), cut=st.booleans())
    def adjust_limit(self, new_limit, cut):
        def model(m):
            after = m.adjust_limit(new_limit, below_exposure=cut)
            self.allocation_after(new_limit)
            return after

        self.attempt(
            "adjust",
            lambda s: ledger.adjust_limit(
                s, self.line_id, new_limit, below_exposure=cut, cause=CAUSE, actor="t"
            ),
            model,
        )

    @rule()
    def freeze(self):
        self.attempt(
            "freeze", lambda s: ledger.freeze(s, self.line_id, cause=CAUSE, actor="t"), lambda m: m.freeze()
        )

    @rule()
    def unfreeze(self):
        self.attempt(
            "unfreeze",
            lambda s: ledger.unfreeze(s, self.line_id, cause=CAUSE, actor="t"),
            lambda m: m.unfreeze(),
        )

    @rule()
    def close(self):
        self.attempt(
            "close", lambda s: ledger.close(s, self.line_id, cause=CAUSE, actor="t"), lambda m: m.close()
        )

    @rule(new_limit=st.integers(0, 25_000_000).map(lambda n: D(n).scaleb(-2)))
    def reopen(self, new_limit):
        def model(m):
            after = m.reopen(new_limit)
            self.allocation_after(new_limit)
            return after

        self.attempt(
            "reopen", lambda s: ledger.reopen(s, self.line_id, new_limit, cause=CAUSE, actor="t"), model
        )

    @invariant()
    def the_database_line_is_the_model_line(self):
        line = read(self.db, self.line_id)
        assert ledger.as_model(line) == self.model
        assert line.available == self.model.available >= 0

    @invariant()
    def the_bank_allocation_is_the_limit_of_the_open_line(self):
        expected = D("0.00") if self.model.status is LineStatus.CLOSED else self.model.limit
        assert allocated(self.db, self.bank.id) == expected <= QUOTA

    @invariant()
    def the_movements_add_up_to_the_balances(self):
        with self.db.session() as s:
            moves = s.scalars(
                select(CreditMovement)
                .where(CreditMovement.line_id == self.line_id)
                .order_by(CreditMovement.id)
            ).all()
        total = {
            k: sum((m.amount for m in moves if m.kind == k), D("0.00"))
            for k in ("reserve", "release", "utilise", "repay")
        }
        assert self.model.reserved == total["reserve"] - total["release"] - total["utilise"]
        assert self.model.utilised == total["utilise"] - total["repay"]
        for earlier, later in zip(
            moves, moves[1:], strict=False
        ):  # each movement starts where the last ended
            assert (
                later.limit_before,
                later.reserved_before,
                later.utilised_before,
                later.status_before,
            ) == (earlier.limit_after, earlier.reserved_after, earlier.utilised_after, earlier.status_after)


def _quota_exceeded():
    raise Conflict("over quota", code="bank_quota_exceeded")


def test_random_ledger_operations_on_the_database_keep_every_invariant(db):
    run_state_machine_as_test(
        lambda: LedgerMachine(db),
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    with db.session() as s:
        assert audit.verify(s).intact


# --------------------------------------------------------------------------- concurrency


def race_to_reserve(db, *, threads: int, limit: str, amount: str) -> tuple[list[str], list[str], str]:
    """``threads`` workers reserve ``amount`` on one line at the same moment, each in its own transaction."""
    bank = make_bank(db, quota=D("10000000.00"))
    dealer = make_dealer(db)
    line_id = open_line(db, bank, dealer, limit=limit)
    start = threading.Barrier(threads)
    won: list[str] = []
    lost: list[str] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            with db.unit_of_work() as s:
                ledger.reserve(
                    s, line_id, D(amount), cause=ledger.Cause("order_loan", f"race-{n}"), actor="t"
                )
            won.append(f"race-{n}")
        except Conflict as exc:
            lost.append(exc.code)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    return won, lost, line_id


def assert_the_limit_held(db, won, lost, line_id, *, affordable: int, amount: str, limit: str):
    line = read(db, line_id)
    assert len(won) == affordable and len(lost) == 32 - affordable
    assert set(lost) == {"insufficient_credit"}
    assert line.reserved == D(amount) * affordable <= D(limit)
    with db.session() as s:
        reserved_by_movements = s.scalar(
            select(func.sum(CreditMovement.amount)).where(
                CreditMovement.line_id == line_id, CreditMovement.kind == "reserve"
            )
        )
        assert D(str(reserved_by_movements)).quantize(D("0.01")) == line.reserved
        assert audit.verify(s).intact


def test_32_threads_racing_to_reserve_on_postgresql_never_exceed_the_limit(pg_db):
    won, lost, line_id = race_to_reserve(pg_db, threads=32, limit="100000.00", amount="7000.00")
    assert_the_limit_held(pg_db, won, lost, line_id, affordable=14, amount="7000.00", limit="100000.00")


def test_32_threads_racing_to_reserve_on_sqlite_never_exceed_the_limit(sqlite_db):
    db = sqlite_db
    won, lost, line_id = race_to_reserve(db, threads=32, limit="100000.00", amount="7000.00")
    assert_the_limit_held(db, won, lost, line_id, affordable=14, amount="7000.00", limit="100000.00")


def race_to_open_lines(db, *, threads: int, quota: str, limit: str) -> tuple[int, str]:
    bank = make_bank(db, quota=D(quota))
    dealers = [make_dealer(db) for _ in range(threads)]
    start = threading.Barrier(threads)
    won: list[str] = []

    def worker(dealer) -> None:
        start.wait()
        try:
            with db.unit_of_work() as s:
                ledger.lock_bank_quota(s, bank.id)
                ledger.open_line(
                    s, dealer_id=dealer.id, bank_id=bank.id, limit=D(limit), cause=CAUSE, actor="t"
                )
            won.append(dealer.id)
        except Conflict as exc:
            assert exc.code == "bank_quota_exceeded"

    workers = [threading.Thread(target=worker, args=(d,)) for d in dealers]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    return len(won), bank.id


def assert_the_quota_held(db, opened, bank_id):
    assert opened == 3
    assert allocated(db, bank_id) == D("900000.00")
    with db.session() as s:
        total = s.scalar(select(func.sum(CreditLineRecord.limit)).where(CreditLineRecord.bank_id == bank_id))
    assert D(str(total)).quantize(D("0.01")) == D("900000.00")


def test_concurrent_limit_assignments_on_postgresql_never_exceed_the_bank_quota(pg_db):
    assert_the_quota_held(
        pg_db, *race_to_open_lines(pg_db, threads=16, quota="1000000.00", limit="300000.00")
    )


def test_concurrent_limit_assignments_on_sqlite_never_exceed_the_bank_quota(sqlite_db):
    db = sqlite_db
    assert_the_quota_held(db, *race_to_open_lines(db, threads=16, quota="1000000.00", limit="300000.00"))
