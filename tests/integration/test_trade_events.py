"""POST /v1/events: a bad item never sinks the good ones; idempotent per (type, external_id)."""
import pytest
from sqlalchemy import func, select

from compliance import audit
from risk_engine.trade.models import Order, PaymentDue
from tests.factories import auth, make_api_key, make_dealer, make_supplier


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


@pytest.fixture
def parties(db):
    return make_dealer(db, external_id="D-1"), make_supplier(db, external_id="S-1")


def order(ext="O-1", **kw):
    return {"type": "order", "external_id": ext, "dealer": "D-1", "supplier": "S-1", "amount": "1000.00",
            "placed_at": "2026-03-01T08:00:00Z", "status": "confirmed", "confirmed_at": "2026-03-01T09:00:00Z"} | kw


def post(client, headers, events):
    r = client.post("/v1/events", headers=headers, json={"events": events})
    assert r.status_code == 200, r.text
    return r.json()


def count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_mixed_batch_stores_the_good_items_and_reports_each_bad_one(client, db, platform, parties):
    events = [
        order("O-1"),
        order("O-2", dealer="D-404"),                              # unknown dealer
        order("O-3", amount="-5.00"),                              # amount not positive
        {"type": "payment_due", "external_id": "B-1", "order": "O-1", "amount": "1000.00",
         "due_on": "2026-04-01"},
        {"type": "invoice", "external_id": "I-1", "order": "O-1", "invoice_code": "044031900111",
         "invoice_number": "00000001", "seller_credit_code": parties[1].credit_code,
         "buyer_credit_code": parties[0].credit_code, "amount": "884.96", "tax": "115.04",
         "issued_on": "2026-02-01"},                               # invoice before order
        {"type": "teleport", "external_id": "X-1"},                # unknown type
    ]
    body = post(client, platform, events)
    assert [a["external_id"] for a in body["accepted"]] == ["O-1", "B-1"]
    rejected = {r["index"]: r["errors"][0] for r in body["rejected"]}
    assert rejected[1] == {"field": "dealer", "reason": "unknown dealer 'D-404'"}
    assert rejected[2]["field"] == "amount"
    assert rejected[4] == {"field": "issued_on", "reason": "invoice issued before the order was placed"}
    assert 5 in rejected
    assert body["counts"] == {"received": 6, "created": 2, "duplicates": 0, "rejected": 4}
    assert count(db, Order) == 1 and count(db, PaymentDue) == 1


def test_identical_resend_is_a_no_op(client, db, platform, parties):
    first = post(client, platform, [order("O-1")])
    again = post(client, platform, [order("O-1")])
    assert again["accepted"][0]["status"] == "duplicate"
    assert again["accepted"][0]["id"] == first["accepted"][0]["id"]
    assert count(db, Order) == 1


def test_resend_with_different_content_is_rejected_with_the_reason(client, db, platform, parties):
    post(client, platform, [order("O-1")])
    body = post(client, platform, [order("O-1", amount="2000.00")])
    assert body["rejected"][0]["errors"][0]["reason"] == "this external_id was already sent with different content"


def test_status_changes_and_payments_follow_the_order(client, db, platform, parties):
    body = post(client, platform, [
        order("O-1"),
        {"type": "order_status", "external_id": "ST-1", "order": "O-1", "status": "delivered",
         "at": "2026-03-05T10:00:00Z"},
        {"type": "payment_due", "external_id": "B-1", "order": "O-1", "amount": "1000.00", "due_on": "2026-04-01"},
        {"type": "payment", "external_id": "P-1", "payment_due": "B-1", "amount": "400.00", "paid_on": "2026-04-01"},
        {"type": "payment", "external_id": "P-2", "payment_due": "B-1", "amount": "600.00", "paid_on": "2026-04-09"},
        {"type": "payment", "external_id": "P-3", "payment_due": "B-1", "amount": "1.00", "paid_on": "2026-04-10"},
        {"type": "order_status", "external_id": "ST-2", "order": "O-1", "status": "confirmed",
         "at": "2026-03-06T10:00:00Z"},
    ])
    assert [r["index"] for r in body["rejected"]] == [5, 6]
    with db.session() as s:
        bill = s.scalars(select(PaymentDue)).one()
        assert str(bill.paid_amount) == "1000.00" and bill.paid_on.isoformat() == "2026-04-09"
        assert s.scalars(select(Order)).one().status == "delivered"


def test_a_batch_is_audited_in_one_entry_listing_what_it_stored(client, db, platform, parties):
    post(client, platform, [order("O-1"), order("O-2", dealer="nope")])
    with db.session() as s:
        entries = [e for e in audit.iter_chain(s) if e.action == "trade.events_ingested"]
    assert len(entries) == 1
    assert '"O-1"' in entries[0].payload and '"O-2"' not in entries[0].payload


def test_batch_over_the_maximum_is_refused(client, platform, parties):
    r = client.post("/v1/events", headers=platform, json={"events": [order(f"O-{i}") for i in range(1001)]})
    assert r.status_code in (413, 422)


def test_related_party_links_are_recorded(client, db, platform, parties):
    body = post(client, platform, [{"type": "related_party", "external_id": "R-1", "dealer": "D-1",
                                    "supplier": "S-1", "kind": "shared_owner", "evidence": "same shareholder"}])
    assert body["counts"]["created"] == 1


