"""Know-your-business checks: identifiers, licence validity and the blacklist.

Pure functions over plain values. Every failure raises ``InvalidInput`` naming the field and the reason,
e.g. ``credit_code: check character should be 'G', got 'X'``; callers pass ``field=`` when the value
sits elsewhere in a request (``"body.legal_representative.id_number"``).

What the check characters guarantee (and what the tests assert, nothing more):

* Unified social credit code (GB 32100-2015): the weights ``3^i mod 31`` are non-zero and pairwise
  distinct modulo the prime 31 for i = 0..16, so any single substitution and any swap of two different
  characters among the first 17 changes the weighted sum modulo 31 and is detected.
* Resident identity number (GB 11643-1999, ISO 7064 MOD 11-2): the weights ``2^(17-i) mod 11`` are
  non-zero modulo the prime 11, so any single substitution is detected, and neighbouring weights differ,
  so swapping two adjacent different digits among the first 17 is detected. The weights repeat every ten
  positions, so swaps ten places apart are not; nor is a swap involving the check character itself.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from risk_engine.errors import InvalidInput

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CREDIT_CODE_VALUE = {char: value for value, char in enumerate(CREDIT_CODE_CHARSET)}

ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_NUMBER_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

BlacklistKind = Literal["credit_code", "id_number"]
BLACKLIST_KINDS: tuple[BlacklistKind, ...] = ("credit_code", "id_number")


def normalise_identifier(value: str) -> str:
    """Fold full-width characters (NFKC), trim surrounding space and upper-case: how people type codes."""
    return unicodedata.normalize("NFKC", value).strip().upper()


# --- unified social credit code -------------------------------------------------------------------


def compute_credit_code_check_char(first_17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    body = normalise_identifier(first_17)
    if len(body) != 17 or any(char not in _CREDIT_CODE_VALUE for char in body):
        raise InvalidInput(
            f"credit_code: need 17 characters from {CREDIT_CODE_CHARSET!r} to compute a check character",
            field="credit_code",
            code="credit_code_charset",
        )
    values = [_CREDIT_CODE_VALUE[char] for char in body]
    weighted_sum = sum(value * weight for value, weight in zip(values, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - weighted_sum % 31) % 31]


def validate_credit_code(code: str, *, field: str = "credit_code") -> str:
    """Return the normalised unified social credit code, or raise naming the first problem found."""
    normalised = normalise_identifier(code)
    if len(normalised) != 18:
        raise InvalidInput(
            f"{field}: must be 18 characters, got {len(normalised)}", field=field, code="credit_code_length"
        )
    for position, char in enumerate(normalised, start=1):
        if char not in _CREDIT_CODE_VALUE:
            raise InvalidInput(
                f"{field}: character {char!r} at position {position} is not allowed "
                f"(GB 32100-2015 uses {CREDIT_CODE_CHARSET}; I, O, S, V and Z never occur)",
                field=field,
                code="credit_code_charset",
            )
    expected = compute_credit_code_check_char(normalised[:17])
    if normalised[17] != expected:
        raise InvalidInput(
            f"{field}: check character should be {expected!r}, got {normalised[17]!r}",
            field=field,
            code="credit_code_check",
        )
    return normalised


# --- resident identity number ---------------------------------------------------------------------


def compute_id_check_char(first_17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for the first 17 digits of an id number."""
    body = normalise_identifier(first_17)
    if len(body) != 17 or not (body.isascii() and body.isdigit()):
        raise InvalidInput(
            "id_number: need 17 digits to compute a check character",
            field="id_number",
            code="id_number_format",
        )
    weighted_sum = sum(int(digit) * weight for digit, weight in zip(body, ID_NUMBER_WEIGHTS, strict=True))
    return ID_NUMBER_CHECK_CHARS[weighted_sum % 11]


