"""Personal data of the parties, encrypted at rest (PIPL Art. 51): sealing, reading, blind-index lookups
and re-encryption under a new data key.

What is personal data here: the dealer's legal representative (name, resident identity number, phone)
and bank account numbers (dealer, optional; supplier, required for entrusted payment). Each is stored
only as a ``compliance.fieldcrypt`` token bound to its table, column and row id, under the current data
key; plaintext never reaches the database, the audit trail, the idempotency store or a response (except
``GET /v1/dealers/{id}/pii`` and the export, both logged in the access log).

Blind indexes (HMAC-SHA256 under a key separate from every data key) allow exact-match lookups. Their
scope is the *kind* of value, not the table: ``account_number`` is shared by dealers and suppliers, so
a dealer paying from its supplier's account (circular trade, DOMAIN.md) is one indexed equality.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from compliance import audit, fieldcrypt, kyb
from compliance.keys import KeyProvider
from loan_monitoring.models import Disbursement, FundFlow
from risk_engine.db import Database
from risk_engine.errors import InvalidInput
from risk_engine.parties.models import Dealer, Supplier

ID_NUMBER_SCOPE = "legal_representative.id_number"
ACCOUNT_SCOPE = "account_number"
REENCRYPT_BATCH = 500

# Every encrypted column, by table: what `keys rotate --data` re-encrypts and `keys status` counts.
# A table whose column holds fieldcrypt tokens and is missing here keeps needing a retired data key.
ENCRYPTED_COLUMNS: dict[type, tuple[str, ...]] = {
    Dealer: ("legal_rep_name_enc", "legal_rep_id_number_enc", "legal_rep_phone_enc", "account_number_enc"),
    Supplier: ("account_number_enc",),
    Disbursement: ("payee_account_enc",),
    FundFlow: ("from_account_enc", "to_account_enc"),
}


def _seal(keys: KeyProvider, row: Any, column: str, plaintext: str | None) -> None:
    token = None if plaintext is None else fieldcrypt.encrypt_field(keys, row.__tablename__, column, row.id,
                                                                    plaintext)
    setattr(row, column, token)


def unseal(keys: KeyProvider, row: Any, column: str) -> str | None:
    """The plaintext of encrypted column ``column`` of ``row`` (None when empty)."""
    token = getattr(row, column)
    return None if token is None else fieldcrypt.decrypt_field(keys, row.__tablename__, column, row.id, token)


def _normalised_account(value: str) -> str:
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value))


def account_index(keys: KeyProvider, account_number: str) -> str:
    return fieldcrypt.blind_index(keys, ACCOUNT_SCOPE, _normalised_account(account_number))


def id_number_index(keys: KeyProvider, id_number: str) -> str:
    return fieldcrypt.blind_index(keys, ID_NUMBER_SCOPE, id_number)


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegalRepresentative:
    name: str | None
    id_number: str | None
    phone: str | None


def seal_legal_representative(keys: KeyProvider, dealer: Dealer, rep: LegalRepresentative) -> None:
    """Encrypt the (already validated and normalised) legal representative into the dealer row.
    The row id must be set: the ciphertext is bound to it."""
    if not dealer.id:
        raise ValueError("assign the dealer id before sealing its personal data")
    _seal(keys, dealer, "legal_rep_name_enc", rep.name)
    _seal(keys, dealer, "legal_rep_id_number_enc", rep.id_number)
    _seal(keys, dealer, "legal_rep_phone_enc", rep.phone)
    dealer.legal_rep_id_number_index = None if rep.id_number is None else id_number_index(keys, rep.id_number)


def seal_account_number(keys: KeyProvider, party: Dealer | Supplier, account_number: str | None) -> None:
    if not party.id:
        raise ValueError("assign the row id before sealing its personal data")
    normalised = None if account_number is None else _normalised_account(account_number)
    _seal(keys, party, "account_number_enc", normalised)
    party.account_number_index = None if normalised is None else account_index(keys, normalised)


def wipe_dealer(dealer: Dealer) -> list[str]:
    """Erase every personal field and blind index of a dealer; returns the logical fields erased."""
    erased = []
    for column, name in (("legal_rep_name_enc", "legal_representative.name"),
                         ("legal_rep_id_number_enc", "legal_representative.id_number"),
                         ("legal_rep_phone_enc", "legal_representative.phone"),
                         ("account_number_enc", "account_number")):
        if getattr(dealer, column) is not None:
            erased.append(name)
        setattr(dealer, column, None)
    dealer.legal_rep_id_number_index = None
    dealer.account_number_index = None
    return erased


# --- reading -------------------------------------------------------------------------------------


def legal_representative_of(keys: KeyProvider, dealer: Dealer) -> LegalRepresentative:
    return LegalRepresentative(
        name=unseal(keys, dealer, "legal_rep_name_enc"),
        id_number=unseal(keys, dealer, "legal_rep_id_number_enc"),
        phone=unseal(keys, dealer, "legal_rep_phone_enc"),
    )


def account_number_of(keys: KeyProvider, party: Dealer | Supplier) -> str | None:
    return unseal(keys, party, "account_number_enc")


def find_dealers_by_legal_rep_id(session: Session, keys: KeyProvider, id_number: str) -> list[Dealer]:
    """Dealers whose legal representative has this identity number (exact match, any spelling of the
    check character: ``x`` and full-width digits are normalised)."""
    try:
        normalised = kyb.validate_id_number(id_number)
    except InvalidInput:
        return []
    return list(session.scalars(
        select(Dealer).where(Dealer.legal_rep_id_number_index == id_number_index(keys, normalised))
        .order_by(Dealer.id)
    ))


def find_by_account_number(
    session: Session, keys: KeyProvider, account_number: str
) -> tuple[list[Dealer], list[Supplier]]:
    """Dealers and suppliers holding this bank account (exact match; spaces and hyphens ignored)."""
    index = account_index(keys, account_number)
    dealers = list(session.scalars(
        select(Dealer).where(Dealer.account_number_index == index).order_by(Dealer.id)))
    suppliers = list(session.scalars(
        select(Supplier).where(Supplier.account_number_index == index).order_by(Supplier.id)))
    return dealers, suppliers


def account_matches(keys: KeyProvider, party: Dealer | Supplier, account_number: str) -> bool:
    """Is ``account_number`` this party's account? (A disbursement's payee against the order's supplier.)"""
    return party.account_number_index is not None and party.account_number_index == account_index(
        keys, account_number)


