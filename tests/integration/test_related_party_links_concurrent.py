"""Two related-party links for one (dealer, supplier, kind) posted at the same moment: both pass the
lookup, the database's unique index stops the second, and its sender gets the same per-item answer as
a link posted a moment later (rejected naming ``kind``, or ``duplicate`` for an identical re-send) —
never the database's own message, never a 500."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from risk_engine.trade import service
from risk_engine.trade.models import RelatedPartyLink
from tests.concurrency import race
from tests.conftest import make_client
from tests.factories import auth, make_api_key, make_dealer, make_supplier


def related(ext: str, kind: str = "shared_owner", **kw) -> dict:
    return {"type": "related_party", "external_id": ext, "dealer": "D-1", "supplier": "S-1", "kind": kind} | kw


def links(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(RelatedPartyLink))


def both_past_the_lookup(monkeypatch: pytest.MonkeyPatch, senders: int) -> None:
    """Hold every sender after its lookup until all have looked: none sees the others' link."""
    barrier = threading.Barrier(senders, timeout=30)
    prefetch = service.Ledger.prefetch

    def prefetch_then_wait(self, events):  # noqa: ANN001, ANN202
        prefetch(self, events)
        barrier.wait()

    monkeypatch.setattr(service.Ledger, "prefetch", prefetch_then_wait)


def post_concurrently(db, settings, monkeypatch, bodies: list[dict]) -> list[dict]:
    make_dealer(db, external_id="D-1")
    make_supplier(db, external_id="S-1")
    platform = auth(make_api_key(db, "platform"))
    both_past_the_lookup(monkeypatch, len(bodies))
    queue = iter(bodies)
    lock = threading.Lock()

    def send() -> dict:
        with lock:
            event = next(queue)
        r = client.post("/v1/events", headers=platform, json={"events": [event]})
        assert r.status_code == 200, r.text
        return r.json()

    with make_client(db, settings) as client:
        return race(send, threads=len(bodies))


@pytest.mark.postgres
def test_two_links_of_one_kind_posted_at_the_same_moment_on_postgresql_reject_the_second_naming_kind(
        pg_db, settings, monkeypatch):
    answers = post_concurrently(pg_db, settings, monkeypatch, [related("R-1"), related("R-2")])
    (winner,) = [a for a in answers if a["counts"]["created"] == 1]
    (loser,) = [a for a in answers if a["counts"]["rejected"] == 1]
    (rejected,) = loser["rejected"]
    linked_by = winner["accepted"][0]["external_id"]
    assert rejected["errors"] == [{"field": "kind", "reason": "dealer and supplier are already linked by "
                                                              f"'shared_owner' (related_party '{linked_by}')"}]
    assert links(pg_db) == 1


@pytest.mark.postgres
def test_one_link_sent_twice_at_the_same_moment_on_postgresql_is_created_once_and_answered_as_a_duplicate(
        pg_db, settings, monkeypatch):
    answers = post_concurrently(pg_db, settings, monkeypatch, [related("R-1"), related("R-1")])
    statuses = sorted(a["accepted"][0]["status"] for a in answers)
    assert statuses == ["created", "duplicate"], answers
    assert len({a["accepted"][0]["id"] for a in answers}) == 1
    assert links(pg_db) == 1


def test_a_link_the_unique_index_refuses_is_rejected_naming_kind_not_with_the_database_message(
        client, db, monkeypatch):
    """What the loser of the race meets, on either database: its lookup missed the stored link."""
    make_dealer(db, external_id="D-1")
    make_supplier(db, external_id="S-1")
    platform = auth(make_api_key(db, "platform"))
    assert client.post("/v1/events", headers=platform, json={"events": [related("R-1")]}).status_code == 200
    prefetch = service.Ledger.prefetch

    def prefetch_missing_the_links(self, events):  # noqa: ANN001, ANN202
        prefetch(self, events)
        self.related_links.clear()

    monkeypatch.setattr(service.Ledger, "prefetch", prefetch_missing_the_links)
    body = client.post("/v1/events", headers=platform,
                       json={"events": [related("R-2"), related("R-3", kind="address")]}).json()
    assert [a["external_id"] for a in body["accepted"]] == ["R-3"]
    (rejected,) = body["rejected"]
    assert rejected["errors"] == [{"field": "kind", "reason": "dealer and supplier are already linked by "
                                                              "'shared_owner' (related_party 'R-1')"}]
    assert links(db) == 2
