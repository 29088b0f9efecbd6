"""Request and response bodies for the parties."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from compliance.schemas import OnboardingConsentIn
from risk_engine.schemas import Money, PositiveMoney, Ratio, RequestModel, ResponseModel, refuse

CreditCode = Annotated[
    str,
    Field(min_length=18, max_length=18, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$",
          description="unified social credit code (GB 32100-2015)", examples=["9144030071526726XG"]),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
PlatformId = Annotated[str, Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$",
    description="the platform's own id: letters, digits and . _ : - (it is used in paths, e.g. "
                "/v1/dealers/{id}/credit-line, and in events)", examples=["D000123"])]
AccountNumber = Annotated[
    str,
    Field(min_length=1, max_length=40, description="bank settlement account number (digits; spaces and "
          "hyphens are ignored). Stored encrypted, never echoed", examples=["6222021001056789012"]),
]


class LegalRepresentativeIn(RequestModel):
    """The dealer's legal representative (法定代表人). Personal data: stored encrypted, never echoed."""

    name: Annotated[str, Field(min_length=1, max_length=100, examples=["张伟"])]
    id_number: Annotated[str, Field(min_length=1, max_length=32,
                                    description="resident identity number (GB 11643-1999)",
                                    examples=["11010519491231002X"])]
    phone: Annotated[str, Field(min_length=1, max_length=32, description="mainland mobile (+86 optional) "
                                "or landline with area code", examples=["13812345678"])]


class BankIn(RequestModel):
    name: Name
    credit_code: CreditCode
    quota: PositiveMoney
    loan_to_order_ratio: Annotated[Ratio, Field(gt=0, le=1)] = Decimal("0.80")
    min_tenor_days: Annotated[int, Field(gt=0, le=3650)] = 30
    max_tenor_days: Annotated[int, Field(gt=0, le=3650)] = 180
    apr: Annotated[Ratio, Field(le=1)]
    max_line_amount: PositiveMoney

    @model_validator(mode="after")
    def _tenor_range(self) -> BankIn:
        if self.min_tenor_days > self.max_tenor_days:
            refuse(self, "min_tenor_days", "min_tenor_days must not exceed max_tenor_days")
        return self


class BankOut(ResponseModel):
    id: str
    name: str
    credit_code: str
    quota: Money
    loan_to_order_ratio: Ratio
    min_tenor_days: int
    max_tenor_days: int
    apr: Ratio
    max_line_amount: Money
    created_at: datetime


class GuarantorIn(RequestModel):
    name: Name
    credit_code: CreditCode
    net_assets: PositiveMoney
    serves_small_firms: bool = False
    single_client_cap: Annotated[Ratio, Field(gt=0, le=1)] = Decimal("0.10")
    related_party_cap: Annotated[Ratio, Field(gt=0, le=1)] = Decimal("0.15")
    coverage_ratio: Annotated[Ratio, Field(gt=0, le=1)] = Decimal("0.50")
    guarantee_expires_on: date | None = None
    controlling_parties: list[CreditCode] = Field(
        default_factory=list, max_length=100,
        description="credit codes of the guarantor's controlling shareholder(s) and actual controller: it may "
                    "not guarantee them (融资担保公司监督管理条例 Art. 17), so a dealer with one of these codes "
                    "gets no guarantee-backed limit from it")

    @model_validator(mode="after")
    def _caps(self) -> GuarantorIn:
        if self.related_party_cap < self.single_client_cap:
            refuse(self, "related_party_cap", "related_party_cap must be at least single_client_cap")
        return self


class GuarantorOut(ResponseModel):
    id: str
    name: str
    credit_code: str
    net_assets: Money
    serves_small_firms: bool
    leverage_cap: Ratio
    single_client_cap: Ratio
    related_party_cap: Ratio
    coverage_ratio: Ratio
    guarantee_expires_on: date | None
    controlling_parties: list[str]


class DealerIn(RequestModel):
    credit_code: CreditCode
    name: Name
    external_id: PlatformId | None = None
    region: Annotated[str | None, Field(max_length=64)] = None
    industry: Annotated[str | None, Field(max_length=64)] = None
    registered_on: date = Field(description="business registration date")
    licence_expires_on: date | None = Field(default=None, description="null for a long-term licence; "
                                            "an expired licence is refused")
    guarantor_id: str | None = None
    onboarded_at: AwareDatetime | None = Field(
        default=None, description="when the dealer joined the platform, if before today (RFC 3339): its tenure "
        "and the months of trade it is rated on count from then, so a platform bringing a dealer with its "
        "history gives its real start; default now. Not in the future, not before registered_on")
    legal_representative: LegalRepresentativeIn
    account_number: AccountNumber | None = None
    consent: OnboardingConsentIn = Field(description="the dealer's consent; must cover credit_scoring")


class DealerOut(ResponseModel):
    id: str
    external_id: str | None
    credit_code: str
    name: str
    region: str | None
    industry: str | None
    registered_on: date
    licence_expires_on: date | None
    guarantor_id: str | None
    onboarded_at: datetime
    erased_at: datetime | None = Field(default=None,
                                       description="set once the dealer's personal data is erased")


class SupplierIn(RequestModel):
    credit_code: CreditCode
    name: Name
    external_id: PlatformId | None = None
    industry: Annotated[str | None, Field(max_length=64)] = None
    whitelisted: bool = False
    account_number: AccountNumber = Field(description="the account entrusted payments go to; stored "
                                          "encrypted, never echoed")


class SupplierOut(ResponseModel):
    id: str
    external_id: str | None
    credit_code: str
    name: str
    industry: str | None
    whitelisted: bool
    onboarded_at: datetime


# --------------------------------------------------------------------------- amendments of terms

Reason = Annotated[str, Field(min_length=3, max_length=1000,
                              description="why the terms change (the bank's letter, the guarantor's audited "
                                          "accounts, the agreement); kept in the audit trail")]


class _Amendment(RequestModel):
    reason: Reason

    @model_validator(mode="after")
    def _something_changes(self) -> _Amendment:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("name at least one term to change besides the reason")
        return self


class BankAmendmentIn(_Amendment):
    """New terms of the bank's product on the platform; only the fields given change."""

    quota: PositiveMoney | None = None
    loan_to_order_ratio: Annotated[Ratio | None, Field(gt=0, le=1)] = None
    min_tenor_days: Annotated[int | None, Field(gt=0, le=3650)] = None
    max_tenor_days: Annotated[int | None, Field(gt=0, le=3650)] = None
    apr: Annotated[Ratio | None, Field(ge=0, le=1)] = None
    max_line_amount: PositiveMoney | None = None


class GuarantorAmendmentIn(_Amendment):
    """New terms of a guarantor; only the fields given change. ``guarantee_expires_on: null`` means the
    guarantee no longer expires."""

    net_assets: PositiveMoney | None = Field(default=None, description="from its latest audited accounts")
    serves_small_firms: bool | None = Field(default=None, description="leverage cap 15× instead of 10×")
    single_client_cap: Annotated[Ratio | None, Field(gt=0, le=1)] = None
    related_party_cap: Annotated[Ratio | None, Field(gt=0, le=1)] = None
    coverage_ratio: Annotated[Ratio | None, Field(gt=0, le=1)] = None
    guarantee_expires_on: date | None = None
    controlling_parties: list[CreditCode] | None = Field(
        default=None, max_length=100, description="replaces the whole list (融资担保公司监督管理条例 Art. 17)")


class GuarantorAssignmentIn(RequestModel):
    """Who guarantees the dealer from now on (``null``: nobody)."""

    guarantor_id: Annotated[str | None, Field(max_length=32)]
    reason: Reason
