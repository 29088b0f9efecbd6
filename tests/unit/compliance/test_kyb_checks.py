from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from compliance.kyb import (
    CREDIT_CODE_CHARSET,
    Blacklist,
    BlacklistEntry,
    birth_date_of,
    check_licence_validity,
    compute_credit_code_check_char,
    compute_id_check_char,
    load_blacklist,
    screen_business,
    validate_credit_code,
    validate_id_number,
    validate_phone,
)
from risk_engine.errors import InvalidInput

CREDIT_CODE = "9144030071526726XG"
ID_NUMBER = "11010519491231002X"
TODAY = date(2025, 6, 30)


def failure(check, *args, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        check(*args, **kwargs)
    return error.value


# --- unified social credit code ---


def test_the_published_credit_code_example_is_valid():
    assert validate_credit_code(CREDIT_CODE) == CREDIT_CODE
    assert compute_credit_code_check_char(CREDIT_CODE[:17]) == "G"


def test_a_credit_code_typed_in_lower_case_or_full_width_is_normalised():
    assert validate_credit_code(" 9144030071526726xg ") == CREDIT_CODE
    assert validate_credit_code("９１４４０３００７１５２６７２６ＸＧ") == CREDIT_CODE


def test_a_wrong_credit_code_check_character_names_the_expected_one():
    error = failure(validate_credit_code, "9144030071526726XX")
    assert error.detail == "credit_code: check character should be 'G', got 'X'"
    assert (error.field, error.code) == ("credit_code", "credit_code_check")


def test_a_credit_code_of_the_wrong_length_is_refused():
    error = failure(validate_credit_code, CREDIT_CODE[:17])
    assert error.detail == "credit_code: must be 18 characters, got 17"


@pytest.mark.parametrize("letter", "IOSVZ")
def test_letters_excluded_by_the_standard_are_refused_with_their_position(letter):
    error = failure(
        validate_credit_code, CREDIT_CODE[:4] + letter + CREDIT_CODE[5:], field="body.credit_code"
    )
    assert error.field == "body.credit_code" and error.code == "credit_code_charset"
    assert f"character {letter!r} at position 5" in error.detail


def random_credit_codes() -> st.SearchStrategy[str]:
    return st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17).map(
        lambda body: body + compute_credit_code_check_char(body)
    )


def test_every_single_substitution_of_the_published_credit_code_is_detected():
    for position in range(18):
        for replacement in CREDIT_CODE_CHARSET.replace(CREDIT_CODE[position], ""):
            changed = CREDIT_CODE[:position] + replacement + CREDIT_CODE[position + 1 :]
            with pytest.raises(InvalidInput):
                validate_credit_code(changed)


@given(code=random_credit_codes(), position=st.integers(0, 17), replacement=st.characters(codec="ascii"))
def test_any_single_character_change_to_a_credit_code_is_detected(code, position, replacement):
    changed = code[:position] + replacement + code[position + 1 :]
    assume(changed.strip().upper() != code)
    with pytest.raises(InvalidInput):
        validate_credit_code(changed)


@given(code=random_credit_codes(), first=st.integers(0, 16), second=st.integers(0, 16))
def test_swapping_any_two_different_characters_of_a_credit_code_body_is_detected(code, first, second):
    assume(code[first] != code[second])
    chars = list(code)
    chars[first], chars[second] = chars[second], chars[first]
    with pytest.raises(InvalidInput):
        validate_credit_code("".join(chars))


# --- resident identity number ---


def test_the_published_id_number_example_is_valid_with_either_case_of_x():
    assert validate_id_number(ID_NUMBER, today=TODAY) == ID_NUMBER
    assert validate_id_number("11010519491231002x", today=TODAY) == ID_NUMBER
    assert compute_id_check_char(ID_NUMBER[:17]) == "X"
    assert birth_date_of(ID_NUMBER) == date(1949, 12, 31)


def test_a_wrong_id_check_character_names_the_expected_one():
    error = failure(validate_id_number, "110105194912310021", today=TODAY, field="legal_representative_id")
    assert error.detail == "legal_representative_id: check character should be 'X', got '1'"
    assert error.code == "id_number_check"


@pytest.mark.parametrize(
    ("birth", "reason"),
    [
        ("19490230", "not a real date"),
        ("19491331", "not a real date"),
        ("18991231", "outside"),
        ("20250701", "outside"),
    ],
)
def test_an_id_number_must_carry_a_real_past_birth_date(birth, reason):
    body = "110105" + birth + "002"
    error = failure(validate_id_number, body + compute_id_check_char(body), today=TODAY)
    assert error.code == "id_number_birth_date" and reason in error.detail


@pytest.mark.parametrize(
    "number", ["110105491231002", "11010519491231002", "1101051949123100XX", "A1010519491231002X"]
)
def test_old_fifteen_digit_and_malformed_id_numbers_are_refused(number):
    assert failure(validate_id_number, number, today=TODAY).code in {"id_number_length", "id_number_format"}


@st.composite
def random_id_numbers(draw) -> str:
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    body = region + born.strftime("%Y%m%d") + sequence
    return body + compute_id_check_char(body)


def test_every_single_substitution_of_the_published_id_number_is_detected():
    for position in range(18):
        for replacement in "0123456789X".replace(ID_NUMBER[position], ""):
            changed = ID_NUMBER[:position] + replacement + ID_NUMBER[position + 1 :]
            with pytest.raises(InvalidInput):
                validate_id_number(changed, today=TODAY)


