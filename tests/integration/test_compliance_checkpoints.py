"""Signed checkpoints over the audit trail: proofs a bank can check, and tampering the chain alone misses."""
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from compliance import audit, checkpoints, merkle
from compliance.keys import FileKeyProvider
from compliance.models import AuditCheckpoint, AuditEntry
from risk_engine import cli
from tests.factories import auth, make_api_key

runner = CliRunner()


def append(db, n, start=0):
    with db.unit_of_work() as s:
        for i in range(start, start + n):
            audit.record(s, actor="test", action="thing.changed", subject_type="thing", subject_id=str(i),
                         payload={"i": i, "amount": "10.50"})


def checkpoint(db, keys):
    with db.unit_of_work() as s:
        return checkpoints.checkpoint_view(checkpoints.create_checkpoint(s, keys))


def verify(db, keys):
    with db.session() as s:
        return checkpoints.verify_trail(s, keys.public_jwks())


@pytest.fixture
def admin(db):
    return auth(make_api_key(db, "admin"))


def test_the_jwks_is_public_and_lists_the_signing_key(client):
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    (key,) = r.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key
    assert key["kid"] == client.app.state.keys.current_signing_kid()


def test_an_inclusion_proof_checks_against_the_signed_checkpoint_with_only_the_jwks(client, db, admin):
    append(db, 6)
    created = client.post("/v1/audit/checkpoints", headers=admin)
    assert created.status_code == 201, created.text
    jwks = client.get("/.well-known/jwks.json").json()
    for seq in range(1, created.json()["tree_size"] + 1):
        r = client.get(f"/v1/audit/proofs/{seq}", headers=admin)
        assert r.status_code == 200, r.text
        proof = r.json()
        head = merkle.verify_tree_head(proof["checkpoint"]["jws"], jwks)
        assert head.size == proof["tree_size"] and head.root_hash.hex() == proof["root_hash"]
        leaf = merkle.leaf_hash(bytes.fromhex(proof["entry_hash"]))
        assert leaf.hex() == proof["leaf_hash"]
        assert merkle.verify_inclusion(leaf, seq - 1, head.size, [bytes.fromhex(p) for p in proof["proof"]],
                                       head.root_hash)


def test_an_entry_after_the_latest_checkpoint_is_not_yet_provable(client, db, admin):
    assert client.get("/v1/audit/proofs/1", headers=admin).status_code == 404  # no entry, no checkpoint
    append(db, 2)
    assert client.get("/v1/audit/proofs/1", headers=admin).json()["code"] == "no_checkpoint"
    client.post("/v1/audit/checkpoints", headers=admin)
    append(db, 1, start=2)
    r = client.get("/v1/audit/proofs/4", headers=admin)  # the admin client's own creation was entry 1
    assert r.status_code == 409 and r.json()["code"] == "not_yet_checkpointed"


def test_a_proof_against_an_earlier_checkpoint_and_a_consistency_proof_between_two(client, db, admin):
    append(db, 3)
    first = client.post("/v1/audit/checkpoints", headers=admin).json()
    append(db, 7, start=3)
    second = client.post("/v1/audit/checkpoints", headers=admin).json()
    assert second["tree_size"] > first["tree_size"]

    older = client.get(f"/v1/audit/proofs/2?checkpoint={first['tree_size']}", headers=admin).json()
    assert older["checkpoint"]["tree_size"] == first["tree_size"]

    r = client.get(f"/v1/audit/consistency?from={first['tree_size']}&to={second['tree_size']}", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert merkle.verify_consistency(
        first["tree_size"], second["tree_size"], bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]), [bytes.fromhex(p) for p in body["proof"]])
    latest = client.get(f"/v1/audit/consistency?from={first['tree_size']}", headers=admin)
    assert latest.json()["new"] == second
    assert client.get("/v1/audit/consistency?from=999", headers=admin).status_code == 404

    listed = client.get("/v1/audit/checkpoints", headers=admin).json()
    assert [c["tree_size"] for c in listed] == [second["tree_size"], first["tree_size"]]


def test_checkpoints_and_proofs_are_for_admins(client, db):
    platform = auth(make_api_key(db, "platform"))
    assert client.get("/v1/audit/checkpoints", headers=platform).status_code == 403
    assert client.post("/v1/audit/checkpoints", headers=platform).status_code == 403
    assert client.get("/v1/audit/proofs/1", headers=platform).status_code == 403
    assert client.get("/v1/audit/checkpoints").status_code == 401


def test_a_checkpoint_with_nothing_new_is_the_latest_one_again(db, settings):
    keys = FileKeyProvider(settings.keys_dir)
    append(db, 2)
    first = checkpoint(db, keys)
    assert checkpoint(db, keys) == first
    assert checkpoints.checkpoint_now(db, keys).tree_size == first["tree_size"]  # the scheduler's entry point
    append(db, 1, start=2)
    assert checkpoints.checkpoint_now(db, keys).tree_size == 3


