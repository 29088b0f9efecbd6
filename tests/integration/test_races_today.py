"""Today's write paths raced, with real threads on PostgreSQL, against what can run beside them: amendments
of a bank's or a guarantor's terms and a dealer's guarantor against limit decisions, the expiry job against
a re-rating and a reservation, a second approval against a superseding decision, a withdrawal against an
officer's resolution, and two retries of one refused disbursement. Each race starts its parties at a barrier
and is run a few times; whatever order PostgreSQL picks, the lock order holds (no deadlock, no 500), no cap
is exceeded, and every state change has exactly one audit entry."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from compliance import audit
from compliance.models import AuditEntry
from limits import jobs, ledger
from limits.models import BankAllocation, CreditLineRecord
from loan_monitoring import applications
from loan_monitoring.dates import business_date
from loan_monitoring.models import Alert, OrderLoan
from loan_monitoring.schemas import OrderLoanIn
from risk_engine.decisions import reviews, service
from risk_engine.decisions.models import Decision, ReviewCase
from risk_engine.decisions.schemas import CreditLimitRequestIn
from risk_engine.errors import Conflict, DomainError
from risk_engine.parties import terms
from risk_engine.parties.schemas import BankAmendmentIn, GuarantorAmendmentIn, GuarantorAssignmentIn
from tests.conftest import make_client
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import account_number, auth, make_api_key, make_bank, make_dealer, make_guarantor
from tests.loan_factories import ingest, line_figures, loan, loan_world, make_approved_loan

pytestmark = pytest.mark.postgres

D = Decimal
ROUNDS = 3


def race(work: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run each call in its own thread, all released together at a barrier; each one's result or exception."""
    start, outcomes = threading.Barrier(len(work), timeout=30), {}

    def run(name: str) -> None:
        start.wait()
        try:
            outcomes[name] = work[name]()
        except BaseException as exc:  # noqa: BLE001 - judged by the test
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer is still waiting: a lock was never released"
    return outcomes


def no_failures(outcomes: dict[str, Any], allowed: tuple[type[BaseException], ...] = ()) -> None:
    """Nothing but results and the domain refusals the race may legitimately produce (never a deadlock)."""
    unexpected = {name: o for name, o in outcomes.items()
                  if isinstance(o, BaseException) and not isinstance(o, allowed)}
    assert unexpected == {}, unexpected


def decide(db, dealer_id: str, bank_id: str, features, **request) -> Decision:
    with db.unit_of_work() as s:
        return service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=dealer_id, bank_id=bank_id, **request), scorer=tiny_xgb_scorer(),
            features=features, actor="platform:test")


def entries(db, action: str, subject_id: str | None = None) -> list[AuditEntry]:
    with db.session() as s:
        statement = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        if subject_id is not None:
            statement = statement.where(AuditEntry.subject_id == subject_id)
        return list(s.scalars(statement))


def assert_books_balance(db, bank_id: str) -> None:
    """The bank's allocation is the sum of its open lines' limits, and the audit chain is intact."""
    with db.session() as s:
        allocated = s.scalar(select(BankAllocation.allocated).where(BankAllocation.bank_id == bank_id)) or 0
        open_limits = sum(s.scalars(select(CreditLineRecord.limit).where(
            CreditLineRecord.bank_id == bank_id, CreditLineRecord.status != "closed")), D("0.00"))
        assert D(str(allocated)) == open_limits
        assert audit.verify(s).intact


@pytest.fixture
def features():
    return DictFeatureSource()


# --------------------------------------------------------------------------- 1. terms against decisions


def test_a_quota_lowered_while_decisions_run_at_the_bank_is_never_exceeded_after_it(pg_db, features):
    """Replayed in commit (audit) order: decisions committed after the amendment never take the allocation
    past the new quota, and the bank's allocation stays the sum of its open lines. A decision that waited
    for the amendment's lock is sized on the new quota (the next test); none gets a 500 or overdraws it."""
    def one_round(_: int) -> None:
        bank = make_bank(pg_db, quota=D("10000000.00"))
        dealers = [make_dealer(pg_db) for _ in range(6)]
        work = {d.id: (lambda d=d: decide(pg_db, d.id, bank.id, features)) for d in dealers}
        work["amend"] = lambda: _amend_bank(pg_db, bank.id, quota=D("1500000.00"))
        outcomes = race(work)
        no_failures(outcomes, allowed=(Conflict,))
        amendment = outcomes.pop("amend")
        assert amendment.audit_seq is not None and len(entries(pg_db, "bank.amended", bank.id)) == 1
        refused = [o for o in outcomes.values() if isinstance(o, Conflict)]
        assert {r.code for r in refused} <= {"bank_quota_exceeded"}
        decided = [o for o in outcomes.values() if not isinstance(o, Conflict)]
        quota, allocated = D("10000000.00"), D("0.00")
        for _seq, decision in sorted([(amendment.audit_seq, None)] + [(d.audit_seq, d) for d in decided],
                                     key=lambda pair: pair[0]):
            if decision is None:
                quota = D("1500000.00")
            elif decision.outcome == "approve":
                allocated += decision.limit
                assert allocated <= quota
        with pg_db.session() as s:
            assert ledger.remaining_quota(s, bank.id) == D("1500000.00") - allocated
        assert_books_balance(pg_db, bank.id)

    for _ in range(ROUNDS):
        one_round(_)