def birth_date_of(id_number: str) -> date:
    """The birth date embedded in positions 7-14 (YYYYMMDD) of an 18-character id number."""
    digits = normalise_identifier(id_number)[6:14]
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def validate_id_number(id_number: str, *, field: str = "id_number", today: date | None = None) -> str:
    """Return the normalised 18-character resident identity number, or raise naming the problem.

    Checks the format, that the embedded birth date is a real date between 1900 and ``today``, and the
    check character. Old 15-digit numbers are refused: they carry no check character.
    """
    normalised = normalise_identifier(id_number)
    if len(normalised) != 18:
        raise InvalidInput(
            f"{field}: must be 18 characters, got {len(normalised)}", field=field, code="id_number_length"
        )
    body, check = normalised[:17], normalised[17]
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        raise InvalidInput(
            f"{field}: must be 17 digits followed by a digit or 'X'", field=field, code="id_number_format"
        )
    try:
        born = birth_date_of(normalised)
    except ValueError:
        raise InvalidInput(
            f"{field}: birth date {body[6:14]} is not a real date", field=field, code="id_number_birth_date"
        ) from None
    latest = today or date.today()
    if not EARLIEST_BIRTH_DATE <= born <= latest:
        raise InvalidInput(
            f"{field}: birth date {born.isoformat()} is outside {EARLIEST_BIRTH_DATE.isoformat()}"
            f"..{latest.isoformat()}",
            field=field,
            code="id_number_birth_date",
        )
    expected = compute_id_check_char(body)
    if check != expected:
        raise InvalidInput(
            f"{field}: check character should be {expected!r}, got {check!r}",
            field=field,
            code="id_number_check",
        )
    return normalised


# --- phone numbers and bank accounts --------------------------------------------------------------

_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
# Area codes: 010 and 020-029 have three digits, every other one (0xxx) four; the local number 7 or 8.
_LANDLINE = re.compile(r"(?:\+?86)?(0(?:10|2\d|[3-9]\d{2}))(\d{7,8})")
_ACCOUNT = re.compile(r"\d{8,32}")


def validate_phone(phone: str, *, field: str = "phone") -> str:
    """A mainland mobile (``13812345678``, ``+86 138 1234 5678``) or landline with area code
    (``020-12345678``); returns ``13812345678`` or ``020-12345678``, or raises naming the field."""
    compact = re.sub(r"[\s()-]", "", unicodedata.normalize("NFKC", phone))
    if mobile := _MOBILE.fullmatch(compact):
        return mobile.group(1)
    if landline := _LANDLINE.fullmatch(compact):
        return f"{landline.group(1)}-{landline.group(2)}"
    raise InvalidInput(
        f"{field}: must be a mainland mobile number (11 digits starting 13-19, +86 optional) or a "
        "landline with its area code (e.g. 020-12345678)",
        field=field,
        code="phone_format",
    )


def validate_account_number(account_number: str, *, field: str = "account_number") -> str:
    """A bank account number: 8 to 32 digits once spaces and hyphens are removed; returns the digits."""
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", account_number))
    if not (_ACCOUNT.fullmatch(digits) and digits.isascii()):
        raise InvalidInput(
            f"{field}: must be 8 to 32 digits (spaces and hyphens are ignored)",
            field=field,
            code="account_number_format",
        )
    return digits


# --- business licence -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceValidity:
    """A licence that is valid on the checked day. ``expires_on`` None means long-term (长期)."""

    expires_on: date | None
    days_remaining: int | None
    expiring_soon: bool


def check_licence_validity(
    expires_on: date | None,
    *,
    on: date,
    warning_days: int = 30,
    field: str = "licence_expires_on",
) -> LicenceValidity:
    """Raise when the licence has expired before ``on``; flag it when it expires within ``warning_days``.

    A licence expiring on ``on`` itself is still valid that day (days_remaining 0, expiring soon).
    """
    if expires_on is None:
        return LicenceValidity(expires_on=None, days_remaining=None, expiring_soon=False)
    days_remaining = (expires_on - on).days
    if days_remaining < 0:
        raise InvalidInput(
            f"{field}: business licence expired on {expires_on.isoformat()}, before {on.isoformat()}",
            field=field,
            code="licence_expired",
        )
    return LicenceValidity(
        expires_on=expires_on, days_remaining=days_remaining, expiring_soon=days_remaining <= warning_days
    )


# --- blacklist ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlacklistEntry:
    kind: BlacklistKind
    number: str
    reason: str = ""


