"""Small factories for the parties and API clients, committed through the real services."""
from __future__ import annotations

import itertools
from decimal import Decimal

from api.clients import create_client
from compliance.kyb import compute_credit_code_check_char
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


def make_dealer(db: Database, **overrides) -> Dealer:
    data = dict(credit_code=credit_code(), name="Test Dealer", registered_on="2019-03-01",
                licence_expires_on="2030-12-31", region="广东", industry="building_materials")
    data.update(overrides)
    with db.unit_of_work() as s:
        return service.onboard_dealer(s, DealerIn(**data), actor="test")


def make_supplier(db: Database, **overrides) -> Supplier:
    data = dict(credit_code=credit_code("91110000MA"), name="Test Supplier", whitelisted=True)
    data.update(overrides)
    with db.unit_of_work() as s:
        return service.onboard_supplier(s, SupplierIn(**data), actor="test")


def make_api_key(db: Database, role: str, bank: Bank | None = None, name: str | None = None) -> str:
    with db.unit_of_work() as s:
        return create_client(s, name=name or f"test {role}", role=role,
                             bank_id=bank.id if bank else None).key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
