"""Small factories for the parties and API clients, committed through the real services."""
from __future__ import annotations

import itertools
import tempfile
from decimal import Decimal
from functools import cache
from pathlib import Path

from api.clients import create_client
from compliance.keys import FileKeyProvider, KeyProvider
from compliance.kyb import compute_credit_code_check_char, compute_id_check_char
from risk_engine.db import Database
from risk_engine.parties import service
from risk_engine.parties.models import Bank, Dealer, Guarantor, Supplier
from risk_engine.parties.schemas import BankIn, DealerIn, GuarantorIn, SupplierIn

_counter = itertools.count(1)


def credit_code(prefix: str = "91440300MA") -> str:
    body = f"{prefix}{next(_counter):07d}"[:17]
    return body + compute_credit_code_check_char(body)


def make_bank(db: Database, **overrides) -> Bank:
    data = dict(name="Test Bank", credit_code=credit_code("91310000MA"), quota=Decimal("10000000.00"),
                loan_to_order_ratio=Decimal("0.80"), min_tenor_days=30, max_tenor_days=180,
                apr=Decimal("0.0650"), max_line_amount=Decimal("2000000.00"))
    data.update(overrides)
    with db.unit_of_work() as s:
        return service.create_bank(s, BankIn(**data), actor="test")


def make_guarantor(db: Database, **overrides) -> Guarantor:
    data = dict(name="Test Guarantor", credit_code=credit_code("91330000MA"), net_assets=Decimal("100000000.00"))
    data.update(overrides)
    with db.unit_of_work() as s:
        return service.create_guarantor(s, GuarantorIn(**data), actor="test")


@cache
def factory_keys() -> FileKeyProvider:
    """Keys for rows made by the factories (one temporary directory per test process). Tests that read
    the personal data back through the API pass ``keys=client.app.state.keys`` instead."""
    return FileKeyProvider(Path(tempfile.mkdtemp(prefix="risk-test-keys-")) / "keys")


def id_number(birth: str = "19800101", region: str = "440305") -> str:
    body = f"{region}{birth}{next(_counter) % 1000:03d}"
    return body + compute_id_check_char(body)


def account_number() -> str:
    return f"6222{next(_counter):015d}"


def consent_body(*purposes: str, **overrides) -> dict:
    body = dict(purposes=list(purposes or ("credit_scoring", "data_sharing_with_bank", "loan_monitoring")),
                scope="trade, payment and invoice data on the platform, to rate the dealer, set and monitor "
                      "its credit line and share the decision with its partner banks",
                evidence="esign:test-consent", granted_at="2024-01-01T00:00:00Z")
    body.update(overrides)
    return body


def dealer_body(**overrides) -> dict:
    """A valid POST /v1/dealers body: KYB-clean, with a legal representative and consent."""
    body = dict(credit_code=credit_code(), name="Test Dealer", registered_on="2019-03-01",
                licence_expires_on="2030-12-31", region="广东", industry="building_materials",
                legal_representative={"name": "测试法人", "id_number": id_number(), "phone": "13800138000"},
                consent=consent_body())
    body.update(overrides)
    return body


def make_dealer(db: Database, keys: KeyProvider | None = None, **overrides) -> Dealer:
    data = dealer_body(**overrides)
    with db.unit_of_work() as s:
        return service.onboard_dealer(s, DealerIn(**data), actor="test", keys=keys or factory_keys())


def make_supplier(db: Database, keys: KeyProvider | None = None, **overrides) -> Supplier:
    data = dict(credit_code=credit_code("91110000MA"), name="Test Supplier", whitelisted=True,
                account_number=account_number())
    data.update(overrides)
    with db.unit_of_work() as s:
        return service.onboard_supplier(s, SupplierIn(**data), actor="test", keys=keys or factory_keys())


def make_api_key(db: Database, role: str, bank: Bank | None = None, name: str | None = None) -> str:
    with db.unit_of_work() as s:
        return create_client(s, name=name or f"test {role}", role=role,
                             bank_id=bank.id if bank else None).key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
