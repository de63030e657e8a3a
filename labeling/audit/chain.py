"""The audit hash chain: how a link's hash is made, walking the chain to find the first broken
link, and sealing (signing) its head.

One chain for the whole installation, not one per project: logins, ontologies and datasets
belong to no single project, and a single order of everything is what an auditor wants.

Linking is off the hot path. Storing an event costs one more small row (labeling_auditpending,
by a trigger); link_pending() chains the committed pending events in id order under one
advisory lock, in its own transaction: celery beat every AERIE_AUDIT_LINK_EVERY_S, and before
every seal and verification. No user transaction waits for the chain, so commits keep sharing
their WAL flushes (chaining at each commit held the lock across the flush and halved concurrent
submit throughput in bench/audit.py). An event is unchained for at most a few seconds.

link n: hash_n = sha256(hash_{n-1} || field(seq) || field(event id) || field(at, UTC, µs) ||
        field(actor id) || field(verb) || field(object type) || field(object id) ||
        field(project id) || field(dataset id) || field(data as PostgreSQL's jsonb text))
        where field(v) = "<length of v>:<v>" (empty for NULL) and hash_0 = 64 zeros.
The database computes it (migration 0012, aerie_audit_append); this module recomputes it
independently to verify."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from labeling.access import signing
from labeling.models.audit import AuditLink, AuditSeal

GENESIS = "0" * 64
CHAIN_LOCK = 7_262_021_735_441_870_436  # the advisory lock of migration 0012


def _field(value) -> str:
    text = "" if value is None else str(value)
    return f"{len(text)}:{text}"


def chain_hash(prev_hash: str, seq: int, event_id: int, at: dt.datetime, actor_id, verb: str, object_type: str,
               object_id: str, project_id, dataset_id, data_text: str) -> str:
    at_text = at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = prev_hash + "".join(_field(v) for v in (seq, event_id, at_text, actor_id, verb, object_type, object_id,
                                                       project_id, dataset_id, data_text))
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


def head() -> tuple[int, str]:  # pragma: no mutate block
    """(seq, hash) of the newest link; (0, GENESIS) for an empty chain."""
    row = AuditLink.objects.order_by("-seq").values_list("seq", "hash").first()
    return row or (0, GENESIS)


def link_pending(batch: int = 10_000) -> int:  # pragma: no mutate block
    """Chain every committed event not chained yet; returns how many were linked."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT aerie_audit_link_pending(%s)", [batch])
            linked = cur.fetchone()[0]
        total += linked
        if linked < batch:
            return total


