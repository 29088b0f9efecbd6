import json
import re

from typer.testing import CliRunner

from risk_engine import cli
from risk_engine.db import Database

runner = CliRunner()


def use_database(monkeypatch, url):
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_DATABASE_URL", url)
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", None)


def test_db_upgrade_clients_create_and_audit_verify(tmp_path, monkeypatch):
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'cli.db'}")
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(cli.app, ["clients", "create", "--name", "ops", "--role", "admin"])
    assert r.exit_code == 0, r.output
    key = json.loads(r.stdout.splitlines()[0])["key"]
    assert key.startswith("rk_")
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 0 and json.loads(r.stdout)["entries"] == 1


def test_clients_create_refuses_an_unknown_role(tmp_path, monkeypatch):
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'cli.db'}")
    runner.invoke(cli.app, ["db", "upgrade"])
    r = runner.invoke(cli.app, ["clients", "create", "--name", "x", "--role", "superuser"])
    assert r.exit_code == 1
    assert "role" in r.output


def test_audit_verify_names_the_first_bad_entry(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    use_database(monkeypatch, url)
    runner.invoke(cli.app, ["db", "upgrade"])
    for i in range(3):
        runner.invoke(cli.app, ["clients", "create", "--name", f"c{i}", "--role", "platform"])
    db = Database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2")
    db.dispose()
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 1
    assert json.loads(r.stdout.splitlines()[0])["first_bad_entry"] == 2


def test_demo_seed_prints_keys_and_reprints_them_on_a_seeded_database(tmp_path, monkeypatch):
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    runner.invoke(cli.app, ["db", "upgrade"])
    small = ["--dealers", "25", "--months", "14"]
    first = runner.invoke(cli.app, ["demo", "seed", "--if-empty", *small])
    assert first.exit_code == 0, first.output
    assert "risk_officer" in first.stdout and "rk_" in first.stdout
    assert re.search(r"\] \d+ dealers, \d+ suppliers, \d+ trade events", first.stderr)
    assert re.search(r"\] order loans: \d+ applications", first.stderr)
    assert "job early_warning_daily" in first.stderr
    again = runner.invoke(cli.app, ["demo", "seed", "--if-empty", *small])
    assert again.stdout == first.stdout
    assert "dealers, " not in again.stderr  # the platform is already there