@given(number=random_id_numbers(), position=st.integers(0, 17), replacement=st.sampled_from("0123456789X"))
def test_any_single_character_change_to_an_id_number_is_detected(number, position, replacement):
    assume(number[position] != replacement)
    with pytest.raises(InvalidInput):
        validate_id_number(number[:position] + replacement + number[position + 1 :], today=TODAY)


@given(number=random_id_numbers(), position=st.integers(0, 15))
def test_swapping_two_adjacent_different_digits_of_an_id_number_body_is_detected(number, position):
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    with pytest.raises(InvalidInput):
        validate_id_number(swapped, today=TODAY)


def test_swapping_digits_ten_places_apart_is_beyond_what_mod_11_2_can_catch():
    # Positions 5 and 15 share the weight 4 (2^10 = 1 mod 11), so this swap keeps the check character.
    swapped = ID_NUMBER[:5] + ID_NUMBER[15] + ID_NUMBER[6:15] + ID_NUMBER[5] + ID_NUMBER[16:]
    assert swapped != ID_NUMBER
    assert validate_id_number(swapped, today=TODAY) == swapped


# --- licence ---


def test_an_expired_licence_is_refused_with_its_date():
    error = failure(check_licence_validity, date(2025, 6, 29), on=TODAY)
    assert error.field == "licence_expires_on" and error.code == "licence_expired"
    assert "expired on 2025-06-29" in error.detail


def test_a_licence_expiring_today_is_still_valid_but_flagged():
    validity = check_licence_validity(TODAY, on=TODAY)
    assert (validity.days_remaining, validity.expiring_soon) == (0, True)


@pytest.mark.parametrize(("days", "soon"), [(30, True), (31, False), (365, False)])
def test_a_licence_is_flagged_inside_the_warning_window(days, soon):
    assert (
        check_licence_validity(TODAY + timedelta(days=days), on=TODAY, warning_days=30).expiring_soon is soon
    )


def test_a_long_term_licence_never_expires():
    assert check_licence_validity(None, on=TODAY).expiring_soon is False


# --- blacklist ---


def test_a_blacklist_loads_from_csv_and_matches_however_the_number_is_typed(tmp_path):
    path = tmp_path / "blacklist.csv"
    path.write_text(
        "kind,number,reason\n"
        "credit_code,9144030071526726xg,court enforcement\n"
        "id_number,11010519491231002X,fraud\n",
        encoding="utf-8",
    )
    blacklist = load_blacklist(path)
    assert len(blacklist) == 2
    assert blacklist.match("credit_code", CREDIT_CODE).reason == "court enforcement"
    assert blacklist.match("id_number", "11010519491231002x") is not None
    assert blacklist.match("credit_code", ID_NUMBER) is None


def test_a_blacklist_loads_from_json(tmp_path):
    path = tmp_path / "blacklist.json"
    path.write_text(json.dumps([{"kind": "id_number", "number": ID_NUMBER}]), encoding="utf-8")
    assert load_blacklist(path).match("id_number", ID_NUMBER) == BlacklistEntry("id_number", ID_NUMBER, "")


def test_a_blacklisted_business_is_refused_without_revealing_the_reason_in_the_detail():
    blacklist = Blacklist.of([BlacklistEntry("credit_code", CREDIT_CODE, "court enforcement")])
    error = failure(blacklist.check, "credit_code", CREDIT_CODE)
    assert error.detail == "credit_code: is on the blacklist"
    assert (error.code, error.extra) == ("blacklisted", {"reason": "court enforcement"})


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ("kind,number\nperson,1\n", "bad.csv"),
        ("kind,number\nid_number,\n", "bad.csv"),
        ('{"a": 1}', "bad.json"),
    ],
)
def test_a_malformed_blacklist_file_is_refused(tmp_path, content, name):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert failure(load_blacklist, path).code == "blacklist_format"


def test_a_blacklist_must_be_csv_or_json(tmp_path):
    assert failure(load_blacklist, tmp_path / "list.xlsx").code == "blacklist_format"


# --- all together ---


def test_screening_a_sound_business_returns_normalised_numbers_and_warnings():
    result = screen_business(
        "9144030071526726xg",
        on=TODAY,
        legal_representative_id="11010519491231002x",
        licence_expires_on=TODAY + timedelta(days=10),
        check_licence=True,
        blacklist=Blacklist(),
    )
    assert (result.credit_code, result.legal_representative_id) == (CREDIT_CODE, ID_NUMBER)
    assert result.warnings == ("licence_expires_on: business licence expires in 10 days",)


def test_screening_reports_every_failure_at_once():
    blacklist = Blacklist.of([BlacklistEntry("id_number", ID_NUMBER, "fraud")])
    error = failure(
        screen_business,
        "9144030071526726XX",
        on=TODAY,
        legal_representative_id=ID_NUMBER,
        licence_expires_on=date(2020, 1, 1),
        check_licence=True,
        blacklist=blacklist,
    )
    assert error.field == "credit_code" and error.code == "credit_code_check"
    assert [(e["field"], e["code"]) for e in error.extra["errors"]] == [
        ("credit_code", "credit_code_check"),
        ("licence_expires_on", "licence_expired"),
        ("legal_representative_id", "blacklisted"),
    ]


# --- phone numbers ---


@pytest.mark.parametrize(("typed", "stored"), [
    ("13812345678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("010 1234 5678", "010-12345678"),  # Beijing: 3-digit area code, 8-digit number
    ("02012345678", "020-12345678"),  # Guangzhou
    ("(021)6123-4567", "021-61234567"),
    ("0755-88888888", "0755-88888888"),  # Shenzhen: 4-digit area code
    ("07558888888", "0755-8888888"),
])
def test_a_phone_number_is_stored_with_its_real_area_code(typed, stored):
    assert validate_phone(typed) == stored

