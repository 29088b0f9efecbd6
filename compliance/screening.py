"""KYB screening at onboarding: every check on a dealer or supplier, all failures reported at once.

Pure over plain values (the blacklist is passed in). Field names are the request paths the platform
sent (``body.legal_representative.id_number``, ``body.licence_expires_on``), so a problem+json response
points at the input to fix. The blacklist file (``RISK_BLACKLIST_FILE``) is loaded by
``BlacklistSource``, which re-reads it when it changes and refuses to onboard when it is configured but
unreadable: screening against nothing is not screening.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from compliance import kyb
from risk_engine.errors import DomainError, InvalidInput


class KybFailed(InvalidInput):
    title = "KYB checks failed"
    default_code = "kyb_failed"


class BlacklistUnavailable(DomainError):
    status = 503
    title = "Blacklist unavailable"
    default_code = "blacklist_unavailable"


@dataclass(frozen=True)
class ScreenedDealer:
    id_number: str
    phone: str
    account_number: str | None
    licence: kyb.LicenceValidity


class _Failures:
    def __init__(self) -> None:
        self.failures: list[InvalidInput] = []

    def attempt(self, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except InvalidInput as failure:
            self.failures.append(failure)
            return None

    def raise_if_any(self) -> None:
        if not self.failures:
            return
        first = self.failures[0]
        raise KybFailed(
            "; ".join(f.detail for f in self.failures),
            field=first.field,
            code=first.code,
            extra={"errors": [_error_item(f) for f in self.failures]},
        )


def _error_item(failure: InvalidInput) -> dict[str, Any]:
    item = {"field": failure.field, "reason": failure.detail, "type": failure.code}
    if failure.extra.get("reason"):
        item["listed_because"] = failure.extra["reason"]
    return item


def screen_dealer(
    *,
    credit_code: str,
    id_number: str,
    phone: str,
    account_number: str | None,
    licence_expires_on: date | None,
    on: date,
    blacklist: kyb.Blacklist | None = None,
) -> ScreenedDealer:
    """Licence valid on ``on``, legal representative's id number and phone well formed, account number
    well formed, nobody blacklisted. Returns the normalised values; raises ``KybFailed`` naming them all."""
    checks = _Failures()
    rep_id = checks.attempt(kyb.validate_id_number, id_number, field="body.legal_representative.id_number",
                            today=on)
    rep_phone = checks.attempt(kyb.validate_phone, phone, field="body.legal_representative.phone")
    account = None
    if account_number is not None:
        account = checks.attempt(kyb.validate_account_number, account_number, field="body.account_number")
    licence = checks.attempt(kyb.check_licence_validity, licence_expires_on, on=on,
                             field="body.licence_expires_on")
    if blacklist is not None:
        checks.attempt(blacklist.check, "credit_code", credit_code, field="body.credit_code")
        if rep_id is not None:
            checks.attempt(blacklist.check, "id_number", rep_id, field="body.legal_representative.id_number")
    checks.raise_if_any()
    return ScreenedDealer(rep_id, rep_phone, account, licence)


def screen_supplier(*, credit_code: str, account_number: str, blacklist: kyb.Blacklist | None = None) -> str:
    """The normalised account number; raises ``KybFailed`` for a malformed account or a blacklisted code."""
    checks = _Failures()
    account = checks.attempt(kyb.validate_account_number, account_number, field="body.account_number")
    if blacklist is not None:
        checks.attempt(blacklist.check, "credit_code", credit_code, field="body.credit_code")
    checks.raise_if_any()
    return account


def blacklist_attributes(blacklist: kyb.Blacklist | None, *, credit_code: str) -> dict[str, bool]:
    """What a credit decision's rule context learns from blacklist screening of the dealer.

    With a configured blacklist (even an empty one): ``blacklisted`` (the credit code is on it) and
    ``blacklist_screened`` true. Without one: only ``blacklist_screened`` false — ``blacklisted`` is left
    out, not set false, so that nobody reads "not on a list" where no list was checked (a feature source
    may still supply a screening result of its own), and the default rule ``REF_BLACKLIST_NOT_SCREENED``
    refers the decision saying so."""
    if blacklist is None:
        return {"blacklist_screened": False}
    return {"blacklisted": blacklist.match("credit_code", credit_code) is not None, "blacklist_screened": True}


class BlacklistSource:
    """The blacklist from ``RISK_BLACKLIST_FILE`` (``.csv`` ``kind,number,reason`` or ``.json``), re-read
    when the file changes. ``None`` path: no blacklist configured."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._blacklist: kyb.Blacklist | None = None
        self._lock = threading.Lock()

    def current(self) -> kyb.Blacklist | None:
        if self.path is None:
            return None
        try:
            status = self.path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
            with self._lock:
                if stamp != self._stamp:
                    self._blacklist, self._stamp = kyb.load_blacklist(self.path), stamp
                return self._blacklist
        except (OSError, ValueError, InvalidInput) as exc:
            raise BlacklistUnavailable(
                f"the configured blacklist (RISK_BLACKLIST_FILE) cannot be read: {exc}; onboarding is "
                "refused until it can"
            ) from None