def _wait_until_blocked_on_a_lock(db, thread: threading.Thread, timeout: float = 10.0) -> None:
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND wait_event_type = 'Lock'")).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the other transaction never waited for a lock")


def test_a_decision_that_waited_for_a_quota_amendment_is_sized_on_the_new_quota(pg_db, features):
    bank, dealer = make_bank(pg_db, quota=D("10000000.00")), make_dealer(pg_db)
    with pg_db.unit_of_work() as s:  # the bank's allocation row exists (it has had a line)
        ledger.lock_bank_quota(s, bank.id)
    outcome = {}

    def run():
        try:
            outcome["decision"] = decide(pg_db, dealer.id, bank.id, features)
        except BaseException as exc:  # noqa: BLE001 - judged below
            outcome["decision"] = exc

    with pg_db.unit_of_work() as s:  # the amendment holds the quota row until this block commits
        terms.amend_bank(s, bank.id, BankAmendmentIn(quota=D("100000.00"), reason="appetite cut"), actor="admin:t")
        later = threading.Thread(target=run)
        later.start()
        _wait_until_blocked_on_a_lock(pg_db, later)
    later.join(timeout=30)
    decision = outcome["decision"]
    assert isinstance(decision, Decision), decision  # it was 409 bank_quota_exceeded, sized on 10,000,000.00
    assert json.loads(decision.inputs)["limit_inputs"]["bank_remaining_quota"] == "100000.00"
    assert decision.limit <= D("100000.00")


def test_a_decision_that_read_the_bank_before_its_product_cap_was_lowered_is_held_to_the_new_cap(pg_db):
    bank, dealer = make_bank(pg_db, max_line_amount=D("2000000.00")), make_dealer(pg_db)

    class LowersTheCapWhileScoring(DictFeatureSource):
        def features_for(self, session, dealer_id, as_of):  # after the bank is read, before the locks
            _amend_bank(pg_db, bank.id, max_line_amount=D("100000.00"))
            return super().features_for(session, dealer_id, as_of)

    decision = decide(pg_db, dealer.id, bank.id, LowersTheCapWhileScoring())
    assert decision.limit <= D("100000.00")


def _amend_bank(db, bank_id: str, **new_terms) -> terms.Amendment:
    with db.unit_of_work() as s:
        return terms.amend_bank(s, bank_id, BankAmendmentIn(reason="bank letter", **new_terms), actor="admin:test")


def test_two_amendments_of_one_bank_at_once_each_record_the_terms_the_other_left_and_keep_the_tenors_ordered(
    pg_db
):
    """The second amendment waits for the first's locks; it must then judge and record the bank as the first
    left it, not as it read it before waiting."""
    def one_round(_: int) -> None:
        bank = make_bank(pg_db, min_tenor_days=30, max_tenor_days=180)
        outcomes = race({
            "shorter": lambda b=bank: _amend_bank(pg_db, b.id, max_tenor_days=60),
            "longer_minimum": lambda b=bank: _amend_bank(pg_db, b.id, min_tenor_days=90),
        })
        no_failures(outcomes, allowed=(DomainError,))
        refused = [o for o in outcomes.values() if isinstance(o, DomainError)]
        assert [r.code for r in refused] == ["tenor_range"]  # whichever came second
        with pg_db.session() as s:
            from risk_engine.parties.models import Bank

            row = s.get(Bank, bank.id)
            assert row.min_tenor_days <= row.max_tenor_days

    for _ in range(ROUNDS):
        one_round(_)


