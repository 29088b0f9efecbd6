"""A guarantor's book, read from the ledger, and the guarantee behind one dealer's line.

A guarantor covering a dealer at ``coverage_ratio`` stands behind that share of the dealer's line limits
(a limit can be drawn at any time, so the guarantee follows the limit, not today's drawings) — or of what
is drawn, where that is more (a limit cut below the exposure leaves the loans in place). A closed line
takes no new drawings, but the loans it financed run off under the guarantee: it stays in the book for
its outstanding exposure (reserved + utilised) until that is repaid. Its
regulatory capacity (``limits.guarantees``) is measured over that book, with the ratios stored on the
guarantor row (leverage 10× or 15×, one client 10 %, with related parties 15 %) and none at all for a
dealer whose credit code is among the guarantor's ``controlling_parties`` (binding ``controlling_party``).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from limits.guarantees import GuaranteeCapacity, GuaranteeRegulation, guarantee_capacity
from limits.guarantees import Guarantor as GuarantorTerms
from limits.models import CreditLineRecord
from limits.policy import GuaranteeSupport
from risk_engine.parties.models import Dealer, Guarantor

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def lock_guarantor(session: Session, guarantor_id: str) -> Guarantor | None:
    """Lock the guarantor row (PostgreSQL) so two decisions cannot spend the same headroom."""
    return session.scalars(select(Guarantor).where(Guarantor.id == guarantor_id).with_for_update()).first()


def guaranteed_book(
    session: Session, guarantor: Guarantor, *, excluding_line: str | None = None
) -> list[tuple[str, Decimal]]:
    """(dealer id, guaranteed amount) for every line of every dealer the guarantor covers that it still
    guarantees, bar ``excluding_line``: an open line for the larger of its limit and its exposure, a closed
    line for its exposure while anything on it is outstanding."""
    line = CreditLineRecord
    statement = (
        select(line.dealer_id, line.status, line.limit, line.reserved, line.utilised)
        .join(Dealer, Dealer.id == line.dealer_id)
        .where(
            Dealer.guarantor_id == guarantor.id,
            or_(line.status != "closed", line.reserved > 0, line.utilised > 0),
        )
        .order_by(line.id)
    )
    if excluding_line is not None:
        statement = statement.where(line.id != excluding_line)
    return [
        (row.dealer_id, covered(guaranteed_amount(row.status, row.limit, row.reserved + row.utilised),
                               guarantor.coverage_ratio))
        for row in session.execute(statement)
    ]


def guaranteed_amount(status: str, limit: Decimal, exposure: Decimal) -> Decimal:
    """The part of a line its guarantor stands behind (before the coverage ratio): what may still be drawn
    on an open line and what is already drawn — the limit, or the exposure where a cut left it above the
    limit; on a closed line, only what is still outstanding."""
    return exposure if status == "closed" else max(limit, exposure)


def related_dealers(session: Session, dealer_id: str) -> list[str]:
    """The other dealers related to this one, as far as the engine can tell from what it holds: the same
    legal representative or the same settlement account (their blind indexes are equal). The related
    group of the guarantor's 15 % cap (融资担保公司监督管理条例 Art. 16)."""
    me = session.execute(
        select(Dealer.legal_rep_id_number_index, Dealer.account_number_index).where(Dealer.id == dealer_id)
    ).first()
    if me is None:
        return []
    ties = [column == value for column, value in (
        (Dealer.legal_rep_id_number_index, me.legal_rep_id_number_index),
        (Dealer.account_number_index, me.account_number_index),
    ) if value is not None]
    if not ties:
        return []
    return list(session.scalars(select(Dealer.id).where(or_(*ties), Dealer.id != dealer_id).order_by(Dealer.id)))


def controlling_dealers(session: Session, guarantor: Guarantor) -> frozenset[str]:
    """The dealers whose credit code the guarantor lists among its controlling shareholders and actual
    controllers: it may guarantee them nothing (融资担保公司监督管理条例 Art. 17)."""
    if not guarantor.controlling_parties:
        return frozenset()
    return frozenset(session.scalars(
        select(Dealer.id).where(Dealer.credit_code.in_(guarantor.controlling_parties))))


def capacity_for(
    session: Session, guarantor: Guarantor, dealer_id: str, *, excluding_line: str | None = None
) -> GuaranteeCapacity:
    """The guarantor's regulatory capacity for the dealer over its whole book; with ``excluding_line``, over
    the book without that line's own guarantee (how much that line may carry in all)."""
    terms = GuarantorTerms(
        guarantor.id,
        guarantor.net_assets,
        serves_small_micro=guarantor.serves_small_firms,
        controlling_parties=controlling_dealers(session, guarantor),
    )
    regulation = GuaranteeRegulation(
        leverage_multiple=guarantor.leverage_cap,
        small_micro_leverage_multiple=guarantor.leverage_cap,
        single_party_share=guarantor.single_client_cap,
        related_group_share=guarantor.related_party_cap,
    )
    book = guaranteed_book(session, guarantor, excluding_line=excluding_line)
    return guarantee_capacity(terms, book, dealer_id, related_dealers(session, dealer_id), regulation)


def guarantee_support(
    session: Session,
    guarantor: Guarantor | None,
    dealer_id: str,
    line: CreditLineRecord | None,
    *,
    committed_amount: Decimal | None,
    today: dt.date,
) -> tuple[GuaranteeSupport | None, GuaranteeCapacity | None]:
    """The guarantee behind the dealer's line with one bank, and the guarantor's capacity for that line.

    The capacity is measured over the guarantor's book without the line's own guarantee: its headroom is
    all the guarantee the line may carry, so re-rating a line that holds the dealer's whole share is not
    "over capacity", and a line granted before the guarantor's net assets fell is cut to its legal share
    (adding the guarantee in place to a headroom floored at zero would keep it whole).

    No guarantor: ``None``. A guarantee that has expired backs nothing: the guarantee-backed share is 0.
    """
    if guarantor is None:
        return None, None
    if guarantor.guarantee_expires_on is not None and guarantor.guarantee_expires_on < today:
        return GuaranteeSupport(committed_amount=ZERO, coverage_ratio=guarantor.coverage_ratio), None
    # a closed line too: reopening it gives it a limit covering what is still outstanding on it
    capacity = capacity_for(session, guarantor, dealer_id, excluding_line=line.id if line is not None else None)
    support = GuaranteeSupport(
        committed_amount=committed_amount,
        coverage_ratio=guarantor.coverage_ratio,
        regulatory_headroom=capacity.headroom,
    )
    return support, capacity


def covered(limit: Decimal, coverage_ratio: Decimal) -> Decimal:
    """The guaranteed share of one line's amount, to the cent below, as the book counts it."""
    return (limit * coverage_ratio).quantize(CENT, rounding=ROUND_DOWN)
