"""Money on the way in: the two-place amount the database gives back, whatever exact form it was sent in."""

from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from risk_engine.schemas import Money

MONEY = TypeAdapter(Money)


@pytest.mark.parametrize("sent", ["-0", "-0.00", "-0E+3"])
def test_a_negative_zero_is_carried_as_zero_not_as_minus_zero(sent):
    # "-0" passes ge=0; as -0.00 it would be recorded and signed as "-0.00" while the database gives back 0.00
    amount = MONEY.validate_python(sent)
    assert amount == 0 and not amount.is_signed() and amount.as_tuple().exponent == -2
    assert MONEY.dump_json(amount) == b'"0.00"'


@pytest.mark.parametrize(("sent", "carried"), [("700000", "700000.00"), (800000, "800000.00"),
                                                ("7E+5", "700000.00"), ("1.500", "1.50")])
def test_an_exact_amount_is_carried_as_its_two_place_form(sent, carried):
    assert str(MONEY.validate_python(sent)) == carried


def test_a_negative_amount_is_still_refused():
    with pytest.raises(ValueError):
        MONEY.validate_python("-0.01")
    assert MONEY.validate_python("0") == Decimal("0.00")
