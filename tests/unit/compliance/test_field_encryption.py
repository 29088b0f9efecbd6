from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.fieldcrypt import (
    UndecryptableField,
    blind_index,
    decrypt_field,
    encrypt_field,
    field_key_id,
    needs_reencryption,
    reencrypt_field,
)
from compliance.keys import FileKeyProvider

ID_NUMBER = "11010519491231002X"
TOKEN_SHAPE = re.compile(r"v1\.dk-[0-9a-f]{12}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+")


@pytest.mark.parametrize("plaintext", [ID_NUMBER, "", "张三", "深圳市南山区科技园 1 号 🏭", "x" * 2000])
def test_a_field_decrypts_to_what_was_encrypted(key_provider, plaintext):
    token = encrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", plaintext)
    assert TOKEN_SHAPE.fullmatch(token)
    assert decrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", token) == plaintext


def test_the_token_names_its_key_and_fits_a_varchar_255_for_short_values(key_provider):
    token = encrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", ID_NUMBER)
    assert field_key_id(token) == key_provider.current_data_key().kid
    assert len(token) <= 100 and token.isascii()
    assert ID_NUMBER not in token


def test_encrypting_the_same_value_twice_gives_different_tokens(key_provider):
    first = encrypt_field(key_provider, "dealers", "phone", 1, "13800138000")
    second = encrypt_field(key_provider, "dealers", "phone", 1, "13800138000")
    assert first != second


def test_integer_and_text_row_ids_bind_the_same_row(key_provider):
    token = encrypt_field(key_provider, "dealers", "phone", 7, "13800138000")
    assert decrypt_field(key_provider, "dealers", "phone", "7", token) == "13800138000"


@pytest.mark.parametrize(
    ("table", "column", "row_id"),
    [
        ("dealers", "legal_rep_id_number", "dlr_43"),  # another row
        ("dealers", "phone", "dlr_42"),  # another column
        ("suppliers", "legal_rep_id_number", "dlr_42"),  # another table
    ],
)
def test_a_ciphertext_moved_to_another_place_fails_to_decrypt(key_provider, table, column, row_id):
    token = encrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", ID_NUMBER)
    with pytest.raises(UndecryptableField, match="fails authentication"):
        decrypt_field(key_provider, table, column, row_id, token)


def test_relabelling_a_token_with_another_key_id_fails(key_provider):
    token = encrypt_field(key_provider, "dealers", "phone", 1, "13800138000")
    old_kid = field_key_id(token)
    new_kid = key_provider.rotate_data()
    relabelled = token.replace(old_kid, new_kid)
    with pytest.raises(UndecryptableField):
        decrypt_field(key_provider, "dealers", "phone", 1, relabelled)


@pytest.fixture(scope="module")
def stored_token(shared_key_provider):
    return encrypt_field(shared_key_provider, "dealers", "legal_rep_id_number", "dlr_42", ID_NUMBER)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_changed_character_of_a_stored_value_fails_to_decrypt(
    shared_key_provider, stored_token, position, replacement
):
    position %= len(stored_token)
    if replacement == stored_token[position]:
        return
    tampered = stored_token[:position] + replacement + stored_token[position + 1 :]
    with pytest.raises(UndecryptableField):
        decrypt_field(shared_key_provider, "dealers", "legal_rep_id_number", "dlr_42", tampered)


@pytest.mark.parametrize(
    "token", ["", "plain text", "v2.dk-1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", None, "v1..."]
)
def test_values_that_are_not_field_tokens_are_refused(key_provider, token):
    with pytest.raises(UndecryptableField):
        decrypt_field(key_provider, "dealers", "phone", 1, token)


def test_a_token_under_a_key_this_provider_never_held_is_refused(key_provider, tmp_path):
    token = encrypt_field(FileKeyProvider(tmp_path / "elsewhere"), "dealers", "phone", 1, "13800138000")
    with pytest.raises(UndecryptableField, match="not held"):
        decrypt_field(key_provider, "dealers", "phone", 1, token)


def test_after_a_data_key_rotation_old_values_decrypt_and_re_encrypt_under_the_new_key(key_provider):
    old = encrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", ID_NUMBER)
    new_kid = key_provider.rotate_data()
    assert decrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", old) == ID_NUMBER
    assert needs_reencryption(key_provider, old)

    renewed = reencrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", old)
    assert field_key_id(renewed) == new_kid and not needs_reencryption(key_provider, renewed)
    assert decrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", renewed) == ID_NUMBER
    assert reencrypt_field(key_provider, "dealers", "legal_rep_id_number", "dlr_42", renewed) == renewed


def test_values_still_under_an_old_key_can_be_found_by_prefix(key_provider):
    old = encrypt_field(key_provider, "dealers", "phone", 1, "13800138000")
    new_kid = key_provider.rotate_data()
    assert not old.startswith(f"v1.{new_kid}.")
    assert encrypt_field(key_provider, "dealers", "phone", 1, "13800138000").startswith(f"v1.{new_kid}.")


def test_a_blind_index_finds_the_same_id_number_however_it_was_typed(key_provider):
    expected = blind_index(key_provider, "legal_rep_id_number", ID_NUMBER)
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    for typed in ("11010519491231002x", f"  {ID_NUMBER}\n", "１１０１０５１９４９１２３１００２Ｘ"):
        assert blind_index(key_provider, "legal_rep_id_number", typed) == expected


def test_a_blind_index_is_scoped_to_its_column_and_distinguishes_values(key_provider):
    index = blind_index(key_provider, "legal_rep_id_number", ID_NUMBER)
    assert blind_index(key_provider, "guarantor_id_number", ID_NUMBER) != index
    assert blind_index(key_provider, "legal_rep_id_number", "110105194912310029") != index


def test_a_blind_index_survives_data_key_rotation_and_is_secret_per_installation(key_provider, tmp_path):
    index = blind_index(key_provider, "credit_code", "9144030071526726XG")
    key_provider.rotate_data()
    assert blind_index(FileKeyProvider(key_provider.keys_dir), "credit_code", "9144030071526726XG") == index
    assert blind_index(FileKeyProvider(tmp_path / "other"), "credit_code", "9144030071526726XG") != index
