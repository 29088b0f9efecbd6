import json
import re
import secrets

import pytest
from sqlalchemy import create_engine, text
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


def test_clients_list_and_revoke_a_leavers_key_which_then_answers_401(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from compliance.models import AuditEntry
    from risk_engine.settings import Settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    use_database(monkeypatch, url)
    runner.invoke(cli.app, ["db", "upgrade"])
    made = [json.loads(runner.invoke(cli.app, ["clients", "create", "--name", f"officer {i}", "--role",
                                               "risk_officer"]).stdout) for i in range(2)]
    listed = [json.loads(line) for line in runner.invoke(cli.app, ["clients", "list"]).stdout.splitlines()]
    assert [c["client_id"] for c in listed] == [m["client_id"] for m in made]
    assert all("key" not in c and c["key_prefix"] == m["key"][:10] for c, m in zip(listed, made, strict=True))
    app = create_app(Settings(env="test", database_url=url, keys_dir=tmp_path / "keys", api_key_cache_seconds=0),
                     Database(url))
    with TestClient(app) as http:
        headers = {"Authorization": f"Bearer {made[0]['key']}"}
        assert http.get("/v1/clients/me", headers=headers).status_code == 200
        r = runner.invoke(cli.app, ["clients", "revoke", made[0]["client_id"], "--reason", "left the bank"])
        assert r.exit_code == 0, r.output and json.loads(r.stdout)["revoked_at"]
        assert http.get("/v1/clients/me", headers=headers).status_code == 401
    again = runner.invoke(cli.app, ["clients", "revoke", made[0]["client_id"], "--reason", "twice"])
    assert again.exit_code == 1 and "revoked already" in again.output
    assert runner.invoke(cli.app, ["clients", "revoke", "cli_nope", "--reason", "x"]).exit_code == 1
    active = runner.invoke(cli.app, ["clients", "list"]).stdout.splitlines()
    assert [json.loads(line)["client_id"] for line in active] == [made[1]["client_id"]]
    assert len(runner.invoke(cli.app, ["clients", "list", "--all"]).stdout.splitlines()) == 2
    with Database(url).session() as s:
        (entry,) = s.query(AuditEntry).filter(AuditEntry.action == "client.revoked").all()
        assert json.loads(entry.payload)["reason"] == "left the bank" and entry.actor.startswith("operator:")


def test_a_refusal_no_command_words_itself_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'cli.db'}")
    runner.invoke(cli.app, ["db", "upgrade"])
    r = runner.invoke(cli.app, ["model", "card", "pd-does-not-exist"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().splitlines() == ["error: no model version pd-does-not-exist"]


def test_a_revoked_signing_key_leaves_its_checkpoints_untrusted_and_the_trail_still_verifies(tmp_path, monkeypatch):
    from compliance.checkpoints import checkpoint_now
    from compliance.keys import FileKeyProvider

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    use_database(monkeypatch, url)
    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path / "keys"))
    from risk_engine.settings import get_settings

    get_settings.cache_clear()
    runner.invoke(cli.app, ["db", "upgrade"])
    runner.invoke(cli.app, ["clients", "create", "--name", "ops", "--role", "admin"])
    keys = FileKeyProvider(tmp_path / "keys")
    old_checkpoint = checkpoint_now(Database(url), keys).tree_size
    compromised = keys.current_signing_kid()
    r = runner.invoke(cli.app, ["keys", "revoke-signing", compromised, "--reason", "key file leaked"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.splitlines()[0])
    assert out["revoked"] == compromised and out["signing_kid"] != compromised and out["checkpoint"] > 1
    verified = runner.invoke(cli.app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout.splitlines()[0])
    assert report["untrusted_checkpoints"] == [old_checkpoint] and report["checkpoints"] == 1
    assert runner.invoke(cli.app, ["keys", "revoke-signing", "nope", "--reason", "x"]).exit_code == 1
    get_settings.cache_clear()


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_database(request, tmp_path, monkeypatch):
    """The command line pointed at an empty database (SQLite file, or a fresh PostgreSQL schema)."""
    from risk_engine import db as dbmod

    if request.param == "sqlite":
        use_database(monkeypatch, f"sqlite:///{tmp_path / 'empty.db'}")
        yield
        return
    from tests.conftest import _require_pg

    url = _require_pg()
    schema = f"cli_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    use_database(monkeypatch, f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        yield
    finally:
        if dbmod._database is not None:
            dbmod._database.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def one_line_error(result) -> str:
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_demo_seed_on_an_unmigrated_database_says_to_run_db_upgrade_first(unmigrated_database, tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["demo", "seed", "--dealers", "5", "--months", "13"])
    assert r.exit_code == 2
    line = one_line_error(r)
    assert "not migrated" in line and "bank" in line and "run `risk-engine db upgrade` first" in line


def test_a_job_run_on_an_unmigrated_database_says_to_run_db_upgrade_first(unmigrated_database):
    r = runner.invoke(cli.app, ["jobs", "run", "early_warning_daily"])
    assert r.exit_code == 2
    assert "run `risk-engine db upgrade` first" in one_line_error(r)


def test_after_db_upgrade_the_same_database_serves_commands(unmigrated_database):
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(cli.app, ["clients", "create", "--name", "ops", "--role", "admin"])
    assert r.exit_code == 0, r.output


def environment(monkeypatch, tmp_path, **env):
    """Only these RISK_ variables (besides the test runner's), read afresh by the next command."""
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.chdir(tmp_path)
    for name in ("RISK_ENV", "RISK_DATABASE_URL", "RISK_KEYS_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", None)


EVERY_COMMAND_READING_SETTINGS = [
    ["db", "upgrade"], ["demo", "seed"], ["clients", "create", "--name", "x", "--role", "admin"],
    ["audit", "verify"], ["keys", "status"], ["keys", "rotate", "--signing"], ["jobs", "runs"],
    ["jobs", "run", "early_warning_daily"], ["scheduler"], ["serve"],
]


@pytest.mark.parametrize("command", EVERY_COMMAND_READING_SETTINGS, ids=" ".join)
def test_production_settings_refusing_sqlite_are_one_line_and_exit_2(command, tmp_path, monkeypatch):
    environment(monkeypatch, tmp_path, RISK_ENV="production")
    r = runner.invoke(cli.app, command)
    assert r.exit_code == 2, r.output
    assert one_line_error(r) == ("error: settings refused: RISK_ENV=production refuses SQLite: set "
                                 "RISK_DATABASE_URL to PostgreSQL")


@pytest.mark.parametrize("command", [["keys", "status"], ["db", "upgrade"]], ids=" ".join)
def test_production_settings_without_a_keys_directory_name_the_variable(command, tmp_path, monkeypatch):
    environment(monkeypatch, tmp_path, RISK_ENV="production",
                RISK_DATABASE_URL="postgresql+psycopg://risk@db.internal/risk", RISK_KEYS_DIR=str(tmp_path / "missing"))
    r = runner.invoke(cli.app, command)
    assert r.exit_code == 2
    assert "RISK_KEYS_DIR set to an existing directory" in one_line_error(r)


def test_a_settings_value_out_of_range_names_its_variable(tmp_path, monkeypatch):
    environment(monkeypatch, tmp_path, RISK_MAX_BODY_BYTES="12")
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 2
    assert one_line_error(r) == ("error: settings refused: RISK_MAX_BODY_BYTES: Input should be greater than "
                                 "or equal to 1024")


def test_clients_create_warns_to_store_the_key_and_revoke_does_not(tmp_path, monkeypatch):
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'cli.db'}")
    runner.invoke(cli.app, ["db", "upgrade"])
    made = runner.invoke(cli.app, ["clients", "create", "--name", "ops", "--role", "admin"])
    assert made.exit_code == 0 and "store this key now" in made.stderr
    client_id = json.loads(made.stdout)["client_id"]
    revoked = runner.invoke(cli.app, ["clients", "revoke", client_id, "--reason", "leaked in a ticket"])
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert "store this key" not in revoked.stderr  # a revoked key has nothing to store


