"""``risk_engine.db.insert_new``: one Core INSERT, and the object is then the session's persistent row."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import inspect, select

from risk_engine.db import insert_new
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank
from tests.factories import credit_code


def test_an_inserted_object_is_persistent_with_its_values_and_the_defaults_of_what_was_left_out(db):
    bank = Bank(
        id=new_id("bnk"), name="Inserted Bank", credit_code=credit_code("91310000MA"), quota=Decimal("5000000.00"),
        loan_to_order_ratio=Decimal("0.70"), min_tenor_days=30, max_tenor_days=90, apr=Decimal("0.0600"),
        max_line_amount=Decimal("1000000.00"),
    )  # created_at left out: its column default applies
    with db.unit_of_work() as s:
        insert_new(s, bank)
        state = inspect(bank)
        assert state.persistent and bank in s and not s.new  # nothing left for the unit of work to insert
        assert s.get(Bank, bank.id) is bank
        assert bank.created_at is not None  # read back on touch
        bank.quota = Decimal("6000000.00")  # and changed like any loaded row
    with db.session() as s:
        row = s.execute(select(Bank.quota, Bank.max_line_amount, Bank.created_at).where(Bank.id == bank.id)).one()
        assert row.quota == Decimal("6000000.00") and row.max_line_amount == Decimal("1000000.00")
        assert row.created_at is not None