def test_a_tampered_trail_is_never_signed_over(client, db, admin):
    append(db, 3)
    client.post("/v1/audit/checkpoints", headers=admin)  # covers the admin's creation and 3 entries
    append(db, 2, start=3)
    with db.engine.begin() as conn:  # an entry not yet covered by a checkpoint is changed
        conn.execute(text("UPDATE audit_entry SET payload = :p WHERE seq = 5"), {"p": '{"i":99}'})
    r = client.post("/v1/audit/checkpoints", headers=admin)
    assert r.status_code == 500 and r.json()["code"] == "audit_trail_mismatch"
    assert "audit entry 5" in r.json()["detail"]

    with db.engine.begin() as conn:  # an entry the checkpoint covers is rewritten and rehashed
        conn.execute(text("UPDATE audit_entry SET payload = :p WHERE seq = 5"),
                     {"p": '{"amount":"10.50","i":4}'})
        _rehash(conn, 2, '{"forged":true}')
    r = client.post("/v1/audit/checkpoints", headers=admin)
    assert r.status_code == 500 and "no longer match checkpoint 4" in r.json()["detail"]


# --- tampering, once a checkpoint covers the entries --------------------------------------------------

TAMPERINGS = st.sampled_from(
    ["change", "delete", "insert", "reorder", "truncate", "rewrite_last", "forge_checkpoint"])


def _as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rehash(conn, seq, payload):
    row = conn.execute(text("SELECT * FROM audit_entry WHERE seq = :s"), {"s": seq}).mappings().one()
    new_hash = audit.entry_hash(seq=seq, recorded_at=_as_utc(row["recorded_at"]), actor=row["actor"],
                                action=row["action"], subject_type=row["subject_type"],
                                subject_id=row["subject_id"], payload=payload, prev_hash=row["prev_hash"])
    conn.execute(text("UPDATE audit_entry SET payload = :p, entry_hash = :h WHERE seq = :s"),
                 {"p": payload, "h": new_hash, "s": seq})


def tamper(conn, kind, target, size):
    if kind == "change":
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = :s"), {"s": target})
    elif kind == "delete":
        conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": target})
    elif kind == "insert":
        conn.execute(text("UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= :s"), {"s": target})
        conn.execute(text("UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1000"))
        conn.execute(text(
            "INSERT INTO audit_entry (seq, recorded_at, actor, action, subject_type, subject_id, payload, "
            "prev_hash, entry_hash) VALUES (:s, CURRENT_TIMESTAMP, 'mallory', 'x', 'x', 'x', '{}', :p, :h)"),
            {"s": target, "p": "f" * 64, "h": "e" * 64})
    elif kind == "reorder":
        other = target % size + 1
        conn.execute(text("UPDATE audit_entry SET seq = -1 WHERE seq = :a"), {"a": target})
        conn.execute(text("UPDATE audit_entry SET seq = :a WHERE seq = :b"), {"a": target, "b": other})
        conn.execute(text("UPDATE audit_entry SET seq = :b WHERE seq = -1"), {"b": other})
    elif kind == "truncate":  # cut the tail from target on: what remains is a valid chain
        conn.execute(text("DELETE FROM audit_entry WHERE seq >= :s"), {"s": target})
    elif kind == "rewrite_last":  # rewrite the last covered entry and recompute its hash: chain still valid
        _rehash(conn, size, '{"forged":true}')
    elif kind == "forge_checkpoint":  # make the checkpoint row agree with a rewritten trail
        _rehash(conn, size, '{"forged":true}')
        conn.execute(text("UPDATE audit_checkpoint SET root_hash = :r"), {"r": "ab" * 32})


@pytest.fixture(scope="module")
def module_keys(tmp_path_factory):
    return FileKeyProvider(tmp_path_factory.mktemp("keys") / "keys")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=TAMPERINGS, size=st.integers(min_value=1, max_value=9), data=st.data())
def test_any_tampering_is_detected_once_a_checkpoint_covers_the_entries(db, module_keys, kind, size, data):
    assume(not (kind == "reorder" and size == 1))  # one entry cannot be swapped with another
    target = data.draw(st.integers(min_value=1, max_value=size), label="target")
    with db.engine.begin() as conn:
        conn.execute(AuditCheckpoint.__table__.delete())
        conn.execute(AuditEntry.__table__.delete())
    try:
        append(db, size)
        checkpoint(db, module_keys)
        assert verify(db, module_keys).intact
        with db.engine.begin() as conn:
            tamper(conn, kind, target, size)
        report = verify(db, module_keys)
        assert not report.intact, (kind, target, size)
        if kind != "forge_checkpoint":
            assert report.problem.seq is not None and report.problem.seq <= target + 1
    finally:
        with db.engine.begin() as conn:
            conn.execute(AuditCheckpoint.__table__.delete())
            conn.execute(AuditEntry.__table__.delete())


def test_a_checkpoint_signed_by_a_foreign_key_is_refused(db, settings, tmp_path):
    keys, mallory = FileKeyProvider(settings.keys_dir), FileKeyProvider(tmp_path / "mallory")
    append(db, 3)
    checkpoint(db, mallory)
    report = verify(db, keys)
    assert not report.intact and report.problem.checkpoint == 3 and "unknown_kid" in report.problem.reason


# --- the CLI ------------------------------------------------------------------------------------------


