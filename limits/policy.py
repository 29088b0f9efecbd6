"""The limit policy: how a grade, trade volume, the bank's terms and the guarantee become a credit limit.

The limit is the smallest of these candidate amounts (each floored at zero), in this order, the first
of equal amounts naming the binding constraint:

=================== ==========================================================================
grade_eligibility   0 when the (notched) grade is not eligible for credit; otherwise absent
capacity            average monthly purchases × the grade's purchase multiple
grade_cap           the grade's absolute cap
product_cap         the bank product's cap
bank_quota          what is left of the bank's quota for the platform
requested           the amount the dealer asked for (never grant more than asked)
guarantee_backed    committed guarantee ÷ required coverage ratio (0 when the product requires a
                    guarantee and none is given; absent when the guarantee names no amount)
guarantor_capacity  (guarantee already in place for this line + the guarantor's regulatory
                    headroom) ÷ coverage ratio (see ``limits.guarantees``)
overlay_cap         the tightest amount cap of the fired overlay rules
overlay_fraction    the tightest overlay fraction × the policy amount (the smallest candidate above
                    it, bar ``overlay_cap``: two overlays do not compound)
=================== ==========================================================================

Candidates whose input is not given (no product cap, no guarantee...) are left out. The minimum is
rounded *down* to the product's unit (0.01 CNY by default, e.g. 1,000 CNY) — rounding never raises a
limit. Grades are labels on a master scale, best first; notching moves a grade down the scale.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

from risk_engine.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class GradePolicy:
    grade: str
    purchase_multiple: Decimal  # limit ≤ average monthly purchases × this
    cap: Decimal  # and ≤ this amount
    eligible: bool = True


@dataclass(frozen=True)
class GradePolicyTable:
    """Per-grade limit policy; the order of ``policies`` is the master scale, best grade first."""

    policies: tuple[GradePolicy, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        grades = [p.grade for p in self.policies]
        if not grades:
            raise InvalidInput("a grade policy table needs at least one grade", field="policies")
        if len(set(grades)) != len(grades):
            raise InvalidInput("grades in a policy table must be unique", field="policies")
        for p in self.policies:
            if p.purchase_multiple < 0 or p.cap < 0:
                raise InvalidInput(f"grade {p.grade}: multiple and cap must not be negative",
                                   field="policies")

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(p.grade for p in self.policies)

    def policy(self, grade: str) -> GradePolicy:
        for p in self.policies:
            if p.grade == grade:
                return p
        raise InvalidInput(f"unknown grade {grade!r}; the scale is {', '.join(self.grades)}", field="grade")

    def notch(self, grade: str, notches: int) -> str:
        return notch_grade(grade, notches, self.grades)

    @classmethod
    def from_json(cls, rows: Iterable[dict[str, Any]]) -> GradePolicyTable:
        return cls(tuple(
            GradePolicy(row["grade"], Decimal(str(row["purchase_multiple"])), Decimal(str(row["cap"])),
                        bool(row.get("eligible", True)))
            for row in rows
        ))

    def to_json(self) -> list[dict[str, Any]]:
        return [{"grade": p.grade, "purchase_multiple": str(p.purchase_multiple), "cap": str(p.cap),
                 "eligible": p.eligible} for p in self.policies]


MASTER_SCALE: tuple[str, ...] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C/D")

# Policy defaults: a dealer line is a multiple of monthly purchases (a 30–180 day order-loan tenor
# turns over a few months of purchases), shrinking with the grade; CCC and worse get no credit.
DEFAULT_GRADE_POLICIES = GradePolicyTable((
    GradePolicy("AAA", Decimal("3.0"), Decimal("5000000.00")),
    GradePolicy("AA", Decimal("2.5"), Decimal("3000000.00")),
    GradePolicy("A", Decimal("2.0"), Decimal("2000000.00")),
    GradePolicy("BBB", Decimal("1.5"), Decimal("1000000.00")),
    GradePolicy("BB", Decimal("1.0"), Decimal("500000.00")),
    GradePolicy("B", Decimal("0.5"), Decimal("200000.00")),
    GradePolicy("CCC", Decimal("0"), Decimal("0.00"), eligible=False),
    GradePolicy("CC", Decimal("0"), Decimal("0.00"), eligible=False),
    GradePolicy("C/D", Decimal("0"), Decimal("0.00"), eligible=False),
))


def notch_grade(grade: str, notches: int, scale: tuple[str, ...] = MASTER_SCALE) -> str:
    """Move ``grade`` down the scale by ``notches`` steps (up when negative), stopping at either end."""
    if grade not in scale:
        raise InvalidInput(f"unknown grade {grade!r}; the scale is {', '.join(scale)}", field="grade")
    index = min(max(scale.index(grade) + notches, 0), len(scale) - 1)
    return scale[index]


@dataclass(frozen=True)
class GuaranteeSupport:
    """The guarantee behind a line.

    ``committed_amount``: the guarantee the guarantor agreed to give for this line (``None``: no agreed
    amount, only the regulatory capacity limits it);
    ``coverage_ratio``: the share of the exposure the bank wants guaranteed (0 < ratio ≤ 1);
    ``regulatory_headroom``: how much more the guarantor may legally guarantee this dealer
    (``guarantee_capacity(...).headroom``), ``None`` when not assessed;
    ``in_place``: the guarantee for this line already counted in the guarantor's balances (re-rating).
    ``limits.exposure.guarantee_support`` measures the headroom without the line's own guarantee and
    leaves this 0 (a headroom floored at zero plus the guarantee in place would keep a line the
    guarantor may no longer carry); decisions recorded before that carry it.
    """

    committed_amount: Decimal | None
    coverage_ratio: Decimal = Decimal("1")
    regulatory_headroom: Decimal | None = None
    in_place: Decimal = ZERO

    def __post_init__(self) -> None:
        if not Decimal(0) < self.coverage_ratio <= 1:
            raise InvalidInput("coverage ratio must be above 0 and at most 1", field="coverage_ratio")


@dataclass(frozen=True)
class LimitRequest:
    grade: str  # the model's grade, before overlays
    avg_monthly_purchases: Decimal
    product_cap: Decimal | None = None
    bank_remaining_quota: Decimal | None = None
    requested_amount: Decimal | None = None
    guarantee: GuaranteeSupport | None = None
    requires_guarantee: bool = False
    notches: int = 0  # from overlay rules: steps down the scale
    overlay_cap: Decimal | None = None
    overlay_fraction: Decimal | None = None
    rounding_unit: Decimal = CENT

    def __post_init__(self) -> None:
        if not self.rounding_unit > 0:
            raise InvalidInput("rounding unit must be positive", field="rounding_unit")
        if self.overlay_fraction is not None and not Decimal(0) <= self.overlay_fraction <= 1:
            raise InvalidInput("overlay fraction must be between 0 and 1", field="overlay_fraction")

    def with_overlays(self, outcome: Any) -> LimitRequest:
        """Add a rule outcome's overlays (``notches``, ``limit_cap``, ``limit_fraction``)."""
        return replace(
            self,
            notches=self.notches + outcome.notches,
            overlay_cap=_tightest(self.overlay_cap, outcome.limit_cap),
            overlay_fraction=_tightest(self.overlay_fraction, outcome.limit_fraction),
        )


