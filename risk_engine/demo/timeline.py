"""Time as the generator handles it: whole days and UTC seconds as int64 numpy arrays.

Business dates are China Standard Time (UTC+8, no daylight saving) calendar days counted from
1970-01-01; instants are UTC seconds. ``NEVER`` marks an event that has not happened (yet).
Conversion to pandas happens once, at the end, in :func:`to_timestamps` and :func:`to_dates`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

DAY = 86_400
HOUR = 3_600
CST_OFFSET = 8 * HOUR
NEVER = np.iinfo(np.int64).max
MONTH_DAYS = 30.4375


def day_number(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def first_of_month(d: date, months_later: int = 0) -> date:
    total = d.year * 12 + d.month - 1 + months_later
    return date(total // 12, total % 12 + 1, 1)


def month_start_days(start: date, months: int) -> np.ndarray:
    """Day numbers of the first day of each month from ``start``'s month: months + 1 boundaries."""
    return np.array([day_number(first_of_month(start, m)) for m in range(months + 1)], dtype=np.int64)


def local_instant(days: np.ndarray, seconds_into_day: np.ndarray) -> np.ndarray:
    """UTC seconds of a CST calendar day plus local seconds after midnight."""
    return days * DAY + seconds_into_day.astype(np.int64) - CST_OFFSET


def local_day(instants: np.ndarray) -> np.ndarray:
    """CST calendar day of UTC instants (NEVER stays NEVER)."""
    return np.where(instants == NEVER, NEVER, (instants + CST_OFFSET) // DAY)


def never_after(values: np.ndarray, limit: int) -> np.ndarray:
    """Events at or after ``limit`` have not happened as far as the extract knows."""
    return np.where(values >= limit, NEVER, values)


def to_timestamps(instants: np.ndarray) -> pd.Series:
    """UTC seconds (NEVER = missing) -> tz-aware ``datetime64[us, UTC]``."""
    micros = np.where(instants == NEVER, np.iinfo(np.int64).min, instants * 1_000_000)
    return pd.Series(micros.view("datetime64[us]")).dt.tz_localize("UTC")


def to_dates(days: np.ndarray) -> pd.Series:
    """CST day numbers (NEVER = missing) -> naive midnight ``datetime64[s]`` (a calendar date)."""
    seconds = np.where(days == NEVER, np.iinfo(np.int64).min, days * DAY)
    return pd.Series(seconds.view("datetime64[s]"))
