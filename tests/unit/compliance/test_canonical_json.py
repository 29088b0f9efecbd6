"""``compliance.audit.canonical_json`` writes exactly what RFC 8785 (the ``rfc8785`` package) writes.

The fast path hands the standard library's C encoder the data it prints canonically; these properties
hold it to the reference implementation over arbitrary JSON, doubles from every range included."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from compliance.audit import canonical_json

finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | finite
    | st.text()
    | st.sampled_from(["𝄞", "\ue000", "\x00\x1f\x7f", '"\\/', "\u2028\u2029", "日期"])
)
keys = st.text() | st.sampled_from(["𝄞", "\ue000", "\uffff", "a", "A", "é"])
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


@given(documents)
def test_equals_the_reference_implementation(document):
    assert canonical_json(document) == rfc8785.dumps(document).decode("utf-8")


@given(finite)
def test_every_double_prints_as_ecmascript_does(value):
    assert canonical_json([value]) == rfc8785.dumps([value]).decode("utf-8")


def test_the_doubles_where_python_and_ecmascript_differ():
    cases = [1.0, -0.0, 2.0**53, 1e16, 1.5e16, 1e20, 1e21, 1e-5, 1.5e-7, 0.0001, 123456.789, 5e-324]
    for value in cases:
        assert canonical_json(value) == rfc8785.dumps(value).decode("utf-8"), value
    assert canonical_json(1.0) == "1"
    assert canonical_json(1e-5) == "0.00001"
    assert canonical_json(1e16) == "10000000000000000"


def test_keys_sort_by_utf16_code_units():
    # U+E000 sorts after U+1D11E in UTF-16 (0xE000 > 0xD834) but before it by code point
    document = {"\ue000": 1, "𝄞": 2, "a": 3}
    assert canonical_json(document) == rfc8785.dumps(document).decode("utf-8")
    assert canonical_json(document).index("𝄞") < canonical_json(document).index("\ue000")


def test_domain_values_become_plain_json():
    moment = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    text = canonical_json({"limit": Decimal("1000.50"), "at": moment, "on": date(2026, 11, 25), "pd": math.nan})
    assert text == '{"at":"2026-11-25T08:30:00.000000Z","limit":"1000.50","on":"2026-11-25","pd":null}'


def test_integers_beyond_two_to_the_53_are_refused_as_rfc8785_refuses_them():
    for value in (2**53, -(2**53)):
        try:
            rfc8785.dumps(value)
        except Exception as reference:  # noqa: BLE001 - whatever the reference raises, we raise too
            try:
                canonical_json(value)
            except type(reference):
                continue
            raise AssertionError(f"{value} was accepted") from None
