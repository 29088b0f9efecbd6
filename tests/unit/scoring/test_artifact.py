"""Model versions on disk: a faithful round trip, and any change to the artifact is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine.errors import InvalidInput
from scoring.artifact import MANIFEST, PARTS, ModelVersion, TamperedArtifact, load_version, save_version

from .synthetic import fitted_model


def version() -> ModelVersion:
    model, X, y = fitted_model()
    return ModelVersion(
        model=model,
        version="test-1",
        metrics={
            "validation": {"auc": 0.8, "brier": 0.1},
            "global_importance": {"tenure_months": 0.3},
            "grade_table": [
                {"grade": "B", "count": 3, "expected_default_rate": 0.03, "observed_default_rate": 0.0}
            ],
        },
        training_data={"rows": len(y), "sha256": "0" * 64, "target": "bad"},
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("artifact") / "v1"
    save_version(version(), directory)
    return directory


def test_a_loaded_version_scores_exactly_like_the_saved_one(saved):
    model, X, _ = fitted_model()
    loaded = load_version(saved)
    assert np.array_equal(loaded.model.predict_pd(X.head(100)), model.predict_pd(X.head(100)))
    assert loaded.model.calibration_ == model.calibration_
    assert loaded.model_id == json.loads((saved / MANIFEST).read_text())["content_hash"]
    assert loaded.master_scale.names[0] == "AAA" and loaded.score_scaling.points == 600
    rating = loaded.rate(X.iloc[0].to_dict())
    assert rating.grade == loaded.master_scale.grade(rating.pd)


def test_the_manifest_lists_every_part_with_its_sha256(saved):
    manifest = json.loads((saved / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(PARTS)
    assert all(len(h) == 64 for h in manifest["files"].values())


def test_the_model_card_tells_calibration_grades_and_importances(saved):
    card = (saved / "model_card.md").read_text()
    model = fitted_model()[0]
    assert f"Chosen: **{model.calibration_}**" in card
    assert "| AAA | 0.00% | 0.10% |" in card
    assert "| tenure_months | 0.3000 |" in card


@pytest.mark.parametrize("name", [*PARTS, MANIFEST])
def test_a_changed_file_is_refused(saved, name):
    path = saved / name
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 0x01]))
        with pytest.raises(TamperedArtifact) as error:
            load_version(saved)
        assert error.value.field == name
    finally:
        path.write_bytes(original)
    load_version(saved)


@settings(max_examples=30, deadline=None)
@given(
    part=st.sampled_from([*PARTS, MANIFEST]),
    where=st.floats(0, 1, exclude_max=True),
    flip=st.integers(1, 255),
)
def test_any_byte_changed_anywhere_is_refused(saved, part, where, flip):
    path = saved / part
    original = path.read_bytes()
    position = int(where * len(original))
    try:
        path.write_bytes(original[:position] + bytes([original[position] ^ flip]) + original[position + 1 :])
        with pytest.raises(TamperedArtifact):
            load_version(saved)
    finally:
        path.write_bytes(original)


def test_a_rewritten_manifest_with_a_fixed_file_hash_is_still_refused(saved):
    path = saved / MANIFEST
    original = path.read_bytes()
    manifest = json.loads(original)
    manifest["files"]["model.json"] = "f" * 64  # someone "fixes" a hash without recomputing the content hash
    try:
        path.write_text(json.dumps(manifest))
        with pytest.raises(TamperedArtifact, match="content hash"):
            load_version(saved)
    finally:
        path.write_bytes(original)


def test_an_extra_or_missing_file_is_refused(saved):
    extra = saved / "notes.txt"
    extra.write_text("hello")
    try:
        with pytest.raises(TamperedArtifact, match="not in the manifest"):
            load_version(saved)
    finally:
        extra.unlink()
    card = saved / "model_card.md"
    original = card.read_bytes()
    card.unlink()
    try:
        with pytest.raises(TamperedArtifact, match="missing"):
            load_version(saved)
    finally:
        card.write_bytes(original)


def test_a_version_is_never_written_over_another(saved):
    with pytest.raises(InvalidInput, match="not empty"):
        save_version(version(), saved)


def test_a_directory_without_a_manifest_is_not_a_version(tmp_path):
    with pytest.raises(InvalidInput, match="not a model version"):
        load_version(tmp_path)