# --- re-encryption under a new data key ------------------------------------------------------------


@dataclass(frozen=True)
class ReencryptionBatch:
    table: str
    rows: int
    first_id: str
    last_id: str


def _stale(model: type, columns: tuple[str, ...], current_kid: str) -> Any:
    prefix = f"{fieldcrypt.TOKEN_VERSION}.{current_kid}.%"
    return or_(*(and_(getattr(model, c).is_not(None), not_(getattr(model, c).like(prefix))) for c in columns))


def reencrypt_all(
    database: Database, keys: KeyProvider, *, actor: str, batch_size: int = REENCRYPT_BATCH
) -> Iterator[ReencryptionBatch]:
    """Re-encrypt every value not under the current data key, ``batch_size`` rows per transaction, each
    batch audited (``keys.data_reencrypted``) and committed, so an interrupted run loses nothing and a
    second run carries on. Stops with ``fieldcrypt.UndecryptableField`` on a value it cannot read."""
    current = keys.current_data_key().kid
    for model, columns in ENCRYPTED_COLUMNS.items():
        table, last_id = model.__tablename__, ""
        while True:
            with database.unit_of_work() as session:
                rows = list(session.scalars(
                    select(model).where(_stale(model, columns, current), model.id > last_id)
                    .order_by(model.id).limit(batch_size)
                ))
                if not rows:
                    break
                for row in rows:
                    for column in columns:
                        if (token := getattr(row, column)) is not None:
                            fresh = fieldcrypt.reencrypt_field(keys, table, column, row.id, token)
                            setattr(row, column, fresh)
                session.flush()
                batch = ReencryptionBatch(table, len(rows), rows[0].id, rows[-1].id)
                audit.record(session, actor=actor, action="keys.data_reencrypted", subject_type="data_key",
                             subject_id=current,
                             payload={"table": table, "rows": batch.rows, "first_id": batch.first_id,
                                      "last_id": batch.last_id})
            last_id = batch.last_id
            yield batch


def stale_values(session: Session, keys: KeyProvider) -> int:
    """How many rows still hold a value under a retired data key."""
    current = keys.current_data_key().kid
    return sum(
        session.scalar(select(func.count()).select_from(model).where(_stale(model, columns, current))) or 0
        for model, columns in ENCRYPTED_COLUMNS.items()
    )