def test_an_amendment_that_waited_for_another_judges_the_bank_as_the_other_left_it(pg_db):
    """The same race with the interleaving forced: the second has read the bank before it waits."""
    bank, outcome = make_bank(pg_db, min_tenor_days=30, max_tenor_days=180), {}

    def longer_minimum():
        try:
            outcome["second"] = _amend_bank(pg_db, bank.id, min_tenor_days=90)
        except BaseException as exc:  # noqa: BLE001 - judged below
            outcome["second"] = exc

    with pg_db.unit_of_work() as s:
        terms.amend_bank(s, bank.id, BankAmendmentIn(max_tenor_days=60, reason="shorter"), actor="admin:a")
        later = threading.Thread(target=longer_minimum)
        later.start()
        _wait_until_blocked_on_a_lock(pg_db, later)
    later.join(timeout=30)
    assert isinstance(outcome["second"], DomainError) and outcome["second"].code == "tenor_range"


def test_two_amendments_of_one_bank_at_once_record_from_what_the_other_committed(pg_db):
    def one_round(_: int) -> None:
        bank = make_bank(pg_db, quota=D("10000000.00"))
        outcomes = race({
            "a": lambda b=bank: _amend_bank(pg_db, b.id, quota=D("8000000.00")),
            "b": lambda b=bank: _amend_bank(pg_db, b.id, quota=D("6000000.00")),
        })
        no_failures(outcomes)
        history = [json.loads(e.payload)["changes"]["quota"] for e in entries(pg_db, "bank.amended", bank.id)]
        assert len(history) == 2
        assert history[0]["from"] == "10000000.00" and history[1]["from"] == history[0]["to"]
        with pg_db.session() as s:
            assert ledger.remaining_quota(s, bank.id) == D(history[1]["to"])

    for _ in range(ROUNDS):
        one_round(_)


def test_net_assets_lowered_while_its_dealers_are_decided_bind_every_decision_committed_after_it(pg_db, features):
    """A decision committed after the amendment sized its guarantee on the new net assets (10 % for one
    client); one committed before on the old. None waits forever, none mixes the two."""
    def one_round(_: int) -> None:
        guarantor = make_guarantor(pg_db, net_assets=D("100000000.00"))
        bank = make_bank(pg_db)
        dealers = [make_dealer(pg_db, guarantor_id=guarantor.id) for _ in range(5)]
        work = {d.id: (lambda d=d: decide(pg_db, d.id, bank.id, features)) for d in dealers}
        work["amend"] = lambda g=guarantor: _amend_guarantor(pg_db, g.id, net_assets=D("2000000.00"))
        outcomes = race(work)
        no_failures(outcomes)
        amendment = outcomes.pop("amend")
        assert len(entries(pg_db, "guarantor.amended", guarantor.id)) == 1
        for decision in outcomes.values():
            net = D("2000000.00") if decision.audit_seq > amendment.audit_seq else D("100000000.00")
            capacity = json.loads(decision.inputs)["guarantor_capacity"]
            assert D(capacity["headroom"]) <= net * D("0.10"), (decision.audit_seq, amendment.audit_seq)
            if decision.outcome == "approve":  # its guarantee within the one-client share it was sized on
                assert (decision.limit * D("0.50")).quantize(D("0.01")) <= net * D("0.10")
        with pg_db.session() as s:
            assert audit.verify(s).intact

    for _ in range(ROUNDS):
        one_round(_)


def _amend_guarantor(db, guarantor_id: str, **new_terms) -> terms.Amendment:
    with db.unit_of_work() as s:
        return terms.amend_guarantor(s, guarantor_id, GuarantorAmendmentIn(reason="audited accounts", **new_terms),
                                     actor="admin:test", today=business_date(datetime.now(UTC)))


def _assign(db, dealer_id: str, guarantor_id: str | None) -> terms.Amendment:
    with db.unit_of_work() as s:
        return terms.assign_guarantor(s, dealer_id, GuarantorAssignmentIn(guarantor_id=guarantor_id, reason="moved"),
                                      actor="admin:test", today=business_date(datetime.now(UTC)))