def use_database(monkeypatch, url, keys_dir):
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_DATABASE_URL", url)
    monkeypatch.setenv("RISK_KEYS_DIR", str(keys_dir))
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", None)


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from risk_engine.db import Database

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    use_database(monkeypatch, url, tmp_path / "keys")
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    db = Database(url)
    yield db, FileKeyProvider(tmp_path / "keys")
    db.dispose()


def test_audit_verify_checks_the_tree_and_every_checkpoint(cli_db, tmp_path):
    db, keys = cli_db
    append(db, 5)
    checkpoint(db, keys)
    append(db, 2, start=5)
    checkpoint(db, keys)
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "intact" and out["entries"] == 7 and out["checkpoints"] == 2

    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keys.public_jwks()))
    assert runner.invoke(cli.app, ["audit", "verify", "--jwks", str(jwks_file)]).exit_code == 0


def test_audit_verify_names_a_rewritten_last_entry_the_chain_alone_misses(cli_db):
    db, keys = cli_db
    append(db, 4)
    checkpoint(db, keys)
    with db.engine.begin() as conn:
        _rehash(conn, 4, '{"forged":true}')
    with db.session() as s:
        assert audit.verify(s).intact  # the chain alone sees nothing
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 1
    out = json.loads(r.stdout.splitlines()[0])
    assert out["status"] == "broken" and out["bad_checkpoint"] == 4 and out["first_bad_entry"] <= 4


def test_audit_verify_names_the_first_entry_of_a_truncated_tail(cli_db):
    db, keys = cli_db
    append(db, 6)
    checkpoint(db, keys)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq >= 5"))
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 1
    out = json.loads(r.stdout.splitlines()[0])
    assert out["first_bad_entry"] == 5 and "truncated" in out["reason"]


def test_a_bank_asks_for_a_consistency_proof_between_checkpoints_it_was_shown(client, db, admin):
    from tests.factories import make_bank

    bank = auth(make_api_key(db, "bank", bank=make_bank(db)))
    append(db, 3)
    first = client.post("/v1/audit/checkpoints", headers=admin).json()
    append(db, 4, start=3)
    second = client.post("/v1/audit/checkpoints", headers=admin).json()
    r = client.get(f"/v1/audit/consistency?from={first['tree_size']}", headers=bank)
    assert r.status_code == 200, r.text
    assert r.json()["new"] == second
    assert merkle.verify_consistency(
        first["tree_size"], second["tree_size"], bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]), [bytes.fromhex(p) for p in r.json()["proof"]])
    platform = auth(make_api_key(db, "platform"))
    assert client.get(f"/v1/audit/consistency?from={first['tree_size']}", headers=platform).status_code == 403


def test_a_later_broken_link_does_not_hide_an_earlier_rewrite_a_checkpoint_exposes(db, settings):
    keys = FileKeyProvider(settings.keys_dir)
    append(db, 3)
    checkpoint(db, keys)
    append(db, 3, start=3)
    with db.engine.begin() as conn:  # entry 2 rewritten and every later link recomputed: the chain holds...
        _rehash(conn, 2, '{"forged":true}')
        for seq in range(3, 7):
            prev = conn.execute(text("SELECT entry_hash FROM audit_entry WHERE seq = :s"), {"s": seq - 1}).scalar()
            conn.execute(text("UPDATE audit_entry SET prev_hash = :p WHERE seq = :s"), {"p": prev, "s": seq})
            row = conn.execute(text("SELECT payload FROM audit_entry WHERE seq = :s"), {"s": seq}).scalar()
            _rehash(conn, seq, row)
    with db.session() as s:
        assert audit.verify(s).intact
    with db.engine.begin() as conn:  # ...until a later entry is changed too
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 5"))
    report = verify(db, keys)
    assert not report.intact
    assert report.problem.checkpoint == 3 and report.problem.seq <= 2, report.problem


def test_audit_verify_without_the_signing_keys_says_so_and_does_not_cry_tampering(cli_db, tmp_path, monkeypatch):
    """A wrong RISK_KEYS_DIR (or working directory) must not read as a tampered trail: exit 2, naming it."""
    from risk_engine.settings import get_settings

    db, keys = cli_db
    append(db, 3)
    checkpoint(db, keys)
    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    r = runner.invoke(cli.app, ["audit", "verify"])
    assert r.exit_code == 2
    assert "no signing keys" in r.stderr and "elsewhere" in r.stderr and "broken" not in r.stdout
    assert not (tmp_path / "elsewhere").exists()  # nothing created there


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/audit/proofs/1", {"checkpoint": 2**63}),
    ("/v1/audit/consistency", {"from": 2**63}),
    ("/v1/audit/consistency", {"from": 0, "to": 2**63}),
    ("/v1/audit/checkpoints", {"before_size": 2**63}),
])
def test_a_checkpoint_size_past_2_63_is_a_422_naming_the_parameter_not_a_500(client, db, admin, path, params):
    append(db, 1)
    client.post("/v1/audit/checkpoints", headers=admin)
    r = client.get(path, params=params, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == f"query.{next(iter(k for k, v in params.items() if v == 2**63))}"
