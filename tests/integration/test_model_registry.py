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
        registry.load_verified(record, tmp_path)
    # for a caller of the API it is the service that cannot score now (503), not a bad request
    with pytest.raises(registry.ModelUnavailable) as unavailable:
        registry.RegistryScorer(db, tmp_path).score({}, {})
    assert unavailable.value.status == 503 and unavailable.value.extra["reason"] == "artifact_tampered"


def test_a_champion_whose_files_are_gone_answers_503_without_the_servers_paths(client, db, tmp_path, trained):
    import shutil

    from tests.factories import auth, make_api_key, make_bank, make_dealer

    models_dir = client.app.state.scorer.models_dir
    with db.unit_of_work() as s:
        record = registry.register(s, trained[0], models_dir, actor="admin:test", status="champion")
    shutil.rmtree(models_dir / record.path)
    bank, dealer = make_bank(db), make_dealer(db)
    r = client.post("/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id},
                    headers=auth(make_api_key(db, "platform")) | {"Idempotency-Key": "no-files"})
    assert r.status_code == 503 and r.json()["code"] == "model_unavailable", r.text
    assert str(models_dir) not in r.text and r.json()["reason"] == "artifact_missing"


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


def _matured_decisions(db, tmp_path, trained, platform, *, bills_recorded_after_days: int):
    """Three credit-limit decisions made now; the first dealer never pays a bill due ten days later,
    the others pay it on the day. The bills are recorded ``bills_recorded_after_days`` after the decision."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.decisions.service import decide_credit_limit
    from risk_engine.rules import service as rules_service
    from risk_engine.trade.models import Order, PaymentDue
    from tests.decision_support import DictFeatureSource
    from tests.factories import make_bank, make_dealer, make_supplier

    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
        rules_service.seed_default_ruleset(s)
    frames = platform.trade_frames()
    vectors = compute_features(frames, frames.observed_until).head(3)
    bank, supplier, source = make_bank(db), make_supplier(db), DictFeatureSource()
    scorer = registry.RegistryScorer(db, tmp_path)
    dealers = []
    for _, row in vectors.iterrows():
        dealer = make_dealer(db)
        dealers.append(dealer)
        source.by_dealer[dealer.id] = row.to_dict()
        with db.unit_of_work() as s:
            decide_credit_limit(s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=scorer,
                                features=source, actor="platform:test")
    decided = datetime.now(UTC)
    due = (decided + timedelta(days=10)).date()
    with db.unit_of_work() as s:
        for i, dealer in enumerate(dealers):
            s.add(Order(id=f"ord_mat_{i}", external_id=f"o-mat-{i}", dealer_id=dealer.id, supplier_id=supplier.id,
                        amount=Decimal("1000.00"), status="delivered", placed_at=decided, recorded_at=decided))
            s.flush()
            s.add(PaymentDue(id=f"due_mat_{i}", external_id=f"b-mat-{i}", order_id=f"ord_mat_{i}",
                             dealer_id=dealer.id, amount=Decimal("1000.00"), due_on=due,
                             paid_amount=Decimal("0"), paid_on=None if i == 0 else due,
                             recorded_at=decided + timedelta(days=bills_recorded_after_days)))
    return decided


def test_matured_performance_counts_a_dealer_who_defaulted_within_twelve_months_of_the_decision(
    db, tmp_path, trained, platform
):
    from datetime import timedelta

    from scoring.monitoring import matured_performance

    decided = _matured_decisions(db, tmp_path, trained, platform, bills_recorded_after_days=200)
    with db.session() as s:
        matured = matured_performance(s, "pd-test-1", now=decided + timedelta(days=400))
    assert matured["decisions"] == 3
    assert matured["observed_default_rate"] == pytest.approx(1 / 3)
    assert {"auc", "ks", "brier"} <= set(matured)


def test_matured_performance_counts_defaults_up_to_now_even_when_nothing_was_recorded_since(
    db, tmp_path, trained, platform
):
    """The outcome window is judged as of ``now``: a bill 90 days unpaid by now is a default, even if the
    last event the platform sent about these dealers is months old (defaulters stop trading)."""
    from datetime import timedelta

    from scoring.monitoring import matured_performance

    decided = _matured_decisions(db, tmp_path, trained, platform, bills_recorded_after_days=0)
    with db.session() as s:
        matured = matured_performance(s, "pd-test-1", now=decided + timedelta(days=400))
    assert matured["observed_default_rate"] == pytest.approx(1 / 3)


def test_grade_agreement_compares_the_champion_model_grade_not_the_grade_after_overlays(
    db, tmp_path, trained, platform
):
    import dataclasses

    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.decisions.service import decide_credit_limit
    from risk_engine.rules import service as rules_service
    from scoring.monitoring import challenger_comparison
    from tests.decision_support import DictFeatureSource
    from tests.factories import make_bank, make_dealer

    twin = dataclasses.replace(trained[0], version="pd-test-1-twin", manifest=None)  # the same model
    with db.unit_of_work() as s:
        registry.register(s, trained[0], tmp_path, actor="admin:test", status="champion")
        registry.register(s, twin, tmp_path, actor="admin:test", status="challenger")
        rules_service.seed_default_ruleset(s)
    frames = platform.trade_frames()
    vectors = compute_features(frames, frames.observed_until)
    grades = [trained[0].rate(row.to_dict()).grade for _, row in vectors.iterrows()]
    healthy = vectors[[g not in ("CC", "C", "D") for g in grades]].head(4)
    bank, source = make_bank(db), DictFeatureSource()
    scorer = registry.RegistryScorer(db, tmp_path)
    notched = []
    for _, row in healthy.iterrows():
        dealer = make_dealer(db)
        source.by_dealer[dealer.id] = {**row.to_dict(), "return_rate_6m": 0.3}  # OV_HIGH_RETURN_RATE: notch 1
        with db.unit_of_work() as s:
            decision = decide_credit_limit(s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id),
                                           scorer=scorer, features=source, actor="platform:test")
            notched.append(decision.grade != decision.model_grade)
    assert all(notched)
    with db.session() as s:
        [pair] = challenger_comparison(s)["comparisons"]
    assert pair["mean_abs_pd_difference"] == pytest.approx(0.0, abs=1e-9)
    assert pair["grade_agreement"] == 1.0


def test_a_champion_trained_on_another_feature_catalog_refuses_to_score(db, tmp_path, trained):
    """Snapshots are computed under the engine's current catalog; a model trained when names, units or
    directions were different would read them wrongly (a renamed feature silently missing)."""
    import dataclasses

    from scoring.snapshots import CATALOG_VERSION

    assert trained[0].training_data["catalog_version"] == CATALOG_VERSION
    stale = dataclasses.replace(trained[0], version="pd-old-catalog", manifest=None,
                                training_data={**trained[0].training_data, "catalog_version": "0" * 64})
    with db.unit_of_work() as s:
        registry.register(s, stale, tmp_path, actor="admin:test", status="champion")
    with pytest.raises(registry.ModelUnavailable, match="catalog"):
        registry.RegistryScorer(db, tmp_path).score({}, {})


def test_monitoring_flags_a_feature_that_live_decisions_no_longer_supply(db, tmp_path, trained, platform):
    """Missing values are a PSI bin of their own: a feature suddenly missing in every decision is a
    significant shift, not a feature without a PSI."""
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
    reference = trained[0].training_data["reference"]["on_time_payment_ratio_3m"]
    assert reference["missing_share"] < 0.5
    bank = make_bank(db)
    scorer = registry.RegistryScorer(db, tmp_path)
    source = DictFeatureSource()
    for _, row in vectors.iterrows():
        dealer = make_dealer(db)
        source.by_dealer[dealer.id] = {**row.to_dict(), "on_time_payment_ratio_3m": None}
        with db.unit_of_work() as s:
            decide_credit_limit(s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=scorer,
                                features=source, actor="platform:test")
    with db.session() as s:
        report = monitoring_report(s, tmp_path, now=datetime.now(UTC))
    shifted = report["psi_features"]["on_time_payment_ratio_3m"]
    assert shifted["level"] == "significant"
    assert shifted["missing_share"] == {"reference": reference["missing_share"], "recent": 1.0}
    assert "on_time_payment_ratio_3m" in {entry["feature"] for entry in report["largest_shifts"]}
