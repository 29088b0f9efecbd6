"""The one settings object. Read from the environment (prefix ``RISK_``) once, via ``get_settings()``."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/risk.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_", extra="ignore")

    env: Literal["local", "test", "production"] = "local"
    database_url: str = DEFAULT_DATABASE_URL
    keys_dir: Path = Path("./var/keys")
    models_dir: Path = Path("./var/models")
    blacklist_file: Path | None = Field(
        default=None, description="KYB blacklist (.csv kind,number,reason or .json) screened at onboarding")

    # HTTP
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger request bodies get 413")
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    api_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="a valid API key is remembered this long per worker (0: never); a revoked "
                                       "key stops working within it")
    log_level: str = "INFO"
    forwarded_allow_ips: str | None = Field(
        default=None, description="behind a TLS-terminating proxy: the proxy addresses (comma-separated, or *) "
        "whose X-Forwarded-Proto and X-Forwarded-For are believed, so the console's session cookie is Secure "
        "and the access log names the client; unset: no forwarded header is believed")

    # SQLite
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)

    # Order loans and monitoring (loan_monitoring)
    lpr_file: Path | None = Field(
        default=None, description="one-year LPR fixings (CSV effective_date,one_year_lpr_percent) added to the "
                                  "bundled table; newer fixings win")
    apr_cap_multiple: Decimal = Field(default=Decimal(4), gt=0, description="all-in APR cap in multiples of the LPR")
    lpr_grace_days: int = Field(
        default=35, ge=0, le=366, description="an order loan decided more than this many days after the date the "
                                              "LPR table is confirmed through is referred: its LPR is not known")
    loan_delivery_within_days: int = Field(default=30, ge=1, description="no delivery this long after "
                                                                          "disbursement raises no_delivery")
    loan_receipt_within_days: int = Field(default=3, ge=0, description="days for the supplier's receipt to "
                                                                        "match a disbursement")
    loan_refund_within_days: int = Field(default=7, ge=0, description="days for funds to come back after the "
                                                                       "order is cancelled or returned")
    ews_policy_file: Path | None = Field(default=None, description="early-warning rules (JSON, "
                                                                   "EarlyWarningPolicy.from_dict)")
    alert_auto_actions: list[str] = Field(
        default=["freeze_line"], description="alert actions the engine carries out itself (freeze_line); the "
                                             "others (notch_grade_at_next_review, recall) are left to people")

    # Scheduler
    scheduler_timezone: str = "Asia/Shanghai"
    job_lease_seconds: int = Field(default=3600, ge=60, description="a running job slot older than this is "
                                                                      "taken over as crashed")

    # Decision core (risk_engine.decisions, limits)
    override_second_approval_above: Decimal = Field(
        default=Decimal("500000.00"), ge=0, max_digits=18, decimal_places=2,
        description="a review override raising a line's limit above this (CNY) needs a second officer")
    credit_line_term_days: int = Field(
        default=365, ge=1, le=3650, description="an approved line expires this many days after its decision"
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        if self.database_url.startswith("sqlite"):
            raise ValueError("RISK_ENV=production refuses SQLite: set RISK_DATABASE_URL to PostgreSQL")
        if self.database_url == DEFAULT_DATABASE_URL:
            raise ValueError("RISK_ENV=production refuses the default RISK_DATABASE_URL")
        if "RISK_KEYS_DIR" not in _explicit_env() or not self.keys_dir.is_dir():
            raise ValueError(
                "RISK_ENV=production needs RISK_KEYS_DIR set to an existing directory holding the keys"
            )
        return self


def _explicit_env() -> set[str]:
    import os

    return {k for k in os.environ if k.startswith("RISK_")}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
