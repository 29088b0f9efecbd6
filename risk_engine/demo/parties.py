"""Who is on the platform: dealers, suppliers, partner banks and the guarantee institution.

Identities are synthetic but well-formed: credit codes and resident identity numbers carry valid
check characters, division codes are real districts, names look like Chinese firms and people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_engine.demo.behaviour import DealerBehaviour
from risk_engine.demo.ids import make_credit_codes, make_resident_ids
from risk_engine.demo.reference import (
    BRAND_CHARS,
    GIVEN_NAME_CHARS,
    INDUSTRIES,
    MOBILE_PREFIXES,
    PROVINCES,
    STREETS,
    SURNAMES,
)
from risk_engine.demo.timeline import CST_OFFSET, DAY, to_dates, to_timestamps

SIZE_BANDS = ("micro", "small", "medium", "large")
LINK_KINDS = ("shared_owner", "legal_representative", "address", "account")
BENIGN_LINK_SHARE = 0.004
SIZE_BAND_LIMITS_YUAN_PER_YEAR = (1_000_000, 10_000_000, 50_000_000)

CITY_NAMES = [[city for city, _ in p.cities] for p in PROVINCES]
DIVISION_CODES = [[code for _, code in p.cities] for p in PROVINCES]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _join(*parts: np.ndarray | str) -> np.ndarray:
    out = np.asarray(parts[0], dtype=object)
    for part in parts[1:]:
        out = out + np.asarray(part, dtype=object)
    return out


def _zero_padded(values: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(values.astype(str), width).astype(object)


def city_and_division(province: np.ndarray, city: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names = np.array([CITY_NAMES[p][c] for p, c in zip(province, city, strict=True)], dtype=object)
    codes = np.array([DIVISION_CODES[p][c] for p, c in zip(province, city, strict=True)], dtype=np.int64)
    return names, codes


def addresses(rng: np.random.Generator, province: np.ndarray, city_names: np.ndarray) -> np.ndarray:
    province_names = np.array([p.zh for p in PROVINCES], dtype=object)[province]
    prefix = np.where(
        [c.startswith(p[:2]) for c, p in zip(city_names, province_names, strict=True)], "", province_names
    )
    number = rng.integers(1, 999, len(province)).astype(str).astype(object)
    return _join(prefix, city_names, _pick(rng, STREETS, len(province)), number, "号")


def people(rng: np.random.Generator, division_codes: np.ndarray, reference_day: int) -> pd.DataFrame:
    """Legal representatives: name, a valid resident identity number and a mobile number."""
    n = len(division_codes)
    given = _pick(rng, GIVEN_NAME_CHARS, n)
    two_chars = rng.random(n) < 0.6
    given = np.where(two_chars, given + _pick(rng, GIVEN_NAME_CHARS, n), given)
    age_days = rng.integers(28 * 365, 65 * 365, n)
    birth = (reference_day - age_days).astype("datetime64[D]")
    sequence = rng.integers(0, 1000, n)
    phone = _join(
        np.asarray(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)].astype(str).astype(object),
        _zero_padded(rng.integers(0, 10**8, n), 8),
    )
    return pd.DataFrame(
        {
            "legal_rep_name": _join(_pick(rng, SURNAMES, n), given),
            "legal_rep_id_number": make_resident_ids(division_codes, birth, sequence),
            "legal_rep_phone": phone,
        }
    )


def account_numbers(n: int, offset: int) -> np.ndarray:
    """Distinct 19-digit corporate settlement account numbers."""
    body = (offset + np.arange(n, dtype=np.int64) * 7_777_777_777) % 10**15
    return _join(_zero_padded(1000 + (body % 8999), 4), _zero_padded(body, 15))


def size_band(monthly_volume_yuan: np.ndarray) -> np.ndarray:
    band = np.searchsorted(np.array(SIZE_BAND_LIMITS_YUAN_PER_YEAR), monthly_volume_yuan * 12, side="right")
    return np.array(SIZE_BANDS, dtype=object)[band]


def make_dealers(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    serials: np.ndarray,
    accounts: np.ndarray,
) -> pd.DataFrame:
    n = len(behaviour)
    city_names, division = city_and_division(behaviour.province, behaviour.city)
    bands = size_band(behaviour.orders_per_month * behaviour.order_value_yuan)
    individual = (bands == "micro") & (rng.random(n) < 0.3)
    trade_word = np.array([i.zh for i in INDUSTRIES], dtype=object)[behaviour.industry]
    suffix = np.where(
        individual, _pick(rng, ("经营部", "商行"), n), _pick(rng, ("商贸有限公司", "贸易有限公司"), n)
    )
    short_city = np.array([c[: c.index("市")] for c in city_names], dtype=object)
    names = _join(short_city, _pick(rng, BRAND_CHARS, n), _pick(rng, BRAND_CHARS, n), trade_word, suffix)
    onboard_seconds = behaviour.onboarded_day * DAY + rng.integers(9 * 3600, 18 * 3600, n) - CST_OFFSET
    frame = pd.DataFrame(
        {
            "dealer_id": np.arange(1, n + 1, dtype=np.int64),
            "credit_code": make_credit_codes(serials, division, np.where(individual, "2", "1")),
            "name": names,
            "region": np.array([p.zh for p in PROVINCES], dtype=object)[behaviour.province],
            "industry": np.array([i.code for i in INDUSTRIES], dtype=object)[behaviour.industry],
            "size_band": bands,
            "address": addresses(rng, behaviour.province, city_names),
            "account_number": accounts,
            "registered_on": to_dates(behaviour.registered_day),
            "licence_expires_on": to_dates(behaviour.licence_expiry_day),
            "onboarded_on": to_dates(behaviour.onboarded_day),
        }
    )
    frame = pd.concat([frame, people(rng, division, int(behaviour.onboarded_day.min()))], axis=1)
    frame["recorded_at"] = to_timestamps(onboard_seconds)
    return frame


def make_suppliers(
    rng: np.random.Generator,
    industry: np.ndarray,
    province: np.ndarray,
    serials: np.ndarray,
    accounts: np.ndarray,
    onboarded_day: np.ndarray,
) -> pd.DataFrame:
    n = len(industry)
    city = (rng.random(n) * np.array([len(p.cities) for p in PROVINCES])[province]).astype(np.int64)
    city_names, division = city_and_division(province, city)
    short_city = np.array([c[: c.index("市")] for c in city_names], dtype=object)
    trade_word = np.array([i.supplier_zh for i in INDUSTRIES], dtype=object)[industry]
    kind = _pick(rng, ("科技有限公司", "实业有限公司", "制造有限公司", "集团有限公司"), n)
    names = _join(short_city, _pick(rng, BRAND_CHARS, n), _pick(rng, BRAND_CHARS, n), trade_word, kind)
    frame = pd.DataFrame(
        {
            "supplier_id": np.arange(1, n + 1, dtype=np.int64),
            "credit_code": make_credit_codes(serials, division),
            "name": names,
            "industry": np.array([i.code for i in INDUSTRIES], dtype=object)[industry],
            "region": np.array([p.zh for p in PROVINCES], dtype=object)[province],
            "address": addresses(rng, province, city_names),
            "account_number": accounts,
            "whitelisted": rng.random(n) < 0.92,
        }
    )
    frame = pd.concat([frame, people(rng, division, int(onboarded_day.min()))], axis=1)
    frame["recorded_at"] = to_timestamps(onboarded_day * DAY + 10 * 3600 - CST_OFFSET)
    return frame


def make_banks(serials: np.ndarray, n_dealers: int, first_day: int) -> pd.DataFrame:
    """Three partner banks with their order-loan product parameters (quota scales with the platform)."""
    scale = max(n_dealers, 100) / 2_000
    return pd.DataFrame(
        {
            "bank_id": np.array([1, 2, 3], dtype=np.int64),
            "name": ["浦江商业银行", "岭南农村商业银行", "长江城市银行"],
            "credit_code": make_credit_codes(serials, np.array([310115, 440106, 420106])),
            "quota_fen": (np.array([300_000_000, 200_000_000, 120_000_000]) * scale).astype(np.int64) * 100,
            "loan_to_order_ratio_bp": np.array([8_000, 8_000, 8_000], dtype=np.int64),
            "min_tenor_days": np.array([30, 30, 30], dtype=np.int64),
            "max_tenor_days": np.array([180, 120, 180], dtype=np.int64),
            "apr_bp": np.array([520, 610, 580], dtype=np.int64),
            "recorded_at": to_timestamps(np.full(3, first_day * DAY - CST_OFFSET)),
        }
    )


def make_guarantors(serials: np.ndarray, n_dealers: int, first_day: int) -> pd.DataFrame:
    scale = max(n_dealers, 100) / 2_000
    return pd.DataFrame(
        {
            "guarantor_id": np.array([1], dtype=np.int64),
            "name": ["汇信融资担保有限公司"],
            "credit_code": make_credit_codes(serials, np.array([440305])),
            "net_assets_fen": np.array([int(150_000_000 * scale) * 100], dtype=np.int64),
            "serves_small_firms": np.array([True]),
            "fee_rate_bp": np.array([150], dtype=np.int64),
            "recorded_at": to_timestamps(np.array([first_day * DAY - CST_OFFSET])),
        }
    )


def related_party_links(
    rng: np.random.Generator,
    dealers: pd.DataFrame,
    suppliers: pd.DataFrame,
    circular_dealers: np.ndarray,
    related_supplier: np.ndarray,
    usual_supplier: np.ndarray,
) -> pd.DataFrame:
    """Links KYB found between dealers and suppliers (modifies both frames to make them visible).

    A circular trader shares one or two of owner, legal representative, address or settlement
    account with its related supplier. A few honest dealers share an owner with their main
    supplier (family firms), so a link alone is not proof of misuse.
    """
    k = len(circular_dealers)
    first = rng.integers(0, len(LINK_KINDS), k)
    second = (first + 1 + rng.integers(0, len(LINK_KINDS) - 1, k)) % len(LINK_KINDS)
    both = rng.random(k) < 0.5
    dealer = np.concatenate([circular_dealers, circular_dealers[both]])
    kind = np.concatenate([first, second[both]])
    supplier = related_supplier[dealer]
    for name, columns in (
        ("legal_representative", ["legal_rep_name", "legal_rep_id_number", "legal_rep_phone"]),
        ("address", ["address"]),
    ):
        hit = kind == LINK_KINDS.index(name)
        suppliers.loc[supplier[hit], columns] = dealers.loc[dealer[hit], columns].to_numpy()
    hit = kind == LINK_KINDS.index("account")
    dealers.loc[dealer[hit], "account_number"] = suppliers.loc[supplier[hit], "account_number"].to_numpy()

    benign = np.flatnonzero(rng.random(len(dealers)) < BENIGN_LINK_SHARE)
    benign = benign[related_supplier[benign] < 0]
    dealer = np.concatenate([dealer, benign])
    supplier = np.concatenate([supplier, usual_supplier[benign]])
    kind = np.concatenate([kind, np.zeros(len(benign), dtype=np.int64)])
    found = pd.concat(
        [
            dealers["recorded_at"].iloc[dealer].reset_index(drop=True),
            suppliers["recorded_at"].iloc[supplier].reset_index(drop=True),
        ],
        axis=1,
    ).max(axis=1)
    return pd.DataFrame(
        {
            "link_id": np.arange(1, len(dealer) + 1, dtype=np.int64),
            "dealer_id": dealer + 1,
            "supplier_id": supplier + 1,
            "kind": pd.Series(np.array(LINK_KINDS)[kind], dtype="str"),
            "recorded_at": found.astype("datetime64[us, UTC]") + pd.Timedelta(days=3),
        }
    )
