"""The audit chain detects any changed, deleted, inserted or reordered entry."""
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from compliance import audit
from compliance.models import AuditEntry


def verify(db):
    with db.session() as s:
        return audit.verify(s)


def append(db, n):
    with db.unit_of_work() as s:
        for i in range(n):
            audit.record(s, actor="test", action="thing.changed", subject_type="thing", subject_id=str(i),
                         payload={"i": i, "amount": "10.50", "名字": "经销商"})


def test_state_change_and_its_entry_commit_together(client, db):
    from tests.factories import auth, consent_body, dealer_body, make_api_key

    key = make_api_key(db, "platform")
    r = client.post("/v1/dealers", headers=auth(key), json=dealer_body(consent=consent_body("credit_scoring")))
    with db.session() as s:
        entries = audit.entries_for(s, "dealer", r.json()["id"])
    assert [e.action for e in entries] == ["dealer.onboarded", "consent.granted"]
    assert entries[0].actor.startswith("platform:")


def test_an_intact_chain_verifies(db):
    append(db, 5)
    report = verify(db)
    assert report.intact and report.entries == 5


def test_a_rolled_back_change_leaves_no_entry(db):
    try:
        with db.unit_of_work() as s:
            audit.record(s, actor="t", action="a", subject_type="x", subject_id="1")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert verify(db).entries == 0


def test_concurrent_appends_keep_one_unbroken_chain(db):
    def worker():
        append(db, 5)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(db)
    assert report.intact and report.entries == 20


TAMPERINGS = st.sampled_from(["change_payload", "change_actor", "delete", "insert", "reorder", "rehash_one"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=TAMPERINGS, target=st.integers(min_value=1, max_value=6))
def test_any_tampering_is_detected_and_named(db, kind, target):
    with db.engine.begin() as conn:
        conn.execute(AuditEntry.__table__.delete())
    append(db, 6)
    with db.engine.begin() as conn:
        if kind == "change_payload":
            conn.execute(text("UPDATE audit_entry SET payload = :p WHERE seq = :s"), {"p": '{"i":999}', "s": target})
        elif kind == "change_actor":
            conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = :s"), {"s": target})
        elif kind == "delete":  # deleting the LAST entry is a truncation: test_compliance_checkpoints
            target = min(target, 5)
            conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": target})
        elif kind == "insert":
            conn.execute(text("UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= :s"), {"s": target})
            conn.execute(text("UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1000"))
            conn.execute(text(
                "INSERT INTO audit_entry (seq, recorded_at, actor, action, subject_type, subject_id, payload, "
                "prev_hash, entry_hash) VALUES (:s, CURRENT_TIMESTAMP, 'mallory', 'x', 'x', 'x', '{}', :p, :h)"),
                {"s": target, "p": "f" * 64, "h": "e" * 64})
        elif kind == "reorder":
            other = target % 6 + 1
            conn.execute(text("UPDATE audit_entry SET seq = -1 WHERE seq = :a"), {"a": target})
            conn.execute(text("UPDATE audit_entry SET seq = :a WHERE seq = :b"), {"a": target, "b": other})
            conn.execute(text("UPDATE audit_entry SET seq = :b WHERE seq = -1"), {"b": other})
        elif kind == "rehash_one":  # recomputing an entry's own hash still breaks its successor's link
            target = min(target, 5)  # (a rewritten LAST entry needs a signed checkpoint to be caught)
            row = conn.execute(text("SELECT * FROM audit_entry WHERE seq = :s"), {"s": target}).mappings().one()
            forged = dict(row) | {"payload": '{"forged":true}'}
            new_hash = audit.entry_hash(**{k: forged[k] for k in (
                "seq", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash")},
                recorded_at=_as_utc(forged["recorded_at"]))
            conn.execute(text("UPDATE audit_entry SET payload = :p, entry_hash = :h WHERE seq = :s"),
                         {"p": forged["payload"], "h": new_hash, "s": target})
    with db.session() as s:
        report = audit.verify(s)
    assert not report.intact
    assert report.problem.seq <= max(target, 1) + 1
    with db.engine.begin() as conn:
        conn.execute(AuditEntry.__table__.delete())


def _as_utc(value):
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_truncating_the_tail_is_detected_against_a_known_head(db):
    append(db, 4)
    head = verify(db).head_hash
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 4"))
    report = verify(db)
    assert report.intact and report.head_hash != head  # the chain alone cannot see a cut tail; a checkpoint can
