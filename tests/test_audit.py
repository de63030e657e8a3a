"""The audit trail is tamper-evident: every committed event is chained (whatever inserted it),
the database refuses to change or delete audit rows, verify_audit finds the first broken link,
and signed heads catch a chain rewritten from scratch."""
from __future__ import annotations

import base64
import threading

import pytest
from django.core.management import CommandError, call_command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from labeling import audit
from labeling.work import queue, submissions
from labeling.access import signing
from labeling.audit import chain
from labeling.models import AuditEvent, AuditLink, AuditSeal, Dataset
from tests.conftest import make_frames


def chain_now():
    """Link the events recorded so far (celery beat does it every few seconds)."""
    return chain.link_pending()


def run_verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def tamper(sql: str, params=()) -> None:
    """What only someone with the database's superuser (or table owner) rights could do:
    switch the triggers off and rewrite a row."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        try:
            cur.execute(sql, params)
        finally:
            cur.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def events(db, users):
    made = [audit.record(users["admin"], f"test.event{i}", None, {"n": i, "text": "ä \"quoted\" ✓"})
            for i in range(5)]
    assert not AuditLink.objects.filter(event__in=made).exists()  # not yet: linking is off the hot path
    chain_now()
    return made


def test_every_event_is_chained_in_order_and_verifies(events, project, users):
    make_frames(project, 1)
    lease = queue.next_assignment(project, users["annotator"])
    annotation = submissions.submit(lease, users["annotator"], {"boxes": [], "tags": []}).annotation
    chain_now()
    links = list(AuditLink.objects.order_by("seq"))
    assert [link.seq for link in links] == list(range(1, len(links) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(links, links[1:]))
    assert links[0].prev_hash == chain.GENESIS
    submit = AuditEvent.objects.get(verb="annotation.submit", object_id=str(annotation.pk))
    assert submit.link.seq == links[-1].seq  # the one-statement submission joined the chain too
    assert submit.project_id == project.pk
    report = chain.verify()
    assert report.ok, report.problems
    assert report.links == len(links) and report.head_hash == links[-1].hash
    assert "OK" in run_verify()


def test_the_database_refuses_to_change_or_delete_audit_rows(events):
    seal = chain.seal()
    for sql in ("UPDATE labeling_auditevent SET verb = 'nothing' WHERE id = %s",
                "DELETE FROM labeling_auditevent WHERE id = %s"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [events[1].pk])
    for sql in ("UPDATE labeling_auditlink SET hash = repeat('a', 64) WHERE seq = 2",
                "DELETE FROM labeling_auditlink WHERE seq = 2",
                f"UPDATE labeling_auditseal SET seq = 1 WHERE id = {seal.pk}",
                f"DELETE FROM labeling_auditseal WHERE id = {seal.pk}"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert chain.verify().ok


def test_verify_reports_the_first_broken_link(events):
    second = events[1].link.seq
    tamper("UPDATE labeling_auditevent SET data = '{\"n\": 99}' WHERE id = %s", [events[1].pk])
    tamper("UPDATE labeling_auditevent SET verb = 'x' WHERE id = %s", [events[3].pk])
    report = chain.verify()
    assert report.broken_at == second
    assert f"link {second}: event {events[1].pk} (test.event1) was changed" in report.problems[0]
    with pytest.raises(CommandError, match="failed verification"):
        run_verify()


@pytest.mark.parametrize("damage, expected", [
    ("DELETE FROM labeling_auditevent WHERE id = {event}", "link {seq}: event {event} is gone"),
    ("DELETE FROM labeling_auditlink WHERE seq = {seq}", "link {seq} is missing"),
    ("UPDATE labeling_auditlink SET prev_hash = repeat('1', 64) WHERE seq = {seq}", "link {seq} does not follow"),
])
def test_verify_finds_removed_events_and_links(events, damage, expected):
    seq, event = events[2].link.seq, events[2].pk
    tamper(damage.format(seq=seq, event=event))
    report = chain.verify()
    assert report.broken_at == seq
    assert expected.format(seq=seq, event=event) in report.problems[0]


def test_an_event_inserted_with_the_chain_off_is_reported(events):
    tamper("INSERT INTO labeling_auditevent (at, verb, object_type, object_id, data) "
           "VALUES (now(), 'sneaky', '', '', '{}')")
    report = chain.verify()
    assert any("sneaky) is not in the chain" in p for p in report.problems)


def test_seals_catch_a_chain_rewritten_from_scratch(events):
    seal = chain.seal()
    assert seal.seq == events[-1].link.seq and signing.verify(chain.seal_payload(seal.seq, seal.hash, seal.at),
                                                              seal.signature)
    assert chain.seal().pk == seal.pk  # nothing new to sign
    # Someone edits an event and recomputes every hash after it: the chain is consistent again...
    tamper("UPDATE labeling_auditevent SET data = '{\"n\": 42}' WHERE id = %s", [events[1].pk])
    tamper("DELETE FROM labeling_auditlink")
    with connection.cursor() as cur:
        cur.execute("SELECT aerie_audit_append(e) FROM (SELECT * FROM labeling_auditevent ORDER BY id) e")
    report = chain.verify()
    assert report.broken_at is None
    # ...but no longer matches what was signed.
    assert any(f"seal {seal.pk} (link {seal.seq}" in p and "rewritten" in p for p in report.problems)


def test_a_forged_seal_is_reported(events):
    chain.seal()
    seq, hash_ = chain.head()
    at = timezone.now()
    forged = base64.b64encode(Ed25519PrivateKey.generate().sign(chain.seal_payload(seq, hash_, at))).decode()
    AuditSeal.objects.create(seq=seq, hash=hash_, at=at, key_id=signing.key_id(), signature=forged)
    assert any("signature does not verify" in p for p in chain.verify().problems)


def test_scope_follows_the_object(project, users):
    event = audit.record(users["admin"], "project.update", project, {})
    assert (event.project_id, event.dataset_id) == (project.pk, project.dataset_id)
    event = audit.record(users["admin"], "dataset.create", project.dataset, {})
    assert (event.project_id, event.dataset_id) == (None, project.dataset_id)
    event = audit.record(None, "scoring.chunk", None, {"project": project.pk})
    assert event.project_id == project.pk


def test_celery_beat_links_and_seals():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["audit-seal"]
    assert entry["task"] == "labeling.tasks.seal_audit" and entry["schedule"] > 0
    entry = settings.CELERY_BEAT_SCHEDULE["audit-link"]
    assert entry["task"] == "labeling.tasks.link_audit" and entry["schedule"] <= 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_append_one_unbroken_chain(users):
    """Many transactions recording at once while linkers run: the chain has no fork and no gap,
    every committed event is in it once, and a rolled-back event never joins it."""
    dataset = Dataset.objects.create(name="d")
    errors = []
    barrier = threading.Barrier(6)

    def work(n):
        try:
            barrier.wait()
            for i in range(15):
                with transaction.atomic():
                    audit.record(users["qa"], "test.concurrent", dataset, {"worker": n, "i": i})
                    audit.record(users["qa"], "test.concurrent", dataset, {"worker": n, "i": i, "second": True})
                if i % 4 == n % 4:  # linkers run while others record (as beat, seals and verifications do)
                    chain.link_pending()
            try:
                with transaction.atomic():
                    audit.record(users["qa"], "test.rolled_back", dataset, {"worker": n})
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not AuditEvent.objects.filter(verb="test.rolled_back").exists()
    chain.link_pending()
    chained = AuditLink.objects.filter(event__verb="test.concurrent").count()
    assert chained == AuditEvent.objects.filter(verb="test.concurrent").count() == 6 * 15 * 2
    report = chain.verify()
    assert report.ok, report.problems
    assert report.links == AuditEvent.objects.count()
