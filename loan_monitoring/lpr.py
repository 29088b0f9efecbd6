"""The one-year Loan Prime Rate (贷款市场报价利率, LPR) by effective date, and the interest cap.

Source: the monthly LPR announcements of the National Interbank Funding Center under the People's
Bank of China (published on the 20th at 9:00 Beijing time, moved to the next working day when the
20th is a holiday), from the reformed LPR's first fixing on 2019-08-20. The bundled table
``lpr_1y.csv`` lists the fixings at which the one-year rate *changed*; months that repeated the
previous rate are omitted because they do not change the rate in force. It reflects published
values as of mid-2025 and must be extended as new fixings are announced: load a newer CSV with
``load_lpr_table(path)`` (same two columns, percent values as published) and pass the table to the
functions below.

Cap: the Supreme People's Court rules on private lending (2020 revision), Art. 25: interest above
four times the one-year LPR in force when the contract is made is not supported; Art. 29 applies
the same ceiling to overdue interest, penalty and fees together.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path

from risk_engine.errors import InvalidInput

CAP_MULTIPLE = Decimal(4)
SOURCE = "PBOC / National Interbank Funding Center monthly LPR announcements (one-year LPR)"


@dataclass(frozen=True)
class LprFixing:
    effective_date: date
    rate: Decimal  # annual, as a fraction: Decimal("0.031") is 3.10 %


@dataclass(frozen=True)
class LprTable:
    """Fixings sorted by date; the rate in force on a day is the latest fixing on or before it."""

    fixings: tuple[LprFixing, ...]
    source: str = SOURCE

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

    def overridden_by(self, other: LprTable) -> LprTable:
        """This table with ``other``'s fixings added, ``other`` winning on the same date."""
        merged = {f.effective_date: f for f in self.fixings} | {f.effective_date: f for f in other.fixings}
        return LprTable(tuple(merged[d] for d in sorted(merged)), source=f"{self.source}; {other.source}")


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
    text = resources.files(__package__).joinpath("lpr_1y.csv").read_text(encoding="utf-8")
    return parse_lpr_csv(text)


def lpr_on(on: date, table: LprTable | None = None) -> Decimal:
    """The one-year LPR in force on ``on`` (a Beijing business date), as a fraction."""
    return (table or default_lpr_table()).rate_on(on)


def apr_cap(on: date, multiple: Decimal | int = CAP_MULTIPLE, table: LprTable | None = None) -> Decimal:
    """The highest supported annual rate: ``multiple`` × the one-year LPR in force on ``on``."""
    return Decimal(multiple) * lpr_on(on, table)
