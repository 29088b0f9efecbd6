import pytest
from pydantic import ValidationError

from risk_engine.settings import Settings


def test_defaults_match_the_contract(monkeypatch):
    for k in ("RISK_DATABASE_URL", "RISK_ENV", "RISK_KEYS_DIR"):
        monkeypatch.delenv(k, raising=False)
    s = Settings()
    assert s.database_url == "sqlite:///./var/risk.db"
    assert str(s.keys_dir) == "var/keys"
    assert s.env == "local"


def test_production_refuses_sqlite(monkeypatch, tmp_path):
    monkeypatch.setenv("RISK_ENV", "production")
    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("RISK_DATABASE_URL", "sqlite:///./var/prod.db")
    with pytest.raises(ValidationError, match="refuses SQLite"):
        Settings()


def test_production_refuses_missing_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("RISK_ENV", "production")
    monkeypatch.delenv("RISK_KEYS_DIR", raising=False)
    monkeypatch.setenv("RISK_DATABASE_URL", "postgresql+psycopg://u@db/risk")
    with pytest.raises(ValidationError, match="RISK_KEYS_DIR"):
        Settings()


def test_production_accepts_postgres_and_a_keys_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RISK_ENV", "production")
    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path))
    monkeypatch.setenv("RISK_DATABASE_URL", "postgresql+psycopg://u@db/risk")
    assert Settings().env == "production"