@dataclass(frozen=True)
class LimitDecision:
    limit: Decimal
    binding: str  # the candidate that set the limit
    candidates: dict[str, Decimal] = field(default_factory=dict)  # every constraint's amount, in order
    model_grade: str = ""
    grade: str = ""  # after notching
    eligible: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": str(self.limit),
            "binding": self.binding,
            "candidates": {name: str(amount) for name, amount in self.candidates.items()},
            "model_grade": self.model_grade,
            "grade": self.grade,
            "eligible": self.eligible,
        }


def assign_limit(request: LimitRequest, table: GradePolicyTable = DEFAULT_GRADE_POLICIES) -> LimitDecision:
    """The credit limit for ``request`` under ``table``: the smallest candidate, rounded down."""
    grade = table.notch(request.grade, request.notches)
    policy = table.policy(grade)
    candidates: dict[str, Decimal] = {}
    if not policy.eligible:
        candidates["grade_eligibility"] = ZERO
    candidates["capacity"] = request.avg_monthly_purchases * policy.purchase_multiple
    candidates["grade_cap"] = policy.cap
    if request.product_cap is not None:
        candidates["product_cap"] = request.product_cap
    if request.bank_remaining_quota is not None:
        candidates["bank_quota"] = request.bank_remaining_quota
    if request.requested_amount is not None:
        candidates["requested"] = request.requested_amount
    guarantee = request.guarantee
    if guarantee is not None:
        if guarantee.committed_amount is not None:
            candidates["guarantee_backed"] = guarantee.committed_amount / guarantee.coverage_ratio
        if guarantee.regulatory_headroom is not None:
            candidates["guarantor_capacity"] = (
                (guarantee.in_place + guarantee.regulatory_headroom) / guarantee.coverage_ratio
            )
    elif request.requires_guarantee:
        candidates["guarantee_backed"] = ZERO
    policy_amount = min(_floor(amount) for amount in candidates.values())
    if request.overlay_cap is not None:
        candidates["overlay_cap"] = request.overlay_cap
    if request.overlay_fraction is not None:
        candidates["overlay_fraction"] = policy_amount * request.overlay_fraction
    candidates = {name: _floor(amount) for name, amount in candidates.items()}
    binding = min(candidates, key=candidates.__getitem__)  # first of equal amounts wins
    return LimitDecision(
        limit=round_down(candidates[binding], request.rounding_unit),
        binding=binding,
        candidates=candidates,
        model_grade=request.grade,
        grade=grade,
        eligible=policy.eligible,
    )


def round_down(amount: Decimal, unit: Decimal = CENT) -> Decimal:
    """``amount`` rounded down to a multiple of ``unit``, to the fen."""
    units = (amount / unit).to_integral_value(rounding=ROUND_DOWN)
    return (units * unit).quantize(CENT, rounding=ROUND_DOWN)


def _floor(amount: Decimal) -> Decimal:
    return max(amount, ZERO).quantize(CENT, rounding=ROUND_DOWN)


def _tightest(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
