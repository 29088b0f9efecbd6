"""The latent economics of each dealer: size, creditworthiness, growth, distress and churn.

Everything here is hidden ground truth. The observable tables are generated from it in
``trade.py`` and ``financing.py``; only ``latent_``-prefixed columns expose it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_engine.demo.reference import INDUSTRIES, PROVINCES
from risk_engine.demo.timeline import MONTH_DAYS, NEVER

# Calibrated so that roughly 5 % of dealers reach 90+ days past due within 24 months.
DISTRESS_HAZARD_PER_MONTH = 0.0034
DISTRESS_SENSITIVITY = 1.15  # log hazard per standard deviation of creditworthiness
CHURN_HAZARD_PER_MONTH = 0.006
DECLINE_BEFORE_DISTRESS_DAYS = 180  # purchases, payments and returns deteriorate for ~6 months
ORDERS_AFTER_DISTRESS_DAYS = 45  # suppliers keep shipping for a while, then stop


@dataclass(frozen=True)
class DealerBehaviour:
    industry: np.ndarray  # index into INDUSTRIES
    province: np.ndarray  # index into PROVINCES
    city: np.ndarray  # index into that province's cities
    size: np.ndarray  # standardised size factor
    orders_per_month: np.ndarray
    order_value_yuan: np.ndarray  # typical order
    payment_terms_days: np.ndarray
    creditworthiness: np.ndarray  # latent, standard normal, higher is better
    growth_per_month: np.ndarray  # log-volume drift
    late_payment_logit: np.ndarray
    onboarded_day: np.ndarray
    registered_day: np.ndarray
    licence_expiry_day: np.ndarray  # NEVER = long-term licence
    distress_day: np.ndarray  # NEVER = stays healthy within the horizon
    churn_day: np.ndarray  # NEVER = stays on the platform

    def __len__(self) -> int:
        return len(self.industry)

    @property
    def last_order_day(self) -> np.ndarray:
        """Day after which the dealer places no more orders."""
        after_distress = np.where(
            self.distress_day == NEVER, NEVER, self.distress_day + ORDERS_AFTER_DISTRESS_DAYS
        )
        return np.minimum(self.churn_day, after_distress)

    def deterioration(self, dealer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """0 for healthy dealers, rising linearly to 1 over the months before distress, 1 after it."""
        onset = self.distress_day[dealer]
        ramp = 1.0 - (onset - day) / DECLINE_BEFORE_DISTRESS_DAYS
        return np.where(onset == NEVER, 0.0, np.clip(ramp, 0.0, 1.0))


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def _choice(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def draw_behaviour(rng: np.random.Generator, n: int, first_day: int, end_day: int) -> DealerBehaviour:
    """Draw n dealers active on a platform that opened on ``first_day`` and is extracted at ``end_day``."""
    industry = _choice(rng, np.array([i.share for i in INDUSTRIES]), n)
    province = _choice(rng, np.array([p.share for p in PROVINCES]), n)
    n_cities = np.array([len(p.cities) for p in PROVINCES])
    city = (rng.random(n) * n_cities[province]).astype(np.int64)

    size = rng.standard_normal(n)
    orders_per_month = np.clip(np.exp(np.log(2.9) + 0.45 * size + 0.35 * rng.standard_normal(n)), 0.3, 40)
    median_value = np.array([i.median_order_yuan for i in INDUSTRIES])[industry]
    order_value = median_value * np.exp(0.5 * size + 0.5 * rng.standard_normal(n))
    terms_options = [INDUSTRIES[i].payment_terms_days for i in range(len(INDUSTRIES))]
    terms_pick = rng.integers(0, 3, n)
    payment_terms = np.array([terms_options[i][j] for i, j in zip(industry, terms_pick, strict=True)])

    # A third of the dealers migrate in the launch month, the rest join steadily.
    launch = rng.random(n) < 0.35
    horizon = max(end_day - first_day, 2)
    onboarded = np.where(
        launch,
        first_day + rng.integers(0, min(30, horizon), n),
        first_day + rng.integers(min(30, horizon - 1), horizon, n),
    )
    age_years = 1.0 + np.exp(np.log(5.0) + 0.3 * size + 0.6 * rng.standard_normal(n))
    registered = onboarded - (age_years * 365.25).astype(np.int64)
    term_years = rng.choice(np.array([0, 10, 20, 30]), size=n, p=[0.55, 0.15, 0.15, 0.15])
    # a fixed-term licence is renewed term by term: at onboarding it is valid for at least 30 more days
    term_days = np.maximum((term_years * 365.25).astype(np.int64), 1)
    renewals = np.maximum(np.ceil((onboarded + 30 - registered) / term_days).astype(np.int64), 1)
    licence_expiry = np.where(term_years == 0, NEVER, registered + renewals * term_days)

    creditworthiness = _standardise(
        0.35 * size + 0.3 * _standardise(np.log(age_years)) + 0.89 * rng.standard_normal(n)
    )
    growth = rng.normal(0.004 + 0.008 * creditworthiness, 0.012)
    late_logit = -2.3 - 1.1 * creditworthiness + rng.normal(0.0, 0.4, n)

    hazard = DISTRESS_HAZARD_PER_MONTH * np.exp(-DISTRESS_SENSITIVITY * creditworthiness)
    distress = onboarded + 90 + (rng.exponential(1.0, n) / hazard * MONTH_DAYS).astype(np.int64)
    distress = np.where(distress < end_day, distress, NEVER)
    churn = onboarded + 60 + (rng.exponential(1.0, n) / CHURN_HAZARD_PER_MONTH * MONTH_DAYS).astype(np.int64)
    churn = np.where(churn < end_day, churn, NEVER)

    return DealerBehaviour(
        industry=industry,
        province=province,
        city=city,
        size=size,
        orders_per_month=orders_per_month,
        order_value_yuan=order_value,
        payment_terms_days=payment_terms,
        creditworthiness=creditworthiness,
        growth_per_month=growth,
        late_payment_logit=late_logit,
        onboarded_day=onboarded.astype(np.int64),
        registered_day=registered.astype(np.int64),
        licence_expiry_day=licence_expiry.astype(np.int64),
        distress_day=distress.astype(np.int64),
        churn_day=churn.astype(np.int64),
    )


def payment_delays(
    rng: np.random.Generator, behaviour: DealerBehaviour, dealer: np.ndarray, due_day: np.ndarray
) -> np.ndarray:
    """Days paid after the due date (negative = early); NEVER for obligations a distressed dealer skips.

    Late payment odds rise with worse creditworthiness and with deterioration before distress;
    from shortly before the distress date on, nothing is paid any more.
    """
    decline = behaviour.deterioration(dealer, due_day)
    z = behaviour.creditworthiness[dealer]
    p_late = 1.0 / (1.0 + np.exp(-(behaviour.late_payment_logit[dealer] + 2.5 * decline)))
    late = rng.random(len(dealer)) < p_late
    scale = 7.0 * np.exp(-0.35 * z) * (1.0 + 1.5 * decline)
    late_days = np.minimum(np.ceil(rng.gamma(1.3, 1.0, len(dealer)) * scale), 75).astype(np.int64)
    early_days = -np.minimum(rng.geometric(0.3, len(dealer)) - 1, 10)
    delay = np.where(late, np.maximum(late_days, 1), early_days)
    onset = behaviour.distress_day[dealer]
    skipped = (onset != NEVER) & (due_day >= onset - 10)
    return np.where(skipped, NEVER, delay)


def seconds_of_business_day(rng: np.random.Generator, n: int, first_hour: int = 8, last_hour: int = 21):
    return rng.integers(first_hour * 3600, last_hour * 3600, n)
