"""The one-year Loan Prime Rate (贷款市场报价利率, LPR) by effective date, and the interest cap.

Source: the monthly LPR announcements of the National Interbank Funding Center under the People's
Bank of China (published on the 20th at 9:00 Beijing time, moved to the next working day when the
20th is a holiday), from the reformed LPR's first fixing on 2019-08-20. The bundled table
``lpr_1y.csv`` lists the fixings at which the one-year rate *changed*; months that repeated the
previous rate are omitted because they do not change the rate in force. It reflects published
values as of mid-2025 and must be extended as new fixings are announced: load a newer CSV with
``load_lpr_table(path)`` (same two columns, percent values as published) and pass the table to the
functions below, or record fixings and confirmations in the database (``loan_monitoring.lpr_records``,
``risk-engine lpr add`` / ``lpr confirm``).

Because the table lists only *changes*, it also carries the date through which it is known to be
complete (``confirmed_through``): a day after it may have a fixing the table does not know. The bundled
table is confirmed through 2025-06-20, the fixing after its last change (the June 2025 fixing left the
one-year rate at 3.00 %) — the last publication it was checked against. A table read from a CSV alone is
confirmed through its last fixing. ``is_current_on`` tells whether a day is within the confirmed period
plus a grace (the LPR is published monthly, on the 20th or the next working day: policy default
``DEFAULT_GRACE_DAYS``); a contract made after that must not be capped silently at the last known rate.

Cap: the Supreme People's Court rules on private lending (2020 revision), Art. 25: interest above
four times the one-year LPR in force when the contract is made is not supported; Art. 29 applies
the same ceiling to overdue interest, penalty and fees together.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path

from risk_engine.errors import InvalidInput

CAP_MULTIPLE = Decimal(4)
SOURCE = "PBOC / National Interbank Funding Center monthly LPR announcements (one-year LPR)"
FIRST_FIXING = date(2019, 8, 20)  # the reformed LPR's first fixing
BUNDLED_CONFIRMED_THROUGH = date(2025, 6, 20)  # the last publication the bundled CSV was checked against
DEFAULT_GRACE_DAYS = 35  # policy: a monthly publication, moved up to a few days by holidays


@dataclass(frozen=True)
class LprFixing:
    effective_date: date
    rate: Decimal  # annual, as a fraction: Decimal("0.031") is 3.10 %


@dataclass(frozen=True)
class LprTable:
    """Fixings sorted by date; the rate in force on a day is the latest fixing on or before it.
    ``confirmed_through``: the table is known complete through this day (default, and never earlier
    than: its last fixing)."""

    fixings: tuple[LprFixing, ...]
    source: str = SOURCE
    confirmed_through: date | None = None

    def __post_init__(self) -> None:
        if not self.fixings:
            raise InvalidInput("an LPR table needs at least one fixing", code="empty_lpr_table")
        dates = [f.effective_date for f in self.fixings]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise InvalidInput("LPR fixings must have distinct, ascending dates", code="unsorted_lpr_table")
        for fixing in self.fixings:
            if not (Decimal(0) < fixing.rate < Decimal(1)):
                raise InvalidInput(
                    f"implausible LPR {fixing.rate} on {fixing.effective_date}", code="implausible_lpr"
                )
        if self.confirmed_through is None or self.confirmed_through < dates[-1]:
            object.__setattr__(self, "confirmed_through", dates[-1])

    def fixing_on(self, on: date) -> LprFixing:
        index = bisect_right([f.effective_date for f in self.fixings], on)
        if index == 0:
            first = self.fixings[0].effective_date
            raise InvalidInput(
                f"no one-year LPR in force on {on}: the table starts on {first}",
                field="date",
                code="lpr_unavailable",
            )
        return self.fixings[index - 1]

    def rate_on(self, on: date) -> Decimal:
        return self.fixing_on(on).rate

    @property
    def last_fixing(self) -> LprFixing:
        return self.fixings[-1]

    @property
    def known_through(self) -> date:
        """``confirmed_through``, typed: ``__post_init__`` always sets it."""
        return self.confirmed_through or self.fixings[-1].effective_date

    def current_until(self, grace_days: int = DEFAULT_GRACE_DAYS) -> date:
        """The last day whose rate the table may be trusted for: confirmed through, plus the grace."""
        return self.known_through + timedelta(days=grace_days)

    def is_current_on(self, on: date, grace_days: int = DEFAULT_GRACE_DAYS) -> bool:
        return on <= self.current_until(grace_days)

    def overridden_by(self, other: LprTable) -> LprTable:
        """This table with ``other``'s fixings added, ``other`` winning on the same date; confirmed
        through the later of the two dates."""
        merged = {f.effective_date: f for f in self.fixings} | {f.effective_date: f for f in other.fixings}
        return LprTable(
            tuple(merged[d] for d in sorted(merged)),
            source=f"{self.source}; {other.source}",
            confirmed_through=max(self.known_through, other.known_through),
        )

    def confirmed(self, through: date) -> LprTable:
        """This table known complete through ``through`` too (no fixing it lacks up to that day)."""
        return replace(self, confirmed_through=max(self.known_through, through))


def parse_lpr_csv(text: str, *, source: str = SOURCE) -> LprTable:
    """Columns ``effective_date`` (ISO date) and ``one_year_lpr_percent`` (e.g. ``3.10``)."""
    reader = csv.DictReader(io.StringIO(text))
    fixings = []
    for line_number, row in enumerate(reader, start=2):
        try:
            fixings.append(
                LprFixing(
                    date.fromisoformat(row["effective_date"].strip()),
                    Decimal(row["one_year_lpr_percent"].strip()) / 100,
                )
            )
        except (KeyError, AttributeError, ValueError, InvalidOperation):
            raise InvalidInput(
                f"LPR CSV line {line_number} is not 'YYYY-MM-DD,percent': {row}", code="bad_lpr_csv"
            ) from None
    return LprTable(tuple(sorted(fixings, key=lambda f: f.effective_date)), source=source)


def load_lpr_table(path: str | Path) -> LprTable:
    return parse_lpr_csv(Path(path).read_text(encoding="utf-8"), source=f"{SOURCE} ({path})")


def lpr_table_from(fixings: Iterable[tuple[date, Decimal]]) -> LprTable:
    return LprTable(tuple(LprFixing(d, r) for d, r in sorted(fixings)))


@cache
def default_lpr_table() -> LprTable:
    """The bundled fixings, confirmed through ``BUNDLED_CONFIRMED_THROUGH``."""
    text = resources.files(__package__).joinpath("lpr_1y.csv").read_text(encoding="utf-8")
    return parse_lpr_csv(text).confirmed(BUNDLED_CONFIRMED_THROUGH)


def lpr_on(on: date, table: LprTable | None = None) -> Decimal:
    """The one-year LPR in force on ``on`` (a Beijing business date), as a fraction."""
    return (table or default_lpr_table()).rate_on(on)


def apr_cap(on: date, multiple: Decimal | int = CAP_MULTIPLE, table: LprTable | None = None) -> Decimal:
    """The highest supported annual rate: ``multiple`` × the one-year LPR in force on ``on``."""
    return Decimal(multiple) * lpr_on(on, table)
