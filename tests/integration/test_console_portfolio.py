"""The portfolio page: exposure of the open credit lines by grade, bank and guarantor, summed exactly."""

from __future__ import annotations

import re
from decimal import Decimal

from limits import ledger
from tests.factories import make_api_key, make_bank, make_dealer, make_guarantor
from tests.integration.test_console_access import log_in

D = Decimal


def test_exposure_is_summed_by_grade_bank_and_guarantor(client, db):
    north, south = make_bank(db, name="North Bank"), make_bank(db, name="South Bank")
    guarantor = make_guarantor(db, name="Pearl Guarantee")
    covered, plain, closed = (make_dealer(db, guarantor_id=guarantor.id), make_dealer(db), make_dealer(db))
    with db.unit_of_work() as s:
        cause = ledger.Cause("test", "t1")
        a = ledger.open_line(
            s,
            dealer_id=covered.id,
            bank_id=north.id,
            limit=D("500000.00"),
            grade="A",
            cause=cause,
            actor="test",
        )
        ledger.reserve(s, a.id, D("100000.10"), cause=cause, actor="test")
        ledger.utilise(s, a.id, D("60000.05"), cause=cause, actor="test")
        ledger.open_line(
            s,
            dealer_id=plain.id,
            bank_id=south.id,
            limit=D("200000.00"),
            grade="BB",
            cause=cause,
            actor="test",
        )
        c = ledger.open_line(
            s,
            dealer_id=closed.id,
            bank_id=south.id,
            limit=D("900000.00"),
            grade="A",
            cause=cause,
            actor="test",
        )
        ledger.close(s, c.id, cause=cause, actor="test")
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get("/console/portfolio")
    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.text)
    grade = html[html.index('id="by-grade"') : html.index('id="by-bank"')]
    assert (
        '<td>A</td><td class="num">1</td><td class="num">500,000.00</td><td class="num">100,000.10</td>'
        in grade
    )
    assert grade.index("<td>A</td>") < grade.index("<td>BB</td>")  # the master scale's order
    bank = html[html.index('id="by-bank"') : html.index('id="by-guarantor"')]
    assert (
        'South Bank</td><td class="num">1</td><td class="num">200,000.00</td><td class="num">0.00</td>'
        in bank
    )
    guarantor_part = html[html.index('id="by-guarantor"') :]
    assert "Pearl Guarantee" in guarantor_part and "no guarantor" in guarantor_part
    assert "700,000.00" in guarantor_part  # the total of the open lines' limits


def closed_line_still_repaid(db, bank_name: str = "East Bank"):
    """A dealer whose only line was closed (as the expiry job closes it) while 60,000.05 is still utilised."""
    bank, dealer = make_bank(db, name=bank_name), make_dealer(db)
    with db.unit_of_work() as s:
        cause = ledger.Cause("test", "t2")
        line = ledger.open_line(
            s, dealer_id=dealer.id, bank_id=bank.id, limit=D("300000.00"), grade="BBB", cause=cause, actor="test"
        )
        ledger.reserve(s, line.id, D("60000.05"), cause=cause, actor="test")
        ledger.utilise(s, line.id, D("60000.05"), cause=cause, actor="test")
        ledger.close(s, line.id, cause=ledger.Cause("job", "credit_line_expiry_daily"), actor="system:job:expiry")
    return bank, dealer


def test_a_closed_line_still_being_repaid_counts_as_exposure_but_not_as_an_open_line_or_limit(client, db):
    closed_line_still_repaid(db)
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get("/console/portfolio")
    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.text)
    bank = html[html.index('id="by-bank"') : html.index('id="by-guarantor"')]
    assert 'East Bank</td><td class="num">0</td><td class="num">0.00</td><td class="num">60,000.05</td>' in bank
    # the chart: the figure is written after the exposure bar, never over it (dark text on the dark bar)
    (group,) = re.findall(r"<g><title>East Bank:.*?</g>", bank)
    bars = [(float(x), float(w)) for x, w in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', group)]
    figure_x = float(re.findall(r'<text x="([\d.]+)"', group)[-1])
    assert figure_x > max(x + w for x, w in bars)
