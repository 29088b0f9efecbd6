"""With RISK_ENV=production no key is made on first use: an empty or wrong RISK_KEYS_DIR is an error, not a
new signing identity and a new data key; `risk-engine keys init` makes them once."""

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from compliance.keys import (
    BLIND_INDEX_KEY_FILE,
    DATA_KEYS_FILE,
    SIGNING_KEYS_FILE,
    FileKeyProvider,
    KeysMissing,
    key_provider_for,
)
from risk_engine.settings import Settings


def production(tmp_path):
    # the two settings that decide (a whole production Settings also wants RISK_KEYS_DIR from the environment)
    return SimpleNamespace(env="production", keys_dir=tmp_path)


def test_production_keys_are_never_made_on_first_use(tmp_path):
    keys = key_provider_for(production(tmp_path))
    for use in (keys.current_signing_kid, keys.current_data_key, keys.blind_index_key, keys.public_jwks):
        with pytest.raises(KeysMissing) as missing:
            use()
        assert missing.value.status == 503 and "keys init" in missing.value.detail
    assert list(tmp_path.iterdir()) == []


def test_init_makes_every_key_once_and_then_production_uses_them(tmp_path):
    keys = key_provider_for(production(tmp_path))
    assert keys.init() == [SIGNING_KEYS_FILE, DATA_KEYS_FILE, BLIND_INDEX_KEY_FILE]
    kid = keys.current_signing_kid()
    assert keys.init() == [] and keys.current_signing_kid() == kid  # kept, never replaced
    assert key_provider_for(production(tmp_path)).current_data_key().kid == keys.current_data_key().kid


def test_elsewhere_keys_are_still_made_on_first_use(tmp_path):
    assert key_provider_for(Settings(env="local", keys_dir=tmp_path)).current_signing_kid()
    assert FileKeyProvider(tmp_path / "other").blind_index_key()


def test_the_keys_init_command(tmp_path, monkeypatch):
    from risk_engine import cli
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path / "keys"))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli.app, ["keys", "init"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["made"] == [SIGNING_KEYS_FILE, DATA_KEYS_FILE, BLIND_INDEX_KEY_FILE] and out["signing_kid"]
