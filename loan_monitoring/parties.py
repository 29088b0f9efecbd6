"""Dealers, suppliers and the ties between them that make a trade suspect (自融 / 虚构贸易).

Two parties are related when they share an owner, legal representative, registered address or
bank account, or when a chain of known links (from KYB or a business-registry feed) joins them.
Shared owners, legal representatives and accounts are *strong* ties: the same people control both
ends of the trade. A shared address, a shared phone or a tie only through an intermediary is
*weak*: firms in one industrial park share addresses, so a person should look before it counts.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class LinkKind(StrEnum):
    # The first four are the platform's related-party link kinds (risk_engine.trade.models).
    SHARED_OWNER = "shared_owner"
    SHARED_LEGAL_REPRESENTATIVE = "legal_representative"
    SHARED_ADDRESS = "address"
    SHARED_ACCOUNT = "account"
    SHARED_PHONE = "phone"
    CONTROLS = "controls"  # one party owns or controls the other
    SAME_GROUP = "same_group"


STRONG_LINKS = frozenset(
    {
        LinkKind.SHARED_OWNER,
        LinkKind.SHARED_LEGAL_REPRESENTATIVE,
        LinkKind.SHARED_ACCOUNT,
        LinkKind.CONTROLS,
        LinkKind.SAME_GROUP,
    }
)


@dataclass(frozen=True)
class Dealer:
    dealer_id: str
    credit_code: str
    name: str = ""
    owner_ids: frozenset[str] = frozenset()  # ids of shareholders / beneficial owners
    legal_representative_id: str | None = None
    registered_address: str | None = None
    accounts: frozenset[str] = frozenset()
    phone: str | None = None


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    credit_code: str
    name: str = ""
    whitelisted: bool = False
    settlement_accounts: frozenset[str] = frozenset()  # where the bank must pay (受托支付)
    owner_ids: frozenset[str] = frozenset()
    legal_representative_id: str | None = None
    registered_address: str | None = None
    phone: str | None = None

    @property
    def accounts(self) -> frozenset[str]:
        return self.settlement_accounts


@dataclass(frozen=True)
class RelatedPartyLink:
    """A known tie between two parties (dealer, supplier, person or other firm ids)."""

    party_a: str  # e.g. the dealer id
    party_b: str  # e.g. the supplier id
    kind: LinkKind
    evidence: str = ""  # where the link comes from or what it rests on


@dataclass(frozen=True)
class Tie:
    """One reason two parties look related: the kind, the shared fact, and for ties found through
    known links the chain of party ids from dealer to supplier."""

    kind: LinkKind
    fact: str
    path: tuple[str, ...] = ()

    @property
    def strong(self) -> bool:
        # A tie through an intermediary is only as good as the weakest link: treat it as weak.
        return self.kind in STRONG_LINKS and len(self.path) <= 2


@dataclass(frozen=True)
class Relationship:
    """Why a dealer and a supplier look related; no ``ties`` means they do not."""

    ties: tuple[Tie, ...] = ()

    @property
    def related(self) -> bool:
        return bool(self.ties)

    @property
    def strong(self) -> bool:
        return any(tie.strong for tie in self.ties)

    def as_evidence(self) -> list[dict[str, str]]:
        return [
            {"kind": t.kind.value, "fact": t.fact, **({"path": " → ".join(t.path)} if t.path else {})}
            for t in self.ties
        ]


def normalise_account(account: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", account) if ch.isalnum()).upper()


def normalise_address(address: str) -> str:
    # Full-width digits and punctuation (NFKC), spaces and punctuation differ between forms.
    folded = unicodedata.normalize("NFKC", address).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def relationship(
    dealer: Dealer, supplier: Supplier, links: Sequence[RelatedPartyLink] = (), *, max_hops: int = 2
) -> Relationship:
    """Shared facts between the two profiles, then a chain of at most ``max_hops`` known links."""
    ties: list[Tie] = []
    for owner in sorted(dealer.owner_ids & supplier.owner_ids):
        ties.append(Tie(LinkKind.SHARED_OWNER, owner))
    if dealer.legal_representative_id and dealer.legal_representative_id == supplier.legal_representative_id:
        ties.append(Tie(LinkKind.SHARED_LEGAL_REPRESENTATIVE, dealer.legal_representative_id))
    shared_accounts = {normalise_account(a) for a in dealer.accounts} & {
        normalise_account(a) for a in supplier.settlement_accounts
    }
    for account in sorted(shared_accounts):
        ties.append(Tie(LinkKind.SHARED_ACCOUNT, account))
    if (
        dealer.registered_address
        and supplier.registered_address
        and normalise_address(dealer.registered_address) == normalise_address(supplier.registered_address)
    ):
        ties.append(Tie(LinkKind.SHARED_ADDRESS, dealer.registered_address))
    if (
        dealer.phone
        and supplier.phone
        and normalise_account(dealer.phone) == normalise_account(supplier.phone)
    ):
        ties.append(Tie(LinkKind.SHARED_PHONE, dealer.phone))
    ties.extend(linked_ties(dealer.dealer_id, supplier.supplier_id, links, max_hops=max_hops))
    return Relationship(tuple(ties))


def linked_ties(start: str, goal: str, links: Iterable[RelatedPartyLink], *, max_hops: int = 2) -> list[Tie]:
    """Every direct link between the two parties, or else the shortest chain (breadth first) of at
    most ``max_hops`` links; a chain takes the kind of its first link."""
    graph: dict[str, list[RelatedPartyLink]] = {}
    for link in links:
        graph.setdefault(link.party_a, []).append(link)
        graph.setdefault(link.party_b, []).append(link)
    direct = [
        Tie(link.kind, link.evidence or "known link", (start, goal))
        for link in graph.get(start, ())
        if {link.party_a, link.party_b} == {start, goal}
    ]
    if direct:
        return direct
    queue: deque[tuple[str, tuple[str, ...], LinkKind | None]] = deque([(start, (start,), None)])
    while queue:
        node, path, first_kind = queue.popleft()
        if len(path) > max_hops:
            continue
        for link in graph.get(node, ()):
            nxt = link.party_b if link.party_a == node else link.party_a
            if nxt in path:
                continue
            kind = first_kind or link.kind
            if nxt == goal:
                return [Tie(kind, "linked through " + " → ".join(path[1:]), (*path, nxt))]
            queue.append((nxt, (*path, nxt), kind))
    return []
