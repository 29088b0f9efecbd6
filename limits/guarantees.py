"""A financing guarantor's regulatory capacity (《融资担保公司监督管理条例》, State Council, 2017).

How much more guarantee a guarantor may legally give one client, and which rule says so:

* Art. 15 — ``leverage``: the guarantor's total outstanding guarantee liability ≤ 10 × its net assets,
  or 15 × for a guarantor serving mainly small and micro enterprises and farmers;
* Art. 16 — ``single_party``: the balance for one guaranteed party ≤ 10 % of net assets;
  ``related_group``: that party together with its related parties ≤ 15 % of net assets;
* Art. 17 — ``controlling_party``: no financing guarantee for the guarantor's controlling shareholder
  or actual controller.

Balances passed in are the guarantor's outstanding guarantee liability balances per client, already
measured as the regulator asks (the 2018 measurement rules weight some business types; the service
applies those weights before calling). Amounts are CNY ``Decimal``; headroom is floored at zero and
quantised down to the fen.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from risk_engine.errors import Conflict, InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class GuaranteeRegulation:
    """The regulatory ratios, kept as data so a rule change is a configuration change."""

    leverage_multiple: Decimal = Decimal(10)
    small_micro_leverage_multiple: Decimal = Decimal(15)
    single_party_share: Decimal = Decimal("0.10")
    related_group_share: Decimal = Decimal("0.15")


REGULATION_2017 = GuaranteeRegulation()


@dataclass(frozen=True)
class Guarantor:
    guarantor_id: str
    net_assets: Decimal
    serves_small_micro: bool = False  # serves mainly small and micro firms: the 15× leverage applies
    controlling_parties: frozenset[str] = frozenset()  # its controlling shareholder / actual controller

    def __post_init__(self) -> None:
        if not isinstance(self.net_assets, Decimal) or not self.net_assets.is_finite():
            raise InvalidInput("net assets must be a decimal amount", field="net_assets")
        object.__setattr__(self, "controlling_parties", frozenset(self.controlling_parties))


@dataclass(frozen=True)
class GuaranteeCapacity:
    """How much more the guarantor may guarantee for one client, and which constraint binds."""

    client_id: str
    headroom: Decimal
    binding: str  # controlling_party | net_assets | leverage | single_party | related_group
    candidates: dict[str, Decimal] = field(default_factory=dict)  # each constraint's own headroom
    total_outstanding: Decimal = ZERO
    client_outstanding: Decimal = ZERO
    group_outstanding: Decimal = ZERO

    @property
    def exhausted(self) -> bool:
        return self.headroom <= 0

    @property
    def used_share(self) -> Decimal:
        """How much of its capacity the guarantor has used, on the most used of its constraints for this
        client: outstanding ÷ (outstanding + headroom) — the whole book for leverage, the client's balance
        for the single-party cap, the group's for the related-group cap; 1 when it may guarantee the client
        nothing at all (a controlling party, no net assets). Four places, rounded down."""
        outstanding = {
            "leverage": self.total_outstanding,
            "single_party": self.client_outstanding,
            "related_group": self.group_outstanding,
        }
        shares = []
        for name, headroom in self.candidates.items():
            used = outstanding.get(name)
            if used is None:  # a constraint that allows nothing whatever is outstanding
                return Decimal(1)
            capacity = used + headroom
            shares.append(Decimal(1) if capacity <= 0 else used / capacity)
        return max(shares, default=Decimal(1)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)

    def allows(self, amount: Decimal) -> bool:
        return amount <= self.headroom

    def require(self, amount: Decimal) -> None:
        """Raise ``Conflict`` when a new guarantee of ``amount`` would break the regulation."""
        if amount > self.headroom:
            raise Conflict(
                f"guarantee of {amount} exceeds the guarantor's regulatory headroom of {self.headroom} "
                f"for {self.client_id} ({self.binding})",
                field="amount",
                code="guarantor_over_capacity",
                extra={"headroom": str(self.headroom), "binding": self.binding},
            )

    def to_json(self) -> dict:
        return {
            "client_id": self.client_id,
            "headroom": str(self.headroom),
            "binding": self.binding,
            "candidates": {name: str(amount) for name, amount in self.candidates.items()},
            "total_outstanding": str(self.total_outstanding),
            "client_outstanding": str(self.client_outstanding),
            "group_outstanding": str(self.group_outstanding),
        }


Exposures = Mapping[str, Decimal] | Iterable[tuple[str, Decimal]]


def outstanding_by_client(current_exposures: Exposures) -> dict[str, Decimal]:
    """Sum outstanding guarantee balances per client (several guarantees for one client add up)."""
    pairs = current_exposures.items() if isinstance(current_exposures, Mapping) else current_exposures
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for client_id, balance in pairs:
        if not isinstance(balance, Decimal) or not balance.is_finite() or balance < 0:
            raise InvalidInput(f"guarantee balance for {client_id} must be a non-negative decimal",
                               field="current_exposures")
        totals[client_id] += balance
    return dict(totals)


def guarantee_capacity(
    guarantor: Guarantor,
    current_exposures: Exposures,
    client: str,
    related_clients: Iterable[str] = (),
    regulation: GuaranteeRegulation = REGULATION_2017,
) -> GuaranteeCapacity:
    """The additional guarantee ``guarantor`` may give ``client`` under Art. 15–17.

    ``current_exposures``: the guarantor's outstanding balance per client (all its clients, so the
    leverage test sees the whole book); ``related_clients``: the client's related parties. Ties between
    constraints name the first of ``leverage``, ``single_party``, ``related_group``.
    """
    balances = outstanding_by_client(current_exposures)
    group = {client, *related_clients}
    total = sum(balances.values(), ZERO)
    client_balance = balances.get(client, ZERO)
    group_balance = sum((balances.get(member, ZERO) for member in group), ZERO)

    def capacity(binding: str, candidates: dict[str, Decimal]) -> GuaranteeCapacity:
        candidates = {name: _floor(amount) for name, amount in candidates.items()}
        headroom = candidates[binding]
        return GuaranteeCapacity(client, headroom, binding, candidates, total, client_balance, group_balance)

    if client in guarantor.controlling_parties:
        return capacity("controlling_party", {"controlling_party": ZERO})
    net_assets = guarantor.net_assets
    if net_assets <= 0:
        return capacity("net_assets", {"net_assets": ZERO})
    multiple = (regulation.small_micro_leverage_multiple if guarantor.serves_small_micro
                else regulation.leverage_multiple)
    candidates = {
        "leverage": net_assets * multiple - total,
        "single_party": net_assets * regulation.single_party_share - client_balance,
        "related_group": net_assets * regulation.related_group_share - group_balance,
    }
    binding = min(candidates, key=lambda name: _floor(candidates[name]))  # first of equals wins
    return capacity(binding, candidates)


def _floor(amount: Decimal) -> Decimal:
    return max(amount, ZERO).quantize(CENT, rounding=ROUND_DOWN)