def test_a_decision_racing_a_guarantor_assignment_of_its_dealer_is_counted_by_it_or_refused(pg_db, features):
    """Either the decision commits first and the assignment's new guarantor takes its line on, or it finds
    the guarantor changed (409 guarantor_changed), or it started after and ran under the new guarantor."""
    seen: set[str] = set()

    def one_round(_: int) -> None:
        old, new = make_guarantor(pg_db), make_guarantor(pg_db, net_assets=D("60000000.00"))
        bank, dealer = make_bank(pg_db), make_dealer(pg_db, guarantor_id=old.id)
        outcomes = race({"decide": lambda: decide(pg_db, dealer.id, bank.id, features),
                         "assign": lambda: _assign(pg_db, dealer.id, new.id)})
        no_failures(outcomes, allowed=(Conflict,))
        assignment, decision = outcomes["assign"], outcomes["decide"]
        assert not isinstance(assignment, BaseException)
        with pg_db.session() as s:
            line = ledger.find_line(s, dealer.id, bank.id)
        if isinstance(decision, Conflict):
            seen.add("refused")
            assert decision.code == "guarantor_changed" and line is None
            assert assignment.effects["open_limits"] == "0.00"
        elif decision.audit_seq < assignment.audit_seq:
            seen.add("counted")
            assert line is not None and assignment.effects["open_lines"] == [line.id]
            assert D(assignment.effects["open_limits"]) == line.limit
            assert D(assignment.effects["guaranteed"]) == (line.limit * D("0.50")).quantize(D("0.01"))
        else:
            seen.add("after")  # read the dealer once the assignment had committed: sized on the new guarantor
            capacity = json.loads(decision.inputs)["guarantor_capacity"]
            assert D(capacity["headroom"]) <= D("60000000.00") * D("0.10")
        (entry,) = entries(pg_db, "dealer.guarantor_assigned", dealer.id)
        assert json.loads(entry.payload)["changes"]["guarantor_id"] == {"from": old.id, "to": new.id}

    for _ in range(ROUNDS + 1):
        one_round(_)
    assert seen  # which orders occurred is up to PostgreSQL; each was judged above


def test_two_guarantor_assignments_of_one_dealer_at_once_chain_from_one_to_the_other(pg_db):
    def one_round(_: int) -> None:
        first, second, third = make_guarantor(pg_db), make_guarantor(pg_db), make_guarantor(pg_db)
        dealer = make_dealer(pg_db, guarantor_id=first.id)
        outcomes = race({"second": lambda: _assign(pg_db, dealer.id, second.id),
                         "third": lambda: _assign(pg_db, dealer.id, third.id)})
        no_failures(outcomes)
        history = [json.loads(e.payload)["changes"]["guarantor_id"]
                   for e in entries(pg_db, "dealer.guarantor_assigned", dealer.id)]
        assert len(history) == 2
        assert history[0]["from"] == first.id and history[1]["from"] == history[0]["to"]
        with pg_db.session() as s:
            from risk_engine.parties.models import Dealer

            assert s.get(Dealer, dealer.id).guarantor_id == history[1]["to"]

    for _ in range(ROUNDS):
        one_round(_)


# --------------------------------------------------------------------------- 2. the expiry job


def _expire(db, line_id: str, on) -> None:
    with db.unit_of_work() as s:
        s.execute(update(CreditLineRecord).where(CreditLineRecord.id == line_id).values(expires_on=on))


def _close_expired(db, as_of: datetime) -> dict:
    return jobs.close_expired_lines(db, as_of=as_of, settings=None)


def test_the_expiry_job_racing_a_re_rating_of_the_expired_line_leaves_it_renewed_and_the_quota_balanced(
    pg_db, features
):
    """The job closes the line and the re-rating reopens it, or the re-rating renews it and the job leaves it:
    either way the line ends active with a fresh term and the bank's allocation is its limit."""
    now = datetime.now(UTC)
    def one_round(_: int) -> None:
        bank, dealer = make_bank(pg_db), make_dealer(pg_db)
        first = decide(pg_db, dealer.id, bank.id, features)
        assert first.outcome == "approve"
        _expire(pg_db, first.line_id, business_date(now) - timedelta(days=1))
        outcomes = race({"job": lambda: _close_expired(pg_db, now),
                         "rerate": lambda: decide(pg_db, dealer.id, bank.id, features)})
        no_failures(outcomes)
        rerated = outcomes["rerate"]
        assert rerated.outcome == "approve" and rerated.line_id == first.line_id
        figures = line_figures(pg_db, first.line_id)
        assert figures["status"] == "active" and figures["limit"] == rerated.limit
        with pg_db.session() as s:
            assert ledger.get_line(s, first.line_id).expires_on > business_date(now)
        assert len(entries(pg_db, "credit_line.close", first.line_id)) <= 1
        assert_books_balance(pg_db, bank.id)

    for _ in range(ROUNDS):
        one_round(_)


