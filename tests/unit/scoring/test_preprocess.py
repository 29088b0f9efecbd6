"""TabularEncoder: any names and values, unseen and missing categories, identifiers, plain JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine.errors import InvalidInput
from scoring.preprocess import TabularEncoder, encoded_name


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount <CNY> [k]": [1.5, None, 3.0, 4.0, 2.0, 1.0],
            "地区 region": ["华东", "华南", None, "华东", "north[1]", "华南"],
            "flag": [True, False, True, True, False, False],
            "numbers as text": ["1", "2.5", " 3 ", None, "4", "5"],
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return sample()


def test_encoded_names_are_accepted_by_xgboost_and_map_back_to_their_source(frame):
    encoder = TabularEncoder().fit(frame)
    names = encoder.feature_names_
    assert not any(ch in name for name in names for ch in "[]<")
    xgb.DMatrix(encoder.transform(frame), feature_names=names)  # would raise on a forbidden name
    assert encoder.feature_map_["amount ＜CNY> (k)"] == {"source": "amount <CNY> [k]", "category": None}
    assert encoder.feature_map_["地区 region=north(1)"] == {"source": "地区 region", "category": "north[1]"}
    assert encoder.feature_map_["地区 region=(missing)"]["missing"] is True


def test_numbers_pass_through_and_missing_numbers_stay_missing(frame):
    encoder = TabularEncoder().fit(frame)
    out = encoder.transform(frame)
    amount = encoder.feature_names_.index("amount ＜CNY> (k)")
    assert math.isnan(out[1, amount]) and out[0, amount] == 1.5
    text = encoder.feature_names_.index("numbers as text")
    assert out[:, text][[0, 1, 2, 4]].tolist() == [1.0, 2.5, 3.0, 4.0] and math.isnan(out[3, text])
    assert out[:, encoder.feature_names_.index("flag")].tolist() == [1, 0, 1, 1, 0, 0]


def test_an_unseen_category_encodes_as_all_zeros_and_missing_as_its_indicator(frame):
    encoder = TabularEncoder().fit(frame)
    region = [i for i, name in enumerate(encoder.feature_names_) if name.startswith("地区 region=")]
    unseen = encoder.transform(frame.assign(**{"地区 region": ["西北"] * 6}))
    assert unseen[:, region].sum() == 0
    missing = encoder.transform(frame.assign(**{"地区 region": [None] * 6}))
    assert missing[:, encoder.feature_names_.index("地区 region=(missing)")].tolist() == [1.0] * 6


def test_mostly_unique_text_and_row_counters_are_dropped_as_identifiers():
    n = 200
    frame = pd.DataFrame(
        {
            "customer id": [f"C{i:05d}" for i in range(n)],
            "row": np.arange(n),
            "amount": np.arange(n) * 1.5 + 7,
            "grade": ["a", "b"] * (n // 2),
        }
    )
    encoder = TabularEncoder().fit(frame)
    assert set(encoder.dropped_) == {"customer id", "row"}
    assert encoder.source_columns_ == ["amount", "grade"]


def test_a_frame_of_identifiers_only_is_refused():
    with pytest.raises(InvalidInput, match="identifier"):
        TabularEncoder().fit(pd.DataFrame({"id": [f"x{i}" for i in range(100)]}))


def test_a_missing_input_column_is_named(frame):
    encoder = TabularEncoder().fit(frame)
    with pytest.raises(InvalidInput) as error:
        encoder.transform(frame.drop(columns=["flag"]))
    assert error.value.field == "flag"


def test_names_made_equal_by_sanitising_stay_distinct():
    frame = pd.DataFrame({"a[1]": [1.0, 2.0], "a(1)": [3.0, 4.0]})
    encoder = TabularEncoder().fit(frame)
    assert len(set(encoder.feature_names_)) == 2
    assert encoded_name("x\n<y>") == "x ＜y>"


def test_the_fitted_encoder_survives_plain_json(frame):
    encoder = TabularEncoder().fit(frame)
    again = TabularEncoder.from_dict(json.loads(json.dumps(encoder.to_dict(), ensure_ascii=False)))
    assert again.feature_names_ == encoder.feature_names_
    assert np.array_equal(again.transform(frame), encoder.transform(frame), equal_nan=True)


def test_the_encoder_refuses_to_transform_before_fit(frame):
    with pytest.raises(InvalidInput, match="not fitted"):
        TabularEncoder().transform(frame)


@settings(max_examples=50, deadline=None)
@given(
    amount=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    region=st.sampled_from(["华东", "华南", "?", None, 1]),
    flag=st.sampled_from([True, False, None]),
    text=st.sampled_from(["7", " 8.5", "", None, "x"]),
)
def test_one_record_encodes_like_the_same_row_in_a_frame(amount, region, flag, text):
    encoder = TabularEncoder().fit(sample())
    row = {"amount <CNY> [k]": amount, "地区 region": region, "flag": flag, "numbers as text": text}
    single = encoder.transform_record(row)
    batch = encoder.transform(pd.DataFrame([row]).astype(object))[0]
    assert np.array_equal(single, batch, equal_nan=True)
