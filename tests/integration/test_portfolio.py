from decimal import Decimal

from limits import ledger
from tests.factories import auth, make_api_key, make_bank, make_dealer


def test_portfolio_sums_exposure_exactly_by_grade_and_bank(client, db):
    bank, dealer = make_bank(db, name="Portfolio Bank"), make_dealer(db)
    with db.unit_of_work() as s:
        line = ledger.open_line(s, dealer_id=dealer.id, bank_id=bank.id, limit=Decimal("100000.00"),
                                cause=ledger.Cause("test", "t1"), actor="test", grade="BBB")
        ledger.reserve(s, line.id, Decimal("1234.56"), cause=ledger.Cause("test", "t2"), actor="test")
    officer = auth(make_api_key(db, "risk_officer"))
    body = client.get("/v1/portfolio", headers=officer).json()
    assert body["exposure_by_grade"] == [{"key": "BBB", "label": "BBB", "lines": 1, "limit": "100000.00",
                                          "exposure": "1234.56"}]
    assert body["exposure_by_bank"][0]["label"] == "Portfolio Bank"
    assert body["delinquency_buckets"][0]["bucket"] == "current"
    assert client.get("/v1/portfolio", headers=auth(make_api_key(db, "platform"))).status_code == 403
