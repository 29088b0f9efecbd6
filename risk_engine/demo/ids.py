"""Check characters and vectorised generators for the Chinese identifiers the synthetic platform emits.

- Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters — registration
  authority, entity type, 6-digit administrative division, 9-character organisation code (whose
  last character is itself a GB 11714 check), and a final check character.
- Resident identity number (居民身份证号码, GB 11643-1999): 6-digit division, birth date
  YYYYMMDD, 3-digit sequence (odd for men), ISO 7064 MOD 11-2 check character.

The official KYB validators live in ``compliance/``; these functions only have to *produce* valid
identifiers, and the tests pin them against the DOMAIN.md examples.
"""

from __future__ import annotations

import numpy as np

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORGANISATION_CODE_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
RESIDENT_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
RESIDENT_ID_CHECK_CHARS = "10X98765432"

_CHARSET_BYTES = np.frombuffer(CREDIT_CODE_CHARSET.encode(), dtype=np.uint8)
_CHARSET_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARSET)}


def credit_code_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 characters are given."""
    if len(first17) != 17:
        raise ValueError("a unified social credit code has 17 characters before its check character")
    total = sum(_CHARSET_VALUE[c] * int(w) for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def resident_id_check_character(first17: str) -> str:
    """The 18th character of a resident identity number whose first 17 digits are given."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a resident identity number has 17 digits before its check character")
    total = sum(int(c) * int(w) for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def organisation_code_check_character(first8: str) -> str:
    """GB 11714 check character of the 9-character organisation code embedded in a credit code."""
    total = sum(_CHARSET_VALUE[c] * int(w) for c, w in zip(first8, ORGANISATION_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid_credit_code(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in _CHARSET_VALUE for c in code)
        and credit_code_check_character(code[:17]) == code[17]
    )


def is_valid_resident_id(number: str) -> bool:
    return (
        len(number) == 18 and number[:17].isdigit() and resident_id_check_character(number[:17]) == number[17]
    )


def _rows_to_strings(codes: np.ndarray) -> np.ndarray:
    """(n, k) uint8 ASCII matrix -> array of n Python strings."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    return codes.view(f"S{codes.shape[1]}").ravel().astype(str)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative integers as an (n, width) int64 matrix, most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values.astype(np.int64)[:, None] // powers) % 10


def make_credit_codes(
    serials: np.ndarray, division_codes: np.ndarray, entity_types: np.ndarray | str = "1"
) -> np.ndarray:
    """Valid credit codes ``9 <type> <division> <organisation code> <check>`` for distinct serials.

    ``serials`` are distinct integers below 10**8 (they become the organisation code body, so
    distinct serials give distinct codes); ``division_codes`` are 6-digit administrative divisions;
    ``entity_types`` '1' for enterprises, '2' for individual businesses (个体工商户).
    """
    n = len(serials)
    values = np.empty((n, 17), dtype=np.int64)
    values[:, 0] = 9  # registered with the market regulation authority
    types = np.broadcast_to(np.asarray(entity_types, dtype=str), (n,))
    values[:, 1] = types.astype(np.int64)
    values[:, 2:8] = _digits(np.asarray(division_codes, dtype=np.int64), 6)
    body = _digits(np.asarray(serials, dtype=np.int64), 8)
    values[:, 8:16] = body
    org_check = 11 - (body @ ORGANISATION_CODE_WEIGHTS) % 11
    values[:, 16] = np.where(org_check == 11, 0, np.where(org_check == 10, _CHARSET_VALUE["X"], org_check))
    check = (31 - (values @ CREDIT_CODE_WEIGHTS) % 31) % 31
    return _rows_to_strings(_CHARSET_BYTES[np.column_stack([values, check])])


def make_resident_ids(
    division_codes: np.ndarray, birth_dates: np.ndarray, sequences: np.ndarray
) -> np.ndarray:
    """Valid resident identity numbers from divisions, birth dates (datetime64) and 3-digit sequences."""
    days = np.asarray(birth_dates, dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    yyyymmdd = years * 10_000 + months * 100 + mdays
    values = np.column_stack(
        [
            _digits(np.asarray(division_codes, dtype=np.int64), 6),
            _digits(yyyymmdd, 8),
            _digits(np.asarray(sequences, dtype=np.int64), 3),
        ]
    )
    check_chars = np.frombuffer(RESIDENT_ID_CHECK_CHARS.encode(), dtype=np.uint8)
    check = check_chars[(values @ RESIDENT_ID_WEIGHTS) % 11]
    ascii_digits = (values + ord("0")).astype(np.uint8)
    return _rows_to_strings(np.column_stack([ascii_digits, check]))


def distinct_serials(n: int, offset: int) -> np.ndarray:
    """n distinct 8-digit serials: an affine bijection of 0..10**8-1 keeps them unique without retries.

    Draw every entity's serials from one call so that dealers, suppliers and banks never collide.
    """
    if n > 10**8:
        raise ValueError("at most 10**8 distinct organisation codes")
    return (offset + np.arange(n, dtype=np.int64) * 7_919_377) % 10**8
