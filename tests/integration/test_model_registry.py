"""Training from point-in-time snapshots, the registry's champion / challenger, and the scorer."""
import json
import math

import pytest
from sqlalchemy import select

from compliance import audit
from risk_engine.demo.synthetic import generate_platform
from scoring import registry
from scoring.artifact import TamperedArtifact
from scoring.features import compute_features
from scoring.training import train_dealer_model


@pytest.fixture(scope="module")
def platform():
    return generate_platform(n_dealers=600, months=24, seed=7)


@pytest.fixture(scope="module")
def trained(platform):
    frames = platform.trade_frames()
    return (train_dealer_model(frames, version="pd-test-1", seed=1),
            train_dealer_model(frames, version="pd-test-2", seed=2, model_params={"max_depth": 3}))


def test_training_is_validated_out_of_time_with_the_issue_metrics(trained):
    metrics = trained[0].metrics
    oot = metrics["out_of_time"]
    assert oot["auc"] > 0.6 and oot["gini"] == pytest.approx(2 * oot["auc"] - 1)
    assert {"ks", "brier"} <= set(oot)
    assert metrics["calibration"]["method"] in ("isotonic", "platt")
    assert len(metrics["default_rate_by_grade"]) >= 8
    data = trained[0].training_data
    assert set(data["out_of_time_dates"]) < set(data["as_of_dates"])
    assert max(data["as_of_dates"]) in data["out_of_time_dates"]


def test_champion_scores_live_and_challenger_in_shadow(db, tmp_path, trained, platform):
    champion, challenger = trained
    with db.unit_of_work() as s:
        registry.register(s, champion, tmp_path, actor="admin:test", status="champion")
        registry.register(s, challenger, tmp_path, actor="admin:test", status="challenger")
    scorer = registry.RegistryScorer(db, tmp_path)
    frames = platform.trade_frames()
    features = compute_features(frames, frames.observed_until).iloc[0].to_dict()
    score = scorer.score(features, {})
    assert score.model_version == "pd-test-1"
    assert 0 < score.pd < 1 and score.grade
    assert math.isclose(score.margin, score.extra["margin"], abs_tol=1e-6)
    assert score.extra["shadow"]["model_version"] == "pd-test-2"
    with db.session() as s:
        actions = [e.action for e in audit.iter_chain(s)]
    assert actions.count("model.champion") == 1 and actions.count("model.challenger") == 1


def test_promoting_a_new_champion_retires_the_old_one(db, tmp_path, trained):
    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
        registry.register(s, trained[1], tmp_path, actor="admin:test")
    with db.unit_of_work() as s:
        registry.set_status(s, "pd-test-2", "champion", actor="admin:test")
    with db.session() as s:
        statuses = dict(s.execute(select(registry.ModelRecord.version, registry.ModelRecord.status)).all())
    assert statuses == {"pd-test-1": "retired", "pd-test-2": "champion"}


def test_a_changed_artifact_refuses_to_load(db, tmp_path, trained):
    with db.unit_of_work() as s:
        record = registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
    metrics = tmp_path / record.path / "metrics.json"
    metrics.write_text(json.dumps({"auc": 0.99}))
    with pytest.raises(TamperedArtifact):
        registry.RegistryScorer(db, tmp_path).score({}, {})


def test_without_a_champion_scoring_is_unavailable(db, tmp_path):
    with pytest.raises(registry.ModelUnavailable):
        registry.RegistryScorer(db, tmp_path).score({}, {})


def test_models_api_lists_and_promotes(client, db, tmp_path, trained, settings):
    from tests.factories import auth, make_api_key

    client.app.state.scorer.models_dir = tmp_path
    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test")
    admin = auth(make_api_key(db, "admin"))
    listed = client.get("/v1/models", headers=admin).json()
    assert [m["version"] for m in listed] == ["pd-test-1"]
    r = client.post("/v1/models/pd-test-1/status", headers=admin, json={"status": "champion"})
    assert r.status_code == 200 and r.json()["status"] == "champion"
    assert "out of time: auc" in client.get("/v1/models/pd-test-1", headers=admin).json()["card_markdown"]
    officer = auth(make_api_key(db, "risk_officer"))
    assert client.post("/v1/models/pd-test-1/status", headers=officer, json={"status": "retired"}).status_code == 403


def test_the_scorer_reads_the_registry_while_a_decision_holds_the_write_lock(db, tmp_path, trained):
    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
    scorer = registry.RegistryScorer(db, tmp_path)
    with db.unit_of_work() as s:  # a decision's transaction, already writing
        audit.record(s, actor="test", action="decision.started", subject_type="x", subject_id="1")
        assert scorer.score({}, {}).model_version == "pd-test-1"
        assert scorer.score({}, {}, session=s).model_version == "pd-test-1"  # in the decision's own
    with db.unit_of_work() as s:
        registry.register(s, trained[1], tmp_path, actor="admin:test", status="champion")
    with db.unit_of_work() as s:  # the promotion holds at once, read either way
        assert scorer.score({}, {}, session=s).model_version == scorer.score({}, {}).model_version == "pd-test-2"


def test_monitoring_reports_psi_of_recent_decisions_against_training(db, tmp_path, trained, platform):
    from datetime import UTC, datetime

    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.decisions.service import decide_credit_limit
    from risk_engine.rules import service as rules_service
    from scoring.monitoring import monitoring_report
    from tests.decision_support import DictFeatureSource
    from tests.factories import make_bank, make_dealer

    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
        rules_service.seed_default_ruleset(s)
    frames = platform.trade_frames()
    vectors = compute_features(frames, frames.observed_until).head(8)
    bank = make_bank(db)
    scorer = registry.RegistryScorer(db, tmp_path)
    source = DictFeatureSource()
    for _, row in vectors.iterrows():
        dealer = make_dealer(db)
        source.by_dealer[dealer.id] = row.to_dict()
        with db.unit_of_work() as s:
            decide_credit_limit(s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=scorer,
                                features=source, actor="platform:test")
    with db.session() as s:
        report = monitoring_report(s, tmp_path, now=datetime.now(UTC))
    assert report["decisions"] == 8
    assert report["psi_score"]["level"] in ("stable", "investigate", "significant")
    assert "purchase_amount_3m" in report["psi_features"]
    assert report["matured"]["decisions"] == 0


def test_challenger_scores_in_shadow_and_is_compared_with_the_champion(db, tmp_path, trained, platform):
    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.decisions.service import decide_credit_limit
    from risk_engine.rules import service as rules_service
    from scoring.monitoring import challenger_comparison
    from tests.decision_support import DictFeatureSource
    from tests.factories import make_bank, make_dealer

    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
        registry.register(s, trained[1], tmp_path, actor="admin:test", status="challenger")
        rules_service.seed_default_ruleset(s)
    frames = platform.trade_frames()
    vectors = compute_features(frames, frames.observed_until).head(6)
    bank, source = make_bank(db), DictFeatureSource()
    scorer = registry.RegistryScorer(db, tmp_path)
    for _, row in vectors.iterrows():
        dealer = make_dealer(db)
        source.by_dealer[dealer.id] = row.to_dict()
        with db.unit_of_work() as s:
            decide_credit_limit(s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=scorer,
                                features=source, actor="platform:test")
    with db.session() as s:
        report = challenger_comparison(s)
    [pair] = report["comparisons"]
    assert (pair["champion"], pair["challenger"], pair["decisions"]) == ("pd-test-1", "pd-test-2", 6)
    assert 0 <= pair["grade_agreement"] <= 1 and pair["mean_abs_pd_difference"] >= 0
