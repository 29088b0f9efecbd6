"""The model page: the champion's out-of-time metrics, calibration by grade as a chart, and PSI with the
DOMAIN.md bands — read from the model registry."""

from __future__ import annotations

import json
import re

from scoring.registry import ModelRecord
from tests.factories import make_api_key
from tests.integration.test_console_access import log_in


def grade(name: str, count: int, expected: float | None, observed: float | None, defaults: int) -> dict:
    return {
        "grade": name,
        "count": count,
        "expected_default_rate": expected,
        "observed_default_rate": observed,
        "defaults": defaults,
    }


def performance(auc: float, ks: float, brier: float, rows: int, default_rate: float) -> dict:
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks,
        "brier": brier,
        "rows": rows,
        "default_rate": default_rate,
    }


METRICS = {
    "out_of_time": performance(0.81, 0.47, 0.0412, 5400, 0.05),
    "training": performance(0.84, 0.52, 0.0398, 12000, 0.048),
    "psi_score_train_vs_validation": 0.031,
    "psi_features_train_vs_validation": {"purchase_amount_12m": 0.27, "tenure_months": 0.12, "x": None},
    "default_rate_by_grade": [
        grade("AAA", 0, None, None, 0),
        grade("A", 900, 0.01, 0.012, 11),
        grade("B", 300, 0.08, 0.07, 21),
    ],
    "calibration": {"method": "isotonic", "brier_by_method": {}},
}


def register(db, version: str, status: str) -> None:
    with db.unit_of_work() as s:
        s.add(
            ModelRecord(
                id=f"mdv_{version}",
                version=version,
                content_hash=version.ljust(64, "0"),
                path=version,
                status=status,
                metrics=json.dumps(METRICS),
                training_fingerprint="f",
                card="# card",
                created_by="admin:test",
            )
        )


def test_without_a_model_the_page_says_so(client, db):
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get("/console/model")
    assert page.status_code == 200 and "No model has been trained and promoted yet." in page.text


def test_the_model_page_shows_metrics_calibration_by_grade_and_psi(client, db):
    register(db, "pd-old", "retired")
    register(db, "pd-2026-11", "champion")
    log_in(client, make_api_key(db, "risk_officer"))
    html = re.sub(r"\s+", " ", client.get("/console/model").text)
    assert 'id="champion-version">pd-2026-11<' in html
    assert ">0.810<" in html and ">0.0412<" in html  # out-of-time AUC, Brier
    calibration = html[html.index('id="calibration-h"') : html.index('id="psi-h"')]
    assert "<svg" in calibration and calibration.count("<rect") >= 4  # two grades × predicted/observed
    assert ">AAA<" not in calibration  # empty grades left out
    assert "1.20%" in calibration and "7.00%" in calibration
    psi = html[html.index('id="psi-h"') : html.index('id="versions-h"')]
    assert "0.031" in psi and "stable" in psi
    assert psi.index("purchase_amount_12m") < psi.index("tenure_months")
    assert "significant shift" in psi and "investigate" in psi
    assert "Not enough live decisions yet" in psi
    assert "pd-old" in html
