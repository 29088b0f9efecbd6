"""A dealer's credit line with one bank, as a pure value: the executable spec of the ledger.

``available = limit − reserved − utilised``, floored at zero; ``exposure = reserved + utilised``.
Every operation returns a new ``CreditLine`` or raises a domain error; the SQL ledger mirrors each as
one conditional ``UPDATE`` (the condition is the error's precondition below).

=========== =================================== ==============================================
operation   effect                              refused (error code) when
=========== =================================== ==============================================
reserve     reserved += amount                  line not active (line_frozen / line_closed),
                                                past expiry (line_expired),
                                                amount > available (insufficient_credit)
release     reserved −= amount                  amount > reserved (exceeds_reserved)
utilise     reserved −= a, utilised += a        amount > reserved (exceeds_reserved)
repay       utilised −= amount                  amount > utilised (exceeds_utilised)
adjust      limit = new limit                   line closed; new limit < exposure, unless
                                                ``below_exposure=True`` (limit_below_exposure)
renew       expires_on = new date               line closed
freeze      active → frozen                     not active (illegal_transition)
unfreeze    frozen → active                     not frozen (illegal_transition)
close       active/frozen → closed              closed already; reserved > 0 (reservations_open)
reopen      closed → active, new limit/expiry   not closed (illegal_transition); new limit < the
                                                utilised still running off (limit_below_exposure)
=========== =================================== ==============================================

Design choices:

* **Freezing and closing stop new exposure only.** Only ``reserve`` adds exposure, so only ``reserve``
  checks status and expiry. Release, repay and utilise (which turns a reservation the bank already
  approved into a disbursement, leaving exposure unchanged) work on a frozen line, so the ledger can
  always record what the bank really did. A closed line keeps its outstanding loans until repaid.
* **Cutting a limit below exposure is explicit.** ``adjust_limit`` refuses a limit under
  ``reserved + utilised`` unless the caller passes ``below_exposure=True`` (a risk officer cutting a
  line). The line is then over its limit: available is 0, nothing outstanding is touched, new
  reservations are refused until repayments bring exposure under the limit. Hence the ledger's
  invariant is not ``exposure ≤ limit`` but: available ≥ 0 always, and a reservation never makes
  exposure exceed the limit. The SQL table therefore checks ``reserved ≥ 0``, ``utilised ≥ 0``,
  ``limit ≥ 0``, and ``reserve`` is ``UPDATE … SET reserved = reserved + :a WHERE status = 'active'
  AND limit − reserved − utilised ≥ :a``.
* Amounts are positive ``Decimal`` CNY with at most two decimals; anything else is ``InvalidInput``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from risk_engine.errors import Conflict, IllegalTransition, InvalidInput

ZERO = Decimal("0.00")


class LineStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


def money(amount: Decimal, field: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """Check ``amount`` is an exact CNY amount (Decimal, ≤ 2 decimals, positive) and return it."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput("amount must be a decimal CNY amount", field=field)
    try:
        cents = amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvalidInput("amount is too large", field=field) from None
    if amount != cents:
        raise InvalidInput("amount has more than two decimals", field=field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidInput("amount must be positive", field=field)
    return cents


@dataclass(frozen=True)
class CreditLine:
    limit: Decimal
    reserved: Decimal = ZERO
    utilised: Decimal = ZERO
    status: LineStatus = LineStatus.ACTIVE
    expires_on: dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit", money(self.limit, "limit", allow_zero=True))
        object.__setattr__(self, "reserved", money(self.reserved, "reserved", allow_zero=True))
        object.__setattr__(self, "utilised", money(self.utilised, "utilised", allow_zero=True))
        object.__setattr__(self, "status", LineStatus(self.status))

    # -- derived figures
    @property
    def exposure(self) -> Decimal:
        return self.reserved + self.utilised

    @property
    def available(self) -> Decimal:
        return max(self.limit - self.exposure, ZERO)

    @property
    def over_limit(self) -> Decimal:
        """How far exposure exceeds the limit after a cut below exposure (0 normally)."""
        return max(self.exposure - self.limit, ZERO)

    def is_expired(self, on: dt.date | None) -> bool:
        return self.expires_on is not None and on is not None and on > self.expires_on

    # -- movements
    def reserve(self, amount: Decimal, *, on: dt.date | None = None) -> CreditLine:
        """Hold ``amount`` of the line for an order loan being decided. ``on``: today, for expiry."""
        amount = money(amount)
        if self.status is not LineStatus.ACTIVE:
            raise Conflict(f"the credit line is {self.status}", field="status", code=f"line_{self.status}")
        if self.is_expired(on):
            raise Conflict(f"the credit line expired on {self.expires_on.isoformat()}",
                           field="expires_on", code="line_expired")
        if amount > self.available:
            raise Conflict(f"{amount} exceeds the available credit of {self.available}",
                           field="amount", code="insufficient_credit",
                           extra={"available": str(self.available)})
        return replace(self, reserved=self.reserved + amount)

    def release(self, amount: Decimal) -> CreditLine:
        """Give back a reservation (loan declined, cancelled, or disbursed for less)."""
        amount = money(amount)
        if amount > self.reserved:
            raise Conflict(f"{amount} exceeds the reserved {self.reserved}", field="amount",
                           code="exceeds_reserved")
        return replace(self, reserved=self.reserved - amount)

    def utilise(self, amount: Decimal) -> CreditLine:
        """Turn part of a reservation into a disbursed loan."""
        amount = money(amount)
        if amount > self.reserved:
            raise Conflict(f"{amount} exceeds the reserved {self.reserved}", field="amount",
                           code="exceeds_reserved")
        return replace(self, reserved=self.reserved - amount, utilised=self.utilised + amount)

    def repay(self, amount: Decimal) -> CreditLine:
        """Principal repaid: the line revolves."""
        amount = money(amount)
        if amount > self.utilised:
            raise Conflict(f"{amount} exceeds the utilised {self.utilised}", field="amount",
                           code="exceeds_utilised")
        return replace(self, utilised=self.utilised - amount)

    def adjust_limit(self, new_limit: Decimal, *, below_exposure: bool = False) -> CreditLine:
        """Set a new limit. Under current exposure only when ``below_exposure`` (a deliberate cut)."""
        new_limit = money(new_limit, "limit", allow_zero=True)
        if self.status is LineStatus.CLOSED:
            raise Conflict("a closed credit line cannot be adjusted", field="status", code="line_closed")
        if new_limit < self.exposure and not below_exposure:
            raise Conflict(f"the new limit {new_limit} is below the exposure of {self.exposure}",
                           field="limit", code="limit_below_exposure",
                           extra={"exposure": str(self.exposure)})
        return replace(self, limit=new_limit)

    def renew(self, expires_on: dt.date | None) -> CreditLine:
        if self.status is LineStatus.CLOSED:
            raise Conflict("a closed credit line cannot be renewed", field="status", code="line_closed")
        return replace(self, expires_on=expires_on)

    # -- status
    def freeze(self) -> CreditLine:
        if self.status is not LineStatus.ACTIVE:
            raise IllegalTransition(f"only an active line can be frozen; this one is {self.status}",
                                    field="status")
        return replace(self, status=LineStatus.FROZEN)

    def unfreeze(self) -> CreditLine:
        if self.status is not LineStatus.FROZEN:
            raise IllegalTransition(f"only a frozen line can be unfrozen; this one is {self.status}",
                                    field="status")
        return replace(self, status=LineStatus.ACTIVE)

    def close(self) -> CreditLine:
        if self.status is LineStatus.CLOSED:
            raise IllegalTransition("the line is closed already", field="status")
        if self.reserved > 0:
            raise Conflict(f"release or utilise the reserved {self.reserved} before closing",
                           field="reserved", code="reservations_open")
        return replace(self, status=LineStatus.CLOSED)

    def reopen(self, new_limit: Decimal, expires_on: dt.date | None = None) -> CreditLine:
        """A new approval for a closed line: active again with a fresh limit and expiry."""
        new_limit = money(new_limit, "limit", allow_zero=True)
        if self.status is not LineStatus.CLOSED:
            raise IllegalTransition(f"only a closed line can be reopened; this one is {self.status}",
                                    field="status")
        if new_limit < self.exposure:
            raise Conflict(f"the new limit {new_limit} is below the exposure of {self.exposure}",
                           field="limit", code="limit_below_exposure",
                           extra={"exposure": str(self.exposure)})
        return replace(self, limit=new_limit, status=LineStatus.ACTIVE, expires_on=expires_on)

    def to_json(self) -> dict:
        return {
            "limit": str(self.limit),
            "reserved": str(self.reserved),
            "utilised": str(self.utilised),
            "available": str(self.available),
            "status": self.status.value,
            "expires_on": None if self.expires_on is None else self.expires_on.isoformat(),
        }


def open_credit_line(limit: Decimal, expires_on: dt.date | None = None) -> CreditLine:
    return CreditLine(limit=money(limit, "limit", allow_zero=True), expires_on=expires_on)