def _apply_for_loan(db, world, amount: str = "80000.00") -> OrderLoan:
    from risk_engine.settings import Settings

    with db.unit_of_work() as s:
        return applications.apply_for_order_loan(
            s, Settings(env="test"), OrderLoanIn(dealer_id=world.dealer.id, bank_id=world.bank.id,
                                                 order_id=world.order.id, amount=D(amount), tenor_days=90),
            actor="platform:test")


def test_the_expiry_job_racing_a_reservation_on_the_lines_last_day_either_leaves_it_or_closes_it_first(
    pg_db, settings
):
    """Today is the line's last day for the reservation; the job runs as of tomorrow. A reservation that lands
    first keeps the line open (left_with_reservations); one that comes second finds it closed and reserves
    nothing."""
    now = datetime.now(UTC)
    tomorrow = now + timedelta(days=1)
    def one_round(_: int) -> None:
        with make_client(pg_db, settings) as client:
            world = loan_world(pg_db, client.app.state.keys)
        _expire(pg_db, world.line_id, business_date(now))
        outcomes = race({"job": lambda: _close_expired(pg_db, tomorrow),
                         "reserve": lambda: _apply_for_loan(pg_db, world)})
        no_failures(outcomes)
        applied = outcomes["reserve"]
        figures = line_figures(pg_db, world.line_id)
        closes = entries(pg_db, "credit_line.close", world.line_id)
        if applied.state == "approved":  # first: the job leaves the line to a later run
            assert closes == [] and outcomes["job"]["left_with_reservations"] >= 1
            assert figures["status"] == "active" and figures["reserved"] == D("80000.00")
        else:  # second: the line was closed, nothing is reserved on it
            assert applied.state == "declined" and len(closes) == 1
            assert figures["status"] == "closed" and figures["reserved"] == D("0.00")
        assert_books_balance(pg_db, world.bank.id)

    for _ in range(ROUNDS):
        one_round(_)


# --------------------------------------------------------------------------- 3. reviews


def test_a_second_approval_racing_a_newer_decision_either_lands_first_or_finds_its_case_superseded(
    pg_db, features
):
    def second_approval(case_id: str) -> ReviewCase:
        with pg_db.unit_of_work() as s:
            return reviews.second_approval(s, case_id, approve=True, reason="checked", officer="risk_officer:b",
                                           line_term_days=365).status

    def one_round(_: int) -> None:
        bank, dealer = make_bank(pg_db, max_line_amount=D("3000000.00")), make_dealer(pg_db)
        features.set(dealer.id, current_days_past_due=10, purchase_amount_12m=2_000_000.0)
        first = decide(pg_db, dealer.id, bank.id, features)
        assert first.outcome == "refer"
        with pg_db.unit_of_work() as s:
            case_id = s.scalars(select(ReviewCase.id).where(ReviewCase.decision_id == first.id)).one()
            reviews.resolve(s, case_id, resolution="adjust", limit=D("800000.00"), reason="strong dealer",
                            officer="risk_officer:a", second_approval_above=D("500000.00"), line_term_days=365)
        outcomes = race({"approve": lambda: second_approval(case_id),
                         "decide": lambda: decide(pg_db, dealer.id, bank.id, features)})
        no_failures(outcomes, allowed=(DomainError,))
        newer = outcomes["decide"]
        assert not isinstance(newer, BaseException)
        with pg_db.session() as s:
            case = s.get(ReviewCase, case_id)
        resolved = entries(pg_db, "review.resolved", case_id)
        superseded = entries(pg_db, "review.superseded", case_id)
        if isinstance(outcomes["approve"], DomainError):
            assert outcomes["approve"].code == "case_superseded"
            assert (case.status, case.superseded_by) == ("superseded", newer.id)
            assert resolved == [] and len(superseded) == 1
            assert json.loads(superseded[0].payload)["pending"]["limit"] == "800000.00"
            with pg_db.session() as s:
                assert ledger.find_line(s, dealer.id, bank.id) is None
        else:
            assert outcomes["approve"] == "resolved" and case.status == "resolved"
            assert len(resolved) == 1 and superseded == [] and resolved[0].seq < newer.audit_seq
            assert line_figures(pg_db, case.line_id)["limit"] == D("800000.00")
        assert_books_balance(pg_db, bank.id)

    for _ in range(ROUNDS):
        one_round(_)