def test_business_dates_are_compared_with_the_beijing_date_the_order_was_placed_on(client, db, platform, parties):
    # 2026-03-01T17:30Z is 01:30 on 2 March in Beijing: the order's business date is 2 March
    late = order("O-late", placed_at="2026-03-01T17:30:00Z", confirmed_at="2026-03-01T17:40:00Z")
    invoice = {"type": "invoice", "order": "O-late", "invoice_code": "044031900111",
               "seller_credit_code": parties[1].credit_code, "buyer_credit_code": parties[0].credit_code,
               "amount": "884.96", "tax": "115.04"}
    events = [
        late,
        invoice | {"external_id": "I-1", "invoice_number": "00000001", "issued_on": "2026-03-01"},  # a day early
        invoice | {"external_id": "I-2", "invoice_number": "00000002", "issued_on": "2026-03-02"},
        {"type": "payment_due", "external_id": "B-1", "order": "O-late", "amount": "1000.00", "due_on": "2026-03-01"},
        {"type": "payment_due", "external_id": "B-2", "order": "O-late", "amount": "1000.00", "due_on": "2026-03-02"},
    ]
    body = post(client, platform, events)
    assert [a["external_id"] for a in body["accepted"]] == ["O-late", "I-2", "B-2"]
    rejected = {r["index"]: r["errors"][0]["field"] for r in body["rejected"]}
    assert rejected == {1: "issued_on", 3: "due_on"}


def test_an_item_that_is_not_an_object_is_rejected_on_its_own_without_sinking_the_batch(client, db, platform,
                                                                                         parties):
    body = post(client, platform, [order("O-1"), "garbage", 7, None, [order("O-2")]])
    assert [a["external_id"] for a in body["accepted"]] == ["O-1"]
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4]
    assert all(r["errors"][0]["reason"] for r in body["rejected"])
    assert count(db, Order) == 1


def test_returns_of_one_order_together_may_not_exceed_its_amount(client, db, platform, parties):
    def ret(ext, amount):
        return {"type": "return", "external_id": ext, "order": "O-1", "amount": amount,
                "returned_at": "2026-03-10T00:00:00Z"}

    post(client, platform, [order("O-1"), ret("R-1", "600.00")])
    body = post(client, platform, [ret("R-2", "400.00"), ret("R-3", "0.01")])
    assert [a["external_id"] for a in body["accepted"]] == ["R-2"]
    assert body["rejected"][0]["errors"][0]["field"] == "amount"
    assert "already returned" in body["rejected"][0]["errors"][0]["reason"]


def test_an_item_the_database_cannot_hold_is_rejected_on_its_own(client, db, platform, parties):
    body = post(client, platform, [
        order("O-1"),
        order("O-2", placed_at="0001-01-01T00:00:00+14:00"),       # before year 1 once in UTC
        order("O-3", placed_at="9999-12-31T23:59:59-10:00"),       # after year 9999 once in UTC
        {"type": "return", "external_id": "R-1", "order": "O-1", "amount": "1.00",
         "returned_at": "2026-03-10T00:00:00Z", "reason": "torn\u0000box"},  # PostgreSQL text refuses NUL
        order("O-4", dealer="D\u00001"),
    ])
    assert [a["external_id"] for a in body["accepted"]] == ["O-1"]
    assert {r["index"]: r["errors"][0]["field"] for r in body["rejected"]} == {
        1: "placed_at", 2: "placed_at", 3: "reason", 4: "dealer"}
    assert count(db, Order) == 1


def related(ext, kind="shared_owner", **kw):
    return {"type": "related_party", "external_id": ext, "dealer": "D-1", "supplier": "S-1", "kind": kind} | kw


def test_a_second_related_party_link_of_the_same_kind_is_rejected_naming_kind(client, db, platform, parties):
    from risk_engine.trade.models import RelatedPartyLink

    post(client, platform, [related("R-1")])
    body = post(client, platform, [related("R-2", evidence="found again"), related("R-3", kind="address")])
    assert [a["external_id"] for a in body["accepted"]] == ["R-3"]
    (rejected,) = body["rejected"]
    assert rejected["index"] == 0 and rejected["external_id"] == "R-2"
    assert rejected["errors"] == [{"field": "kind", "reason": "dealer and supplier are already linked by "
                                                              "'shared_owner' (related_party 'R-1')"}]
    assert count(db, RelatedPartyLink) == 2


def test_a_repeated_related_party_link_within_one_batch_is_rejected_without_sinking_the_rest(client, db, platform,
                                                                                            parties):
    from risk_engine.trade.models import RelatedPartyLink

    body = post(client, platform, [related("R-1"), related("R-2"), order("O-1"), related("R-1")])
    assert [(a["external_id"], a["status"]) for a in body["accepted"]] == [
        ("R-1", "created"), ("O-1", "created"), ("R-1", "duplicate")]
    assert [(r["index"], r["errors"][0]["field"]) for r in body["rejected"]] == [(1, "kind")]
    assert count(db, RelatedPartyLink) == 1


def test_the_bulk_path_rejects_a_repeated_related_party_link_like_the_api(db, parties):
    from risk_engine.trade import service
    from risk_engine.trade.models import RelatedPartyLink

    with db.unit_of_work() as s:
        service.ingest_events(s, [related("R-1")], actor="test")
    with db.unit_of_work() as s:
        ledger = service.Ledger(s)
        report = service.ingest_chunk(s, [related("R-2"), related("R-3", kind="account"), related("R-4")],
                                      actor="test", ledger=ledger)
    assert [a["external_id"] for a in report.accepted] == ["R-3"]
    assert [(r["external_id"], r["errors"][0]["field"]) for r in report.rejected] == [("R-2", "kind"), ("R-4", "kind")]
    assert count(db, RelatedPartyLink) == 2
