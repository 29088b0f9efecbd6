"""How the console writes figures and words: exact money, percentages, both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from api.console.auth import safe_next
from api.console.formatting import feature_value, money, percent, when
from api.console.i18n import CATALOG, Translator, choose_language


def test_money_is_exact_with_two_decimals_and_thousands_separators():
    assert money(Decimal("1234567.5")) == "1,234,567.50"
    assert money("0.005") == "0.00"  # banker's rounding, as Decimal quantize
    assert money(Decimal("-12000")) == "-12,000.00"
    assert money(None) == "—"
    with pytest.raises(TypeError):
        money(1.1)


def test_percent_and_times():
    assert percent(Decimal("0.0123456")) == "1.23%"
    assert percent("0.5", places=0) == "50%"
    assert when(datetime(2026, 11, 25, 9, 43, 12, tzinfo=UTC)) == "2026-11-25 09:43 UTC"
    assert when("2026-11-25T09:43:12Z") == "2026-11-25 09:43 UTC"


def test_feature_values_are_compact():
    assert feature_value(float("nan")) == "missing"
    assert feature_value(0.61834) == "0.6183"
    assert feature_value(1234567.8) == "1,234,568"
    assert feature_value("250000.00") == "250,000"
    assert feature_value(True) == "yes"


def test_every_catalog_entry_has_both_languages_and_the_same_placeholders():
    import string

    for key, (en, zh) in CATALOG.items():
        assert en and zh, key
        names = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
        assert names(en) == names(zh), key


def test_the_translator_falls_back_to_english_then_to_the_key():
    zh = Translator("zh")
    assert zh("nav.reviews") == "审核队列"
    assert zh("no.such.key") == "no.such.key"
    assert zh.code("outcome", "refer") == "转人工"
    assert zh.code("binding", "some_new_constraint") == "some_new_constraint"
    assert Translator("en")("reviews.count", n=3) == "3 cases"


def test_the_language_comes_from_the_cookie_then_the_browser():
    assert choose_language("zh", "en-GB") == "zh"
    assert choose_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert choose_language("fr", "de-DE") == "en"


def test_redirects_stay_inside_the_console():
    assert safe_next("/console/dealers/dlr_1") == "/console/dealers/dlr_1"
    for bad in (
        "https://evil.example/",
        "//evil.example",
        "/v1/reviews",
        "/console/logout",
        None,
        "/console\\x",
    ):
        assert safe_next(bad) == "/console/reviews"