def test_data_load_exits_1_when_it_rejected_rows_and_still_loads_the_good_ones(tmp_path, monkeypatch):
    from sqlalchemy import func, select

    from risk_engine.trade.models import TradeEvent
    from tests.factories import make_dealer, make_supplier

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    use_database(monkeypatch, url)
    runner.invoke(cli.app, ["db", "upgrade"])
    db = Database(url)
    dealer, supplier = make_dealer(db, external_id="D-1"), make_supplier(db, external_id="S-1")
    orders = tmp_path / "orders.csv"
    orders.write_text("external_id,dealer,supplier,amount,placed_at\n"
                      f"O-1,{dealer.external_id},{supplier.external_id},100.00,2026-01-02T00:00:00Z\n"
                      f"O-2,{dealer.external_id},{supplier.external_id},not-money,2026-01-02T00:00:00Z\n")
    report = tmp_path / "rejected.csv"
    r = runner.invoke(cli.app, ["data", "load", str(orders), "--report", str(report)])
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout.splitlines()[0])["rejected"] == 1 and "O-2" in report.read_text()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TradeEvent)) == 1
    clean = tmp_path / "more_orders.csv"
    clean.write_text("type,external_id,dealer,supplier,amount,placed_at\n"
                     f"order,O-3,{dealer.external_id},{supplier.external_id},5.00,2026-01-03T00:00:00Z\n")
    assert runner.invoke(cli.app, ["data", "load", str(clean), "--report", str(report)]).exit_code == 0
