"""Personal data is encrypted at rest, read only through a logged endpoint, and KYB-screened at onboarding."""
import json
import secrets
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from compliance import fieldcrypt, pii
from compliance.keys import FileKeyProvider
from compliance.models import AuditEntry
from risk_engine import cli
from risk_engine.all_models import metadata
from risk_engine.parties.models import Dealer, Supplier
from tests.factories import (
    account_number,
    auth,
    credit_code,
    dealer_body,
    id_number,
    make_api_key,
    make_dealer,
)

runner = CliRunner()


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


@pytest.fixture
def officer(db):
    return auth(make_api_key(db, "risk_officer"))


def unique_person():
    """PII no other test writes, so finding it anywhere means it leaked."""
    tag = secrets.token_hex(3)
    return {"name": f"泄露检查{tag}", "id_number": id_number(birth="19750612", region="110105"),
            "phone": f"139{secrets.randbelow(10**8):08d}"}


def dump_everything(db) -> bytes:
    """SQLite: the raw database file with its WAL; PostgreSQL: every table as row_to_json text."""
    if db.dialect == "sqlite":
        path = Path(db.url.split("///", 1)[1])
        files = (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        return b"".join(p.read_bytes() for p in files if p.exists())
    chunks = []
    with db.engine.connect() as conn:
        for table in [*metadata.tables, "alembic_version"]:
            rows = conn.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()
            chunks.extend(r.encode("utf-8") for r in rows)
    return b"\n".join(chunks)


def test_the_database_holds_no_plaintext_personal_data(client, db, platform):
    people = [unique_person() for _ in range(3)]
    accounts = [f"62220{secrets.randbelow(10**14):014d}" for _ in range(3)]
    for person, account in zip(people, accounts, strict=True):
        r = client.post("/v1/dealers", headers=platform | {"Idempotency-Key": secrets.token_hex(8)},
                        json=dealer_body(legal_representative=person, account_number=account))
        assert r.status_code == 201, r.text
        assert person["id_number"] not in r.text and person["phone"] not in r.text and account not in r.text
    supplier_account = f"95588{secrets.randbelow(10**14):014d}"
    r = client.post("/v1/suppliers", headers=platform, json={
        "credit_code": credit_code("91110000MA"), "name": "S", "account_number": supplier_account})
    assert r.status_code == 201, r.text
    raw = dump_everything(db)
    assert b"Test Dealer" in raw  # the scan does see the rows' clear-text columns
    with db.session() as s:
        assert s.query(Dealer).count() == 3
    secrets_written = [supplier_account, *accounts]
    for person in people:
        secrets_written += [person["name"], person["id_number"], person["phone"]]
    for value in secrets_written:
        assert value.encode("utf-8") not in raw, f"plaintext {value!r} found in the database"


def test_an_officer_reads_personal_data_and_the_read_is_logged(client, db, officer, platform):
    person = unique_person()
    body = dealer_body(legal_representative=person, account_number="6222 0000 1111 2222")
    created = client.post("/v1/dealers", headers=platform, json=body)
    dealer_id = created.json()["id"]
    assert "legal_representative" not in created.json()
    r = client.get(f"/v1/dealers/{dealer_id}/pii?purpose=referral review", headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["legal_representative"] == person
    assert r.json()["account_number"] == "6222000011112222"

    assert client.get(f"/v1/dealers/{dealer_id}/pii", headers=platform).status_code == 403
    assert client.get("/v1/dealers/dlr_missing/pii", headers=officer).status_code == 404

    admin = auth(make_api_key(db, "admin"))
    log = client.get(f"/v1/access-log?subject={dealer_id}", headers=admin).json()["items"]
    assert [(e["action"], e["outcome"], e["role"], e["purpose"]) for e in log] == [
        ("dealer.pii.read", "granted", "risk_officer", "referral review")]
    missing = client.get("/v1/access-log?subject=dlr_missing", headers=admin).json()["items"]
    assert [e["outcome"] for e in missing] == ["not_found"]
    assert person["id_number"] not in json.dumps(log)


def test_audit_entries_name_personal_fields_but_never_their_values(client, db, platform):
    person = unique_person()
    dealer_id = client.post("/v1/dealers", headers=platform,
                            json=dealer_body(legal_representative=person)).json()["id"]
    with db.session() as s:
        payloads = [e.payload for e in s.query(AuditEntry).filter(AuditEntry.subject_id == dealer_id)]
    assert any("legal_representative.id_number" in p for p in payloads)
    assert not any(person["id_number"] in p or person["name"] in p for p in payloads)


def test_blind_indexes_find_dealers_by_id_number_and_parties_by_account(db, tmp_path):
    from tests.factories import make_supplier

    keys = FileKeyProvider(tmp_path / "keys")
    shared = id_number(birth="19650101")
    a = make_dealer(db, keys=keys, account_number="6222000000000001",
                    legal_representative={"name": "甲", "id_number": shared, "phone": "13900000001"})
    b = make_dealer(db, keys=keys,
                    legal_representative={"name": "乙", "id_number": shared, "phone": "13900000002"})
    make_dealer(db, keys=keys)
    supplier = make_supplier(db, keys=keys, account_number="6222-0000-0000-0001")
    with db.session() as s:
        lower = shared[:-1] + shared[-1].lower()
        assert {d.id for d in pii.find_dealers_by_legal_rep_id(s, keys, lower)} == {a.id, b.id}
        dealers, suppliers = pii.find_by_account_number(s, keys, "6222 0000 0000 0001")
        assert [d.id for d in dealers] == [a.id] and [x.id for x in suppliers] == [supplier.id]
        assert pii.account_matches(keys, s.get(Supplier, supplier.id), "6222000000000001")
        assert not pii.account_matches(keys, s.get(Supplier, supplier.id), "6222000000000002")
        assert pii.find_dealers_by_legal_rep_id(s, keys, "not an id") == []


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(db):
    from tests.factories import factory_keys

    a, b = make_dealer(db), make_dealer(db)
    with db.unit_of_work() as s:
        s.get(Dealer, b.id).legal_rep_phone_enc = s.get(Dealer, a.id).legal_rep_phone_enc
    with db.session() as s, pytest.raises(fieldcrypt.UndecryptableField):
        pii.legal_representative_of(factory_keys(), s.get(Dealer, b.id))


# --- KYB at onboarding ---------------------------------------------------------------------------------


def fields(response):
    return [e["field"] for e in response.json()["errors"]]


def test_a_bad_id_number_is_refused_naming_the_field(client, platform):
    good = id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    rep = {"name": "张三", "id_number": bad, "phone": "13800000000"}
    r = client.post("/v1/dealers", headers=platform, json=dealer_body(legal_representative=rep))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fields(r) == ["body.legal_representative.id_number"]
    assert r.json()["errors"][0]["type"] == "id_number_check"


def test_every_kyb_failure_is_named_at_once(client, platform):
    body = dealer_body(licence_expires_on="2020-01-01", account_number="12ab",
                       legal_representative={"name": "张三", "id_number": "123", "phone": "555"})
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422
    assert fields(r) == ["body.legal_representative.id_number", "body.legal_representative.phone",
                         "body.account_number", "body.licence_expires_on"]
    assert r.json()["code"] == "id_number_length"
    assert "expired on 2020-01-01" in r.text


def test_an_expired_licence_is_refused(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=dealer_body(licence_expires_on="2021-06-30"))
    assert r.status_code == 422 and fields(r) == ["body.licence_expires_on"]
    assert r.json()["errors"][0]["type"] == "licence_expired"


def test_a_supplier_needs_a_well_formed_account_number(client, platform):
    body = {"credit_code": credit_code("91110000MA"), "name": "S"}
    assert fields(client.post("/v1/suppliers", headers=platform, json=body)) == ["body.account_number"]
    r = client.post("/v1/suppliers", headers=platform, json=body | {"account_number": "not digits"})
    assert r.status_code == 422 and fields(r) == ["body.account_number"]


def test_the_blacklist_refuses_a_listed_company_or_legal_representative(db, settings, tmp_path):
    from tests.conftest import make_client

    listed_code, listed_person = credit_code(), id_number(birth="19700707")
    blacklist = tmp_path / "blacklist.csv"
    blacklist.write_text(f"kind,number,reason\ncredit_code,{listed_code},court enforcement list\n"
                         f"id_number,{listed_person.lower()},fraud conviction\n", encoding="utf-8")
    settings.blacklist_file = blacklist
    with make_client(db, settings) as client:
        platform = auth(make_api_key(db, "platform"))
        r = client.post("/v1/dealers", headers=platform, json=dealer_body(credit_code=listed_code))
        assert r.status_code == 422 and fields(r) == ["body.credit_code"]
        assert r.json()["errors"][0]["listed_because"] == "court enforcement list"
        rep = {"name": "李四", "id_number": listed_person, "phone": "13800000000"}
        r = client.post("/v1/dealers", headers=platform, json=dealer_body(legal_representative=rep))
        assert r.status_code == 422 and fields(r) == ["body.legal_representative.id_number"]
        assert client.post("/v1/dealers", headers=platform, json=dealer_body()).status_code == 201

        blacklist.unlink()  # configured but unreadable: onboarding stops, never screens against nothing
        r = client.post("/v1/dealers", headers=platform, json=dealer_body())
        assert r.status_code == 503 and r.json()["code"] == "blacklist_unavailable"


# --- data-key rotation -----------------------------------------------------------------------------------


def use_database(monkeypatch, url, keys_dir):
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_DATABASE_URL", url)
    monkeypatch.setenv("RISK_KEYS_DIR", str(keys_dir))
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", None)


def test_keys_rotate_data_reencrypts_every_value_in_audited_batches(tmp_path, monkeypatch):
    from risk_engine.db import Database
    from tests.factories import make_supplier

    url, keys_dir = f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "keys"
    use_database(monkeypatch, url, keys_dir)
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    db, keys = Database(url), FileKeyProvider(keys_dir)
    people = {make_dealer(db, keys=keys, account_number=account_number()).id for _ in range(7)}
    supplier = make_supplier(db, keys=keys)
    with db.session() as s:
        before = {d.id: pii.legal_representative_of(keys, d) for d in s.query(Dealer)}
    old_kid = keys.current_data_key().kid

    r = runner.invoke(cli.app, ["keys", "rotate", "--data", "--batch-size", "3"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["data_kid"] != old_kid and out["reencrypted"] == {"dealer": 7, "supplier": 1}

    fresh = FileKeyProvider(keys_dir)
    with db.session() as s:
        for dealer in s.query(Dealer):
            assert pii.legal_representative_of(fresh, dealer) == before[dealer.id]
            for column in pii.ENCRYPTED_COLUMNS[Dealer]:
                assert fieldcrypt.field_key_id(getattr(dealer, column)) == out["data_kid"]
        assert pii.account_number_of(fresh, s.get(Supplier, supplier.id))
        assert pii.stale_values(s, fresh) == 0
        batches = s.query(AuditEntry).filter(AuditEntry.action == "keys.data_reencrypted").count()
        assert batches == 3 + 1  # 7 dealers in batches of 3, then the supplier
        assert s.query(AuditEntry).filter(AuditEntry.action == "keys.data_rotated").count() == 1
    assert people
    status = json.loads(runner.invoke(cli.app, ["keys", "status"]).stdout)
    assert status["rows_under_retired_data_keys"] == 0 and status["data_kid"] == out["data_kid"]
    assert runner.invoke(cli.app, ["audit", "verify"]).exit_code == 0
    assert runner.invoke(cli.app, ["keys", "rotate"]).exit_code == 2
    db.dispose()


def test_keys_rotate_data_also_reencrypts_disbursement_and_fund_flow_accounts(tmp_path, monkeypatch):
    """Payee and counterparty accounts of order loans are field tokens too: a rotation that left them
    under the retired key would report nothing stale while those rows still need the old key."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from loan_monitoring import service as loans
    from loan_monitoring.models import Disbursement, FundFlow
    from risk_engine.db import Database
    from risk_engine.settings import get_settings
    from tests.loan_factories import loan_world, make_approved_loan

    url, keys_dir = f"sqlite:///{tmp_path / 'cli.db'}", tmp_path / "keys"
    use_database(monkeypatch, url, keys_dir)
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    db, keys = Database(url), FileKeyProvider(keys_dir)
    world = loan_world(db, keys)
    paid_at = datetime.now(UTC) - timedelta(days=10)
    loan_id = make_approved_loan(db, world.dealer, world.bank, world.order, world.line_id,
                                 applied_at=paid_at - timedelta(days=1))
    with db.unit_of_work() as s:
        loans.report_disbursement(s, keys, get_settings(), loan_id, world.bank.id, reference="D-1",
                                  amount=Decimal("80000.00"), payee_account=world.supplier_account,
                                  paid_at=paid_at, actor="test")
        loans.report_fund_flow(s, keys, get_settings(), loan_id, world.bank.id, kind="supplier_receipt",
                               reference="F-1", amount=Decimal("80000.00"), occurred_at=paid_at,
                               from_account="6222000000000009", to_account=world.supplier_account,
                               actor="test")

    r = runner.invoke(cli.app, ["keys", "rotate", "--data"])
    assert r.exit_code == 0, r.output
    new_kid = json.loads(r.stdout.splitlines()[-1])["data_kid"]
    fresh = FileKeyProvider(keys_dir)
    with db.session() as s:
        tokens = [d.payee_account_enc for d in s.query(Disbursement)]
        tokens += [t for f in s.query(FundFlow) for t in (f.from_account_enc, f.to_account_enc)]
        assert len(tokens) == 3
        assert [fieldcrypt.field_key_id(t) for t in tokens] == [new_kid] * 3
        flow = s.query(FundFlow).one()
        assert fieldcrypt.decrypt_field(fresh, "loan_fund_flow", "from_account_enc", flow.id,
                                        flow.from_account_enc) == "6222000000000009"
        assert pii.stale_values(s, fresh) == 0
    db.dispose()