def seal_payload(seq: int, hash_: str, at: dt.datetime) -> bytes:
    return signing.canonical_json({"kind": "aerie-audit-seal", "seq": seq, "hash": hash_,
                                   "at": at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")})


def seal(user=None, *, force: bool = False) -> AuditSeal | None:  # pragma: no mutate block
    """Sign the chain's head with the keyring's active key. Nothing new when the head is already
    sealed (unless `force`); None while the chain is empty."""
    link_pending()
    seq, hash_ = head()
    if seq == 0:
        return None
    last = AuditSeal.objects.order_by("-seq", "-id").first()
    if last is not None and last.seq == seq and not force:
        return last
    signer = signing.signer()
    at = timezone.now()
    return AuditSeal.objects.create(seq=seq, hash=hash_, at=at, key_id=signer.key_id,
                                    signature=signer.sign(seal_payload(seq, hash_, at)),
                                    sealed_by=user if getattr(user, "is_authenticated", False) else None)


@dataclass
class Report:
    links: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    seals: int = 0
    last_sealed_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    broken_at: int | None = None  # the first broken link's seq
    signers: dict[str, str] = field(default_factory=dict)  # key id -> which key and its state, of the seals
    warnings: list[str] = field(default_factory=list)  # seals that verify but deserve a look

    @property
    def ok(self) -> bool:
        return not self.problems


_WALK = """
SELECT l.seq, l.prev_hash, l.hash, l.event_id, e.id, e.at, e.actor_id, e.verb, e.object_type, e.object_id,
       e.project_id, e.dataset_id, e.data::text
FROM labeling_auditlink l LEFT JOIN labeling_auditevent e ON e.id = l.event_id
ORDER BY l.seq
"""


def link_problem(expected: int, prev: str, row: tuple) -> str | None:
    """What is wrong with one row of the walk (_WALK's columns), None when the link verifies:
    the walk expects link `expected` next, following the hash `prev`."""
    seq, prev_hash, hash_, event_ref, event_id, at, actor_id, verb, otype, oid, pid, did, data = row
    problem = None
    if seq != expected:
        problem = f"link {expected} is missing (the chain jumps from {expected - 1} to {seq})"
    elif prev_hash != prev:
        problem = f"link {seq} does not follow link {seq - 1} (its previous hash differs)"
    elif event_id is None:
        problem = f"link {seq}: event {event_ref} is gone"
    elif chain_hash(prev, seq, event_id, at, actor_id, verb, otype, oid, pid, did, data) != hash_:
        what = f"{verb} {otype}:{oid}" if otype else verb
        problem = f"link {seq}: event {event_id} ({what}) was changed after it was recorded"
    return problem


def _walk(report: Report, cursor) -> dict[int, str]:  # pragma: no mutate block
    """Check every link in order; stop at the first broken one. Returns {seq: hash} of the
    links that verified, for the seals (only the sealed seqs are kept)."""
    sealed = set(AuditSeal.objects.values_list("seq", flat=True))
    hashes: dict[int, str] = {}
    expected, prev = 1, GENESIS
    cursor.execute(_WALK)
    while rows := cursor.fetchmany(2000):
        for row in rows:
            seq, hash_ = row[0], row[2]
            problem = link_problem(expected, prev, row)
            if problem:
                report.problems.append(problem)
                report.broken_at = expected if seq != expected else seq
                return hashes
            if seq in sealed:
                hashes[seq] = hash_
            report.links, report.head_seq, report.head_hash = seq, seq, hash_
            expected, prev = seq + 1, hash_
    return hashes


def verify() -> Report:  # pragma: no mutate block
    """Walk the whole chain in one consistent snapshot: every link follows the previous one and
    matches its event, every event is chained, every seal is signed by a key of the keyring
    (trusted at the seal's time: labeling.access.keyring) and matches the chain at its seq."""
    report = Report()
    link_pending()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # one snapshot for the walk, the unchained events and the seals
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with connection.chunked_cursor() as cur:
            verified = _walk(report, cur)
        with connection.cursor() as cur:
            cur.execute("SELECT e.id, e.verb FROM labeling_auditevent e "
                        "WHERE NOT EXISTS (SELECT 1 FROM labeling_auditlink l WHERE l.event_id = e.id) "
                        "AND NOT EXISTS (SELECT 1 FROM labeling_auditpending p WHERE p.event_id = e.id) "
                        "ORDER BY e.id LIMIT 1")
            unchained = cur.fetchone()
        if unchained:
            report.problems.append(f"event {unchained[0]} ({unchained[1]}) is not in the chain")
        ring = signing.ring()
        for seal_ in AuditSeal.objects.order_by("seq", "id").iterator(chunk_size=2000):
            where = f"seal {seal_.pk} (link {seal_.seq}, {seal_.at:%Y-%m-%d %H:%M:%S})"
            verdict = ring.check(seal_payload(seal_.seq, seal_.hash, seal_.at), seal_.signature,
                                 key_id=seal_.key_id or None, signed_at=seal_.at)
            if verdict.key is not None:
                report.signers[verdict.key.key_id] = verdict.key.describe()
            if not verdict.ok:
                report.problems.append(f"{where}: the signature does not verify ({verdict.describe()})")
                continue
            if verdict.warning:
                report.warnings.append(f"{where}: {verdict.warning} ({verdict.key.describe()})")
            if report.broken_at is not None and seal_.seq >= report.broken_at:
                continue  # the chain is already reported broken before this seal
            elif verified.get(seal_.seq) != seal_.hash:
                report.problems.append(f"{where}: the chain no longer has the sealed hash there "
                                       f"(history up to it was rewritten)")
            else:
                report.seals += 1
                report.last_sealed_seq = seal_.seq
    return report
