"""Demo parties and API clients for a local run (`risk-engine demo seed`).

The demo keys are kept in a 0600 file under ./var so that every `make run` can print them again
(only their hashes are in the database). Refused in production.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.clients import create_client, find_by_key
from compliance.keys import KeyProvider
from compliance.kyb import compute_credit_code_check_char
from risk_engine.db import Database, utcnow
from risk_engine.demo.known import as_known_at
from risk_engine.demo.loading import LoadedPlatform, load_platform
from risk_engine.demo.synthetic import generate_platform
from risk_engine.parties import service
from risk_engine.parties.models import Bank, Dealer
from risk_engine.parties.schemas import BankIn, GuarantorIn
from risk_engine.settings import Settings

ACTOR = "system:demo-seed"


def credit_code(body17: str) -> str:
    return body17 + compute_credit_code_check_char(body17)


DEMO_BANKS = [
    BankIn(name="华东商业银行 East China Commercial Bank", credit_code=credit_code("91310000MA1FL0001"),
           quota=Decimal("200000000.00"), loan_to_order_ratio=Decimal("0.80"), min_tenor_days=30,
           max_tenor_days=180, apr=Decimal("0.0650"), max_line_amount=Decimal("3000000.00")),
    BankIn(name="南粤农商银行 Nanyue Rural Commercial Bank", credit_code=credit_code("91440000MA4UL0002"),
           quota=Decimal("120000000.00"), loan_to_order_ratio=Decimal("0.70"), min_tenor_days=30,
           max_tenor_days=120, apr=Decimal("0.0720"), max_line_amount=Decimal("2000000.00")),
    BankIn(name="西部发展银行 Western Development Bank", credit_code=credit_code("91510000MA6CL0003"),
           quota=Decimal("80000000.00"), loan_to_order_ratio=Decimal("0.80"), min_tenor_days=60,
           max_tenor_days=180, apr=Decimal("0.0590"), max_line_amount=Decimal("1500000.00")),
]
DEMO_GUARANTOR = GuarantorIn(
    name="中小企业融资担保有限公司 SME Financing Guarantee Co.", credit_code=credit_code("91330000MA2GL0004"),
    net_assets=Decimal("500000000.00"), serves_small_firms=True, coverage_ratio=Decimal("0.50"),
)


@dataclass(frozen=True)
class DemoKey:
    role: str
    name: str
    key: str
    bank_id: str | None = None


def seed_demo(session: Session, *, keys_file: Path, only_if_empty: bool) -> list[DemoKey]:
    """Demo banks, guarantor and one API client per role; on a seeded database, the kept keys."""
    banks = list(session.scalars(select(Bank).order_by(Bank.created_at, Bank.id)))
    if not banks:
        banks = [service.create_bank(session, b, actor=ACTOR) for b in DEMO_BANKS]
        service.create_guarantor(session, DEMO_GUARANTOR, actor=ACTOR)
    elif only_if_empty:
        kept = _load_keys(keys_file)
        if kept and all(find_by_key(session, k.key) is not None for k in kept):
            return kept
    keys = _issue_keys(session, banks)
    _store_keys(keys_file, keys)
    return keys


def _issue_keys(session: Session, banks: list[Bank]) -> list[DemoKey]:
    wanted = [("platform", "demo ordering platform", None), ("admin", "demo admin", None),
              ("risk_officer", "demo risk officer 1", None), ("risk_officer", "demo risk officer 2", None)]
    wanted += [("bank", f"demo bank client: {b.name}", b.id) for b in banks]
    keys = []
    for role, name, bank_id in wanted:
        issued = create_client(session, name=name, role=role, bank_id=bank_id, actor=ACTOR)
        keys.append(DemoKey(role=role, name=name, key=issued.key, bank_id=bank_id))
    return keys


def _store_keys(path: Path, keys: list[DemoKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([k.__dict__ for k in keys], fh, ensure_ascii=False, indent=2)


def _load_keys(path: Path) -> list[DemoKey]:
    try:
        return [DemoKey(**k) for k in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return []


def platform_is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Dealer)) == 0


def seed_platform(db: Database, keys: KeyProvider, *, dealers: int, months: int, seed: int,
                  progress: Callable[[str], None]) -> LoadedPlatform:
    """Generate the synthetic platform (risk_engine.demo) and load it through the real services."""
    now = pd.Timestamp(utcnow()) - pd.Timedelta(minutes=1)
    start = (now.tz_convert("Asia/Shanghai") - pd.DateOffset(months=months)).date().replace(day=1)
    # whole months up to the end of this one, then cut at "now": today's state, not a stale extract
    platform = as_known_at(generate_platform(n_dealers=dealers, months=months + 1, seed=seed, start=start), now)
    progress(f"generated {len(platform.dealers)} dealers, {len(platform.orders)} orders since {start}")
    return load_platform(db, platform, keys=keys, progress=progress)


def format_keys(keys: list[DemoKey]) -> str:
    lines = ["Demo API keys (send as `Authorization: Bearer <key>`; console login takes the officer or admin key):"]
    lines += [f"  {k.role:<13} {k.key}   {k.name}" for k in keys]
    return "\n".join(lines)


def seed_model_and_rules(db: Database, models_dir: Path, *, seed: int,
                         progress: Callable[[str], None]) -> str | None:
    """The default rule set (active) and a champion PD model trained on the seeded trade."""
    from risk_engine.rules import service as rules_service
    from scoring import registry
    from scoring.service import train_and_register

    with db.unit_of_work() as session:
        rules_service.seed_default_ruleset(session, actor=ACTOR)
    with db.session() as session:
        champion = session.scalars(select(registry.ModelRecord)
                                   .where(registry.ModelRecord.status == "champion")).first()
    if champion is not None:
        return champion.version
    record = train_and_register(db, models_dir, actor=ACTOR, status="champion", seed=seed, progress=progress)
    progress(f"champion model {record.version} ({record.content_hash[:12]})")
    return record.version


DEMO_BLACKLIST = Path("var/blacklist.csv")


def write_demo_blacklist(path: Path) -> bool:
    """A synthetic platform blacklist at ``path`` unless a file is there already (True: written). It names
    made-up companies and a made-up person, none of them on the demo platform, so every demo dealer is
    screened against a list and found clean, as with a real list — the default rule set refers a decision
    made without any list (``REF_BLACKLIST_NOT_SCREENED``)."""
    if path.exists():
        return False
    rows = [("credit_code", credit_code(f"91440300MA5{n:06d}"), "synthetic demo entry: court enforcement list")
            for n in (104729, 130003, 155921)]
    rows.append(("id_number", "440305198001011235", "synthetic demo entry: legal representative of a fraud case"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("kind,number,reason\n" + "".join(f"{k},{n},{r}\n" for k, n, r in rows), encoding="utf-8")
    return True


def seed_decisions(db: Database, *, scorer: Any, features: Any, dealers: int, seed: int,
                   progress: Callable[[str], None], blacklist: Any | None = None) -> dict[str, int]:
    """Credit-limit requests for a sample of dealers at the demo banks, through the decision service,
    so the review queue and the console have real referred decisions to show."""
    import random

    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.decisions.service import decide_credit_limit
    from risk_engine.errors import DomainError

    with db.session() as session:
        dealer_ids = list(session.scalars(select(Dealer.id).order_by(Dealer.external_id)))
        bank_ids = list(session.scalars(select(Bank.id).order_by(Bank.created_at, Bank.id)))
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    for dealer_id in rng.sample(dealer_ids, min(dealers, len(dealer_ids))):
        request = CreditLimitRequestIn(dealer_id=dealer_id, bank_id=rng.choice(bank_ids),
                                       request_ref=f"demo-{dealer_id}")
        try:
            with db.unit_of_work() as session:
                decision = decide_credit_limit(session, request, scorer=scorer, features=features, actor=ACTOR,
                                               blacklist=blacklist)
                outcome = decision.outcome
        except DomainError as exc:
            outcome = f"refused:{exc.code}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    progress("demo decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return outcomes


MONITORING_JOBS = ("loan_delinquency_daily", "loan_fund_usage_daily", "early_warning_daily")


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if isinstance(v, int) and v)


def seed_order_loans(db: Database, settings: Settings, keys: KeyProvider, *, loans: int, seed: int,
                     progress: Callable[[str], None]) -> dict[str, Any]:
    """Order loans for dealers holding a credit line, through the loan services (``risk_engine.demo.lending``
    plans them, ``loan_loading`` carries them out), then one run of the daily monitoring jobs in their
    scheduled order, so that delinquency buckets and alerts exist. Returns each job's result.

    The early-warning run reads the dealers' trade features as the scheduler does, a batch of dealers at
    a time (``scoring.jobs.early_warning_reads_trade_features``)."""
    from risk_engine import scheduler
    from risk_engine.demo import loan_loading
    from scoring.jobs import early_warning_reads_trade_features

    loan_loading.seed_order_loans(db, settings, keys, max_loans=loans, seed=seed, progress=progress)
    results = {}
    with early_warning_reads_trade_features():
        for name in MONITORING_JOBS:
            results[name] = scheduler.run_job(db, settings, name).result or {}
            progress(f"job {name}: {_counts(results[name])}")
    progress(f"order loans by state: {_counts(loan_loading.loans_by_state(db))}; outstanding by days past due: "
             f"{_counts(loan_loading.outstanding_by_bucket(db))}")
    return results