def _referred_application(pg_db, client) -> tuple[Any, dict]:
    world = loan_world(pg_db, client.app.state.keys)
    ingest(pg_db, {"type": "related_party", "external_id": f"REL-{world.dealer.id}", "dealer": world.dealer.id,
                   "supplier": world.supplier.id, "kind": "address"})
    r = client.post("/v1/order-loans", headers=auth(make_api_key(pg_db, "platform")) | {
        "Idempotency-Key": f"apply-{world.order.id}"}, json={
        "dealer_id": world.dealer.id, "bank_id": world.bank.id, "order_id": world.order.id,
        "amount": "80000.00", "tenor_days": 90})
    assert r.status_code == 201 and r.json()["outcome"] == "refer", r.text
    return world, r.json()


@pytest.mark.parametrize("verdict", ["approve", "decline"])
def test_a_withdrawal_racing_an_officers_resolution_of_the_referral_ends_with_one_resolution(
    pg_db, settings, verdict
):
    """The platform cancels the application while an officer resolves its case: the case is resolved once
    (by whichever came first), the other gets a clean 409, and an approval that came first has its
    reservation released by the cancellation."""
    with make_client(pg_db, settings) as client:
        platform = auth(make_api_key(pg_db, "platform"))
        officer = auth(make_api_key(pg_db, "risk_officer"))
        def one_round(_: int) -> None:
            world, application = _referred_application(pg_db, client)
            case_id, loan_id = application["review_case_id"], application["loan_id"]
            outcomes = race({
                "cancel": lambda: client.post(f"/v1/order-loans/{loan_id}/cancel", headers=platform,
                                              json={"reason": "bought elsewhere"}),
                "resolve": lambda: client.post(f"/v1/reviews/{case_id}/resolution", headers=officer,
                                               json={"resolution": verdict, "reason": "looked at it"}),
            })
            no_failures(outcomes)
            codes = {name: r.status_code for name, r in outcomes.items()}
            assert 500 not in codes.values(), {n: r.text for n, r in outcomes.items()}
            (resolution,) = entries(pg_db, "review.resolved", case_id)
            payload = json.loads(resolution.payload)
            with pg_db.session() as s:
                case = s.get(ReviewCase, case_id)
            assert case.status == "resolved" and case.resolution_audit_seq == resolution.seq
            if codes["resolve"] == 200:  # the officer first; a decline leaves nothing to cancel
                assert payload["resolution"] == verdict and "withdrew" not in payload["reason"]
                assert codes["cancel"] == (200 if verdict == "approve" else 409)
            else:
                assert codes == {"cancel": 200, "resolve": 409}, outcomes["resolve"].text
                assert "withdrew the application" in payload["reason"]
            final = loan(pg_db, loan_id).state
            assert final == ("declined" if codes["cancel"] == 409 else "cancelled")
            assert line_figures(pg_db, world.line_id)["reserved"] == D("0.00")
            assert_books_balance(pg_db, world.bank.id)

        for _ in range(ROUNDS):
            one_round(_)


# --------------------------------------------------------------------------- 4. a refused disbursement


def test_two_identical_retries_of_a_refused_disbursement_at_once_record_one_refusal_and_answer_it_twice(
    pg_db, settings
):
    with make_client(pg_db, settings) as client:
        def one_round(round_: int) -> None:
            world = loan_world(pg_db, client.app.state.keys)
            loan_id = make_approved_loan(pg_db, world.dealer, world.bank, world.order, world.line_id)
            bank_headers = auth(make_api_key(pg_db, "bank", world.bank)) | {"Idempotency-Key": f"refused-{round_}"}
            body = {"reference": "D-1", "amount": "80000.00", "payee_account": account_number(),
                    "paid_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}

            def report(headers=bank_headers, body=body, loan_id=loan_id):
                return client.post(f"/v1/order-loans/{loan_id}/disbursements", headers=headers, json=body)

            outcomes = race({"first": report, "retry": report})
            no_failures(outcomes)
            answers = list(outcomes.values())
            assert [r.status_code for r in answers] == [422, 422], [r.text for r in answers]
            assert answers[0].content == answers[1].content
            assert sorted(r.headers.get("Idempotent-Replayed", "") for r in answers) == ["", "true"]
            assert len(entries(pg_db, "order_loan.disbursement_refused", loan_id)) == 1
            with pg_db.session() as s:
                alerts = s.scalars(select(Alert).where(Alert.dealer_id == world.dealer.id)).all()
                assert [a.id for a in alerts] == answers[0].json()["alert_ids"]
                assert audit.verify(s).intact
            assert line_figures(pg_db, world.line_id)["status"] == "frozen"

        for round_ in range(ROUNDS):
            one_round(round_)
