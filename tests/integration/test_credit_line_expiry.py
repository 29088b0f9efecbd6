"""The daily expiry job closes the lines whose term has run out: their limit goes back to the bank's quota,
what is drawn runs off, a line still holding a reservation waits, and a re-run changes nothing."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from compliance import audit
from limits import exposure, jobs, ledger
from limits.models import CreditMovement
from risk_engine.settings import Settings
from tests.factories import make_bank, make_dealer, make_guarantor

D = Decimal
CAUSE = ledger.Cause("test", "line")


def open_line(db, dealer, bank, limit, *, expires_on, reserve=None, utilise=None):
    with db.unit_of_work() as s:
        line = ledger.open_line(s, dealer_id=dealer.id, bank_id=bank.id, limit=D(limit), expires_on=expires_on,
                                cause=CAUSE, actor="test")
        if reserve:
            ledger.reserve(s, line.id, D(reserve), cause=CAUSE, actor="test", on=expires_on)
        if utilise:
            ledger.utilise(s, line.id, D(utilise), cause=CAUSE, actor="test")
        return line.id


def run(db, day: date) -> dict:
    # 00:10 Beijing on ``day`` is 16:10 UTC the day before
    as_of = datetime(day.year, day.month, day.day, 16, 10, tzinfo=UTC) - timedelta(days=1)
    return jobs.close_expired_lines(db, as_of=as_of, settings=Settings(env="test"))


def status(db, line_id):
    with db.session() as s:
        return ledger.get_line(s, line_id).status


def test_a_line_past_its_expiry_is_closed_and_its_limit_returns_to_the_banks_quota(db):
    bank = make_bank(db, quota=D("1000000.00"))
    last_day = date(2026, 11, 24)
    expired = open_line(db, make_dealer(db), bank, "300000.00", expires_on=last_day)
    running = open_line(db, make_dealer(db), bank, "200000.00", expires_on=last_day + timedelta(days=1))
    no_term = open_line(db, make_dealer(db), bank, "100000.00", expires_on=None)
    with db.session() as s:
        assert ledger.remaining_quota(s, bank.id) == D("400000.00")

    assert run(db, last_day) == {"as_of": "2026-11-24", "expired": 0, "closed": 0, "left_with_reservations": 0,
                                    "left_frozen": 0}
    outcome = run(db, last_day + timedelta(days=1))  # the first day after the term
    assert outcome == {"as_of": "2026-11-25", "expired": 1, "closed": 1, "left_with_reservations": 0,
                       "left_frozen": 0}
    assert [status(db, x) for x in (expired, running, no_term)] == ["closed", "active", "active"]
    with db.session() as s:
        assert ledger.remaining_quota(s, bank.id) == D("700000.00")
        movement = s.scalars(select(CreditMovement).where(CreditMovement.line_id == expired)
                             .order_by(CreditMovement.id.desc())).first()
        assert movement.caused_by_type == "job" and movement.caused_by_id == "credit_line_expiry_daily:2026-11-25"
        assert audit.verify(s).intact
    assert run(db, last_day + timedelta(days=1))["closed"] == 0  # a re-run changes nothing


def test_a_line_holding_a_reservation_waits_and_one_with_drawings_stays_in_the_guarantors_book(db):
    guarantor = make_guarantor(db)
    bank = make_bank(db)
    last_day = date(2026, 11, 24)
    drawn = open_line(db, make_dealer(db, guarantor_id=guarantor.id), bank, "300000.00", expires_on=last_day,
                      reserve="120000.00", utilise="120000.00")
    pending = open_line(db, make_dealer(db), bank, "100000.00", expires_on=last_day, reserve="50000.00")
    outcome = run(db, last_day + timedelta(days=3))
    assert outcome["closed"] == 1 and outcome["left_with_reservations"] == 1
    assert status(db, drawn) == "closed" and status(db, pending) == "active"
    with db.session() as s:
        from risk_engine.parties.models import Guarantor

        book = exposure.guaranteed_book(s, s.get(Guarantor, guarantor.id))
    assert [amount for _, amount in book] == [D("60000.00")]  # half of the 120,000 still drawn


class _RenewedMeanwhile:
    """The job's database, on which the line is renewed (a re-rating gave it a new term) after the job listed
    the expired lines and before it closes them."""

    def __init__(self, db, line_id, expires_on):
        self.db, self.line_id, self.expires_on, self.renewed = db, line_id, expires_on, False

    def session(self):
        return self.db.session()

    def unit_of_work(self):
        if not self.renewed:
            self.renewed = True
            with self.db.unit_of_work() as s:
                ledger.renew(s, self.line_id, self.expires_on, cause=CAUSE, actor="decision")
        return self.db.unit_of_work()


def test_a_line_renewed_after_the_job_listed_it_is_left_open(db):
    bank = make_bank(db, quota=D("1000000.00"))
    last_day = date(2026, 11, 24)
    line = open_line(db, make_dealer(db), bank, "300000.00", expires_on=last_day)
    as_of = datetime(2026, 11, 25, 16, 10, tzinfo=UTC) - timedelta(days=1)
    outcome = jobs.close_expired_lines(_RenewedMeanwhile(db, line, date(2027, 11, 25)), as_of=as_of,
                                       settings=Settings(env="test"))
    assert outcome["closed"] == 0
    assert status(db, line) == "active"
    with db.session() as s:
        assert ledger.remaining_quota(s, bank.id) == D("700000.00")


def test_a_frozen_line_past_its_expiry_stays_frozen_so_a_re_rating_cannot_lift_the_freeze(db):
    """A line frozen by an early warning is not closed: closing it would let the dealer's next credit-limit
    decision reopen it as active, lifting a freeze no officer lifted."""
    from risk_engine.decisions import service
    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from tests.decision_support import DictFeatureSource, tiny_xgb_scorer

    bank = make_bank(db)
    dealer = make_dealer(db)
    last_day = date(2026, 11, 24)
    line = open_line(db, dealer, bank, "300000.00", expires_on=last_day)
    with db.unit_of_work() as s:
        ledger.freeze(s, line, cause=ledger.Cause("alert", "alt_test"), actor="system:ews", reason="fund diversion")
    outcome = run(db, last_day + timedelta(days=1))
    assert outcome["closed"] == 0 and outcome["left_frozen"] == 1
    assert status(db, line) == "frozen"
    with db.unit_of_work() as s:
        service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=DictFeatureSource(), clock=lambda: datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
            actor="platform:test")
    assert status(db, line) == "frozen"
