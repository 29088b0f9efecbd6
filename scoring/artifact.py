"""A trained model version on disk: every part in its own file, every file hashed, the whole
manifest hashed, and loading refuses anything that does not match.

Layout of a version directory::

    booster.ubj          the XGBoost booster (UBJSON, exact floats)
    preprocessing.json   the fitted TabularEncoder
    calibration.json     the chosen calibrator and the Brier of each candidate
    model.json           PDModel parameters, trees kept, monotone constraints, validation data used
    master_scale.json    rating grades (PD bands) and score scaling
    features.json        source columns, encoded features (source, category, constraint), dropped columns
    metrics.json         performance figures (cross-validation, validation, grade table, importances)
    training_data.json   what the model was trained on, with its SHA-256 fingerprint
    model_card.md        the human summary
    manifest.json        {format, version, created_at, files: {name: sha256}, content_hash}

``content_hash`` is the SHA-256 of the manifest's other fields in canonical JSON (sorted keys, no
spaces, UTF-8); it identifies the version (``ModelVersion.model_id``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from risk_engine.errors import InvalidInput
from scoring.master_scale import MasterScale, ScoreScaling
from scoring.model import PDModel
from scoring.rating import Rating, rate

FORMAT = "risk-engine-model/1"
MANIFEST = "manifest.json"
PARTS = (
    "booster.ubj",
    "preprocessing.json",
    "calibration.json",
    "model.json",
    "master_scale.json",
    "features.json",
    "metrics.json",
    "training_data.json",
    "model_card.md",
)


class TamperedArtifact(InvalidInput):
    """A model directory whose files or manifest do not match their recorded hashes."""

    title = "Model artifact failed verification"
    default_code = "artifact_tampered"


@dataclass
class ModelVersion:
    model: PDModel
    master_scale: MasterScale = field(default_factory=MasterScale)
    score_scaling: ScoreScaling = field(default_factory=ScoreScaling)
    metrics: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    manifest: dict[str, Any] | None = None  # set by save_version / load_version

    @property
    def model_id(self) -> str | None:
        return self.manifest["content_hash"] if self.manifest else None

    def rate(
        self, record: Mapping[str, Any], *, catalog: Mapping[str, Any] | None = None, top_n: int = 4
    ) -> Rating:
        return rate(self.model, self.master_scale, self.score_scaling, record, catalog=catalog, top_n=top_n)


# -- hashing --------------------------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def fingerprint_frame(X: pd.DataFrame, y=None) -> str:
    """SHA-256 of a frame (and labels) as canonical CSV: same data, same fingerprint."""
    frame = X.copy()
    if y is not None:
        frame["\x00target"] = np.asarray(y)
    text = frame.to_csv(index=False, lineterminator="\n", na_rep="")
    return sha256_bytes(text.encode("utf-8"))


def _content_hash(manifest: Mapping[str, Any]) -> str:
    return sha256_bytes(canonical_json({k: v for k, v in manifest.items() if k != "content_hash"}))


# -- saving ---------------------------------------------------------------------------------------
def save_version(
    version: ModelVersion, directory: str | Path, *, created_at: dt.datetime | None = None
) -> dict:
    """Write ``version`` into ``directory`` (new or empty) and return its manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(
            f"{directory} is not empty; a model version is never overwritten",
            field="out",
            code="artifact_exists",
        )
    directory.mkdir(parents=True, exist_ok=True)
    booster_raw, state = version.model.to_parts()
    model = version.model
    features = {
        "source_columns": model.feature_names_in_,
        "encoded": [
            {
                "name": name,
                **model.encoder_.feature_map_[name],
                "monotone": model.monotone_constraints_.get(name, 0),
            }
            for name in model.encoder_.feature_names_
        ],
        "dropped": model.encoder_.dropped_,
    }
    contents: dict[str, bytes] = {
        "booster.ubj": booster_raw,
        "preprocessing.json": _pretty(state["encoder"]),
        "calibration.json": _pretty(
            {"calibrator": state["calibration"], "briers": state["calibration_briers"]}
        ),
        "model.json": _pretty(
            {k: v for k, v in state.items() if k not in ("encoder", "calibration", "calibration_briers")}
        ),
        "master_scale.json": _pretty(
            {
                **version.master_scale.to_dict(),
                "score_scaling": {
                    "points": version.score_scaling.points,
                    "odds": version.score_scaling.odds,
                    "pdo": version.score_scaling.pdo,
                },
            }
        ),
        "features.json": _pretty(features),
        "metrics.json": _pretty(version.metrics),
        "training_data.json": _pretty(version.training_data),
        "model_card.md": model_card(version).encode("utf-8"),
    }
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    manifest = {
        "format": FORMAT,
        "version": version.version,
        "created_at": (created_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": {name: sha256_bytes(data) for name, data in sorted(contents.items())},
    }
    manifest["content_hash"] = _content_hash(manifest)
    (directory / MANIFEST).write_bytes(_pretty(manifest))
    version.manifest = manifest
    return manifest


# -- loading --------------------------------------------------------------------------------------
def verify_version(directory: str | Path) -> dict[str, Any]:
    """Check the manifest's own hash and every file's hash; return the manifest or raise
    ``TamperedArtifact`` naming what does not match."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise InvalidInput(
            f"{directory} holds no {MANIFEST}: not a model version", field="model", code="artifact_missing"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TamperedArtifact(f"{MANIFEST} is not valid JSON", field=MANIFEST) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TamperedArtifact(f"{MANIFEST} is not a {FORMAT} manifest", field=MANIFEST)
    if manifest.get("content_hash") != _content_hash(manifest):
        raise TamperedArtifact(f"{MANIFEST} was changed: its content hash does not match", field=MANIFEST)
    files = manifest.get("files", {})
    if set(files) != set(PARTS):
        raise TamperedArtifact(f"{MANIFEST} lists {sorted(files)}, expected {sorted(PARTS)}", field=MANIFEST)
    unexpected = sorted(p.name for p in directory.iterdir() if p.name not in files and p.name != MANIFEST)
    if unexpected:
        raise TamperedArtifact(f"files not in the manifest: {unexpected}", field=unexpected[0])
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise TamperedArtifact(f"{name} is missing", field=name)
        if sha256_bytes(path.read_bytes()) != expected:
            raise TamperedArtifact(f"{name} was changed: its SHA-256 does not match the manifest", field=name)
    return manifest


def load_version(directory: str | Path) -> ModelVersion:
    """Verify, then load a model version; a changed artifact is refused with ``TamperedArtifact``."""
    directory = Path(directory)
    manifest = verify_version(directory)
    read = lambda name: json.loads((directory / name).read_bytes())  # noqa: E731
    model_state = read("model.json")
    calibration = read("calibration.json")
    state = {
        **model_state,
        "encoder": read("preprocessing.json"),
        "calibration": calibration["calibrator"],
        "calibration_briers": calibration["briers"],
    }
    model = PDModel.from_parts((directory / "booster.ubj").read_bytes(), state)
    scale_data = read("master_scale.json")
    return ModelVersion(
        model=model,
        master_scale=MasterScale.from_dict(scale_data),
        score_scaling=ScoreScaling(**scale_data["score_scaling"]),
        metrics=read("metrics.json"),
        training_data=read("training_data.json"),
        version=manifest.get("version", ""),
        manifest=manifest,
    )


# -- the model card -------------------------------------------------------------------------------
def model_card(version: ModelVersion) -> str:
    model, metrics, data = version.model, version.metrics, version.training_data
    scaling = version.score_scaling
    lines = [
        f"# Model card: {version.version or 'unnamed version'}",
        "",
        "Probability-of-default model: XGBoost (binary:logistic, hist) with monotone constraints, "
        "calibrated, explained by exact TreeSHAP in log-odds (base + Σ contributions = margin).",
        "",
        "## Training data",
        "",
    ]
    for key, value in data.items():  # the scalar facts; lists and tables stay in training_data.json
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            shown = f"{value:.2%}" if key.endswith("rate") and isinstance(value, float) else value
            lines.append(f"- {key.replace('_', ' ')}: `{shown}`")
    if model.encoder_.dropped_:
        lines.append(
            "- dropped columns: " + ", ".join(f"`{c}` ({why})" for c, why in model.encoder_.dropped_.items())
        )
    lines += [
        "",
        "## Model",
        "",
        f"- trees kept: {model.best_iteration_ + 1} of at most {model.n_estimators} (early stopping on "
        f"{model.validation_['rows']} validation rows, {model.validation_['source']})",
        f"- depth {model.max_depth}, learning rate {model.learning_rate}, "
        f"{len(model.feature_names_in_)} source columns → {model.encoder_.n_features_} encoded features",
    ]
    constrained = {k: v for k, v in model.monotone_constraints_.items() if v}
    if constrained:
        lines.append("- monotone constraints: " + ", ".join(f"`{k}` {v:+d}" for k, v in constrained.items()))
    lines += ["", "## Performance", ""]
    for section, figures in metrics.items():  # every block of figures that has an AUC
        if isinstance(figures, Mapping) and "auc" in figures:
            shown = {k: v for k, v in figures.items() if isinstance(v, int | float)}
            lines.append(
                f"- {section.replace('_', ' ')}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items())
            )
    briers = model.calibration_briers_
    lines += [
        "",
        "## Calibration",
        "",
        f"Chosen: **{model.calibration_}** (cross-fitted Brier on validation data).",
        "",
        "| candidate | Brier |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in briers.items()]
    lines += [
        "",
        "## Master scale",
        "",
        f"Score = {scaling.offset:.4f} + {scaling.factor:.4f} · ln(good:bad odds) "
        f"({scaling.points:g} points at {scaling.odds:g}:1, {scaling.pdo:g} points to double the odds).",
        "",
        "| grade | PD from | PD to | count | expected DR | observed DR |",
        "|---|---|---|---|---|---|",
    ]
    rows = metrics.get("grade_table") or metrics.get("default_rate_by_grade") or []
    table = {row["grade"]: row for row in rows}
    for grade in version.master_scale.grades:
        row = table.get(grade.name, {})
        lines.append(
            f"| {grade.name} | {grade.pd_min:.2%} | {grade.pd_max:.2%} | {row.get('count', '')} | "
            f"{_pct(row.get('expected_default_rate'))} | {_pct(row.get('observed_default_rate'))} |"
        )
    importance = metrics.get("global_importance", {})
    if importance:
        lines += [
            "",
            "## Top global importances (mean |contribution|, log-odds)",
            "",
            "| column | importance |",
            "|---|---|",
        ]
        lines += [f"| {_cell(name)} | {value:.4f} |" for name, value in list(importance.items())[:15]]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Column names may hold anything; keep a Markdown table row intact."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("n/a" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2%}"


def _pretty(value: Any) -> bytes:
    return (
        json.dumps(_plain(value), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode()


def _plain(value: Any) -> Any:
    """JSON-safe: numpy to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