@dataclass(frozen=True)
class Blacklist:
    """Credit codes and id numbers the platform must not onboard. Numbers are stored normalised."""

    entries: Mapping[tuple[BlacklistKind, str], BlacklistEntry] = dataclass_field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[BlacklistEntry]) -> Blacklist:
        index = {}
        for entry in entries:
            number = normalise_identifier(entry.number)
            index[(entry.kind, number)] = BlacklistEntry(entry.kind, number, entry.reason)
        return cls(entries=index)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], *, source: str = "blacklist") -> Blacklist:
        """Build from mappings with ``kind`` (credit_code | id_number), ``number`` and optional ``reason``."""
        entries = []
        for line, record in enumerate(records, start=1):
            kind = str(record.get("kind") or "").strip()
            number = str(record.get("number") or "").strip()
            if kind not in BLACKLIST_KINDS:
                raise InvalidInput(
                    f"{source}[{line}].kind: must be one of {', '.join(BLACKLIST_KINDS)}, got {kind!r}",
                    field=f"{source}[{line}].kind",
                    code="blacklist_format",
                )
            if not number:
                raise InvalidInput(
                    f"{source}[{line}].number: is empty",
                    field=f"{source}[{line}].number",
                    code="blacklist_format",
                )
            entries.append(BlacklistEntry(kind, number, str(record.get("reason") or "").strip()))
        return cls.of(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, kind: BlacklistKind, number: str) -> BlacklistEntry | None:
        return self.entries.get((kind, normalise_identifier(number)))

    def check(self, kind: BlacklistKind, number: str, *, field: str | None = None) -> None:
        """Raise when ``number`` is blacklisted. The reason goes to ``extra``, not to the detail."""
        entry = self.match(kind, number)
        if entry is not None:
            name = field or kind
            raise InvalidInput(
                f"{name}: is on the blacklist", field=name, code="blacklisted", extra={"reason": entry.reason}
            )


def load_blacklist(path: Path | str) -> Blacklist:
    """Load a blacklist: ``.csv`` with header ``kind,number,reason``, or ``.json``, a list of such objects."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return Blacklist.from_records(csv.DictReader(handle), source=path.name)
    if path.suffix.lower() == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            raise InvalidInput(
                f"{path.name}: must hold a JSON list of objects", field=path.name, code="blacklist_format"
            )
        return Blacklist.from_records(records, source=path.name)
    raise InvalidInput(
        f"{path.name}: blacklist must be a .csv or .json file", field=path.name, code="blacklist_format"
    )


# --- all checks together --------------------------------------------------------------------------


@dataclass(frozen=True)
class KybResult:
    credit_code: str
    legal_representative_id: str | None
    licence: LicenceValidity | None
    warnings: tuple[str, ...] = ()


def screen_business(
    credit_code: str,
    *,
    on: date,
    legal_representative_id: str | None = None,
    licence_expires_on: date | None = None,
    check_licence: bool = False,
    blacklist: Blacklist | None = None,
    warning_days: int = 30,
) -> KybResult:
    """Run every KYB check and report all failures at once.

    Raises one ``InvalidInput`` whose ``field`` and ``code`` are the first failure's, whose detail joins
    every failure, and whose ``extra["errors"]`` lists them as ``{"field", "code", "detail"}``. Set
    ``check_licence`` to require licence validity (``licence_expires_on`` None then means long-term).
    """
    failures: list[InvalidInput] = []
    warnings: list[str] = []
    normalised_code = normalise_identifier(credit_code)
    normalised_id = None if legal_representative_id is None else normalise_identifier(legal_representative_id)
    licence = None

    def attempt(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except InvalidInput as failure:
            failures.append(failure)
            return None

    attempt(validate_credit_code, credit_code, field="credit_code")
    if normalised_id is not None:
        attempt(validate_id_number, normalised_id, field="legal_representative_id", today=on)
    if check_licence:
        licence = attempt(
            check_licence_validity,
            licence_expires_on,
            on=on,
            warning_days=warning_days,
            field="licence_expires_on",
        )
        if licence is not None and licence.expiring_soon:
            warnings.append(f"licence_expires_on: business licence expires in {licence.days_remaining} days")
    if blacklist is not None:
        attempt(blacklist.check, "credit_code", normalised_code, field="credit_code")
        if normalised_id is not None:
            attempt(blacklist.check, "id_number", normalised_id, field="legal_representative_id")
    if failures:
        first = failures[0]
        raise InvalidInput(
            "; ".join(failure.detail for failure in failures),
            field=first.field,
            code=first.code,
            extra={
                "errors": [
                    {"field": failure.field, "code": failure.code, "detail": failure.detail, **failure.extra}
                    for failure in failures
                ]
            },
        )
    return KybResult(normalised_code, normalised_id, licence, tuple(warnings))
