"""The dealer page: monthly purchases and payment delays drawn from the trade tables, the credit lines and
the dealer's decisions; the header's search finds a dealer by id, credit code or name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from api.console.presenters import month_labels
from risk_engine.trade.models import Order, PaymentDue
from tests.factories import make_api_key, make_dealer, make_supplier
from tests.integration.test_console_access import log_in

D = Decimal
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def trade(db, dealer, supplier) -> None:
    with db.session() as s:
        for i, (placed, amount, status) in enumerate(
            [
                (datetime(2026, 10, 3, tzinfo=UTC), D("120000.00"), "delivered"),
                (datetime(2026, 10, 20, tzinfo=UTC), D("30000.50"), "delivered"),
                (datetime(2026, 11, 2, tzinfo=UTC), D("99999.00"), "cancelled"),
                (datetime(2026, 11, 5, tzinfo=UTC), D("45000.00"), "placed"),
            ]
        ):
            s.add(
                Order(
                    id=f"ord_{dealer.id[-8:]}_{i}",
                    external_id=f"o-{dealer.id}-{i}",
                    dealer_id=dealer.id,
                    supplier_id=supplier.id,
                    amount=amount,
                    status=status,
                    placed_at=placed,
                    recorded_at=placed,
                )
            )
        s.flush()
        for i, (due, paid) in enumerate(
            [
                (date(2026, 10, 10), date(2026, 10, 10)),
                (date(2026, 10, 25), date(2026, 11, 4)),
                (date(2026, 11, 10), None),
            ]
        ):
            s.add(
                PaymentDue(
                    id=f"due_{dealer.id[-8:]}_{i}",
                    external_id=f"b-{dealer.id}-{i}",
                    order_id=f"ord_{dealer.id[-8:]}_{i}",
                    dealer_id=dealer.id,
                    amount=D("1000.00"),
                    due_on=due,
                    paid_amount=D("1000.00") if paid else D("0"),
                    paid_on=paid,
                    recorded_at=NOW,
                )
            )
        s.commit()


def test_the_dealer_page_charts_monthly_purchases_and_payment_delays(client, db):
    client.app.state.clock = lambda: NOW
    dealer, supplier = make_dealer(db, name="Riverside Trading Co."), make_supplier(db)
    trade(db, dealer, supplier)
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get(f"/console/dealers/{dealer.id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Riverside Trading Co." in html and dealer.credit_code in html
    assert html.count("<svg") >= 2
    assert '2026-10</td><td class="num">150,000.50' in html  # both October orders
    assert '2026-11</td><td class="num">45,000.00' in html  # the cancelled one left out
    # October: one bill on time (0), one 10 days late → average 5.0, longest 10; November: 10 days unpaid
    assert '<td class="num">5.0</td><td class="num">10</td>' in html
    assert '<td class="num">10.0</td><td class="num">10</td>' in html
    assert len(month_labels(NOW.date(), 24)) == 24


def test_the_search_box_opens_a_dealer_by_credit_code_or_lists_name_matches(client, db):
    dealer = make_dealer(db, name="Riverside Trading Co.")
    make_dealer(db, name="Riverside Foods Ltd.")
    log_in(client, make_api_key(db, "risk_officer"))
    r = client.get("/console/dealers", params={"id": dealer.credit_code}, follow_redirects=False)
    assert r.headers["location"] == f"/console/dealers/{dealer.id}"
    listing = client.get("/console/dealers", params={"id": "riverside"})
    assert "Riverside Trading Co." in listing.text and "Riverside Foods Ltd." in listing.text
    assert "No dealer matches" in client.get("/console/dealers", params={"id": "zzz%"}).text
    assert client.get("/console/dealers/dlr_missing").status_code == 404


def test_an_unpaid_bill_is_late_by_the_beijing_date(client, db):
    client.app.state.clock = lambda: datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # 21 November in Beijing
    dealer, supplier = make_dealer(db), make_supplier(db)
    trade(db, dealer, supplier)
    log_in(client, make_api_key(db, "risk_officer"))
    html = client.get(f"/console/dealers/{dealer.id}").text
    assert '<td class="num">11.0</td><td class="num">11</td>' in html  # due 10 November, unpaid


def test_a_line_the_expiry_job_closed_shows_closed_with_its_exposure_and_nothing_available(client, db):
    import re

    from tests.integration.test_console_portfolio import closed_line_still_repaid

    _, dealer = closed_line_still_repaid(db)
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get(f"/console/dealers/{dealer.id}")
    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.text)
    lines = html[html.index('class="credit-lines"') : html.index("</table>", html.index('class="credit-lines"'))]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", lines[lines.index("<tbody>") :])
    assert cells[1] == '<span class="badge decline">closed</span>'
    assert cells[4:7] == ["0.00", "60,000.05", "—"]  # still being repaid; a closed line lends nothing more
