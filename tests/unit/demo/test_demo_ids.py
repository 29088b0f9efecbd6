"""Generated identifiers carry valid check characters (GB 32100 credit codes, GB 11643 identity numbers)."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from risk_engine.demo.ids import (
    CREDIT_CODE_CHARSET,
    credit_code_check_character,
    distinct_serials,
    is_valid_credit_code,
    is_valid_resident_id,
    make_credit_codes,
    make_resident_ids,
    organisation_code_check_character,
    resident_id_check_character,
)

divisions = st.sampled_from([110105, 310115, 440305, 440106, 330106, 510107])


def test_the_domain_examples_are_valid():
    assert credit_code_check_character("9144030071526726X") == "G"
    assert organisation_code_check_character("71526726") == "X"
    assert is_valid_credit_code("9144030071526726XG")
    assert resident_id_check_character("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X")


def test_the_domain_example_is_reproduced_by_the_vectorised_generator():
    assert make_credit_codes(np.array([71526726]), np.array([440300]))[0] == "9144030071526726XG"
    births = np.array(["1949-12-31"], dtype="datetime64[D]")
    assert make_resident_ids(np.array([110105]), births, np.array([2]))[0] == "11010519491231002X"


@given(st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=20), divisions, st.sampled_from("12"))
def test_generated_credit_codes_are_valid_for_any_serial(serials, division, entity_type):
    codes = make_credit_codes(np.array(serials), np.full(len(serials), division), entity_type)
    for code, serial in zip(codes, serials, strict=True):
        assert is_valid_credit_code(code)
        assert code[:2] == "9" + entity_type and code[2:8] == str(division)
        assert code[8:16] == f"{serial:08d}"
        assert organisation_code_check_character(code[8:16]) == code[16]


@given(
    st.lists(st.dates(date(1930, 1, 1), date(2008, 12, 31)), min_size=1, max_size=20),
    divisions,
    st.integers(0, 999),
)
def test_generated_resident_ids_are_valid_and_carry_the_birth_date(births, division, sequence):
    numbers = make_resident_ids(
        np.full(len(births), division),
        np.array(births, dtype="datetime64[D]"),
        np.full(len(births), sequence),
    )
    for number, born in zip(numbers, births, strict=True):
        assert is_valid_resident_id(number)
        assert number[6:14] == born.strftime("%Y%m%d") and number[14:17] == f"{sequence:03d}"


@given(st.integers(0, 10**8 - 1), st.integers(0, 16), st.sampled_from(CREDIT_CODE_CHARSET))
def test_any_single_changed_character_of_a_credit_code_is_detected(serial, position, replacement):
    code = make_credit_codes(np.array([serial]), np.array([440305]))[0]
    changed = code[:position] + replacement + code[position + 1 :]
    assert is_valid_credit_code(changed) == (changed == code)


@given(st.integers(1, 5_000), st.integers(0, 10**8 - 1))
def test_serials_from_one_draw_never_repeat(n, offset):
    assert len(np.unique(distinct_serials(n, offset))) == n
