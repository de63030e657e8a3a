"""Retention: delete the files whose dataset's policy has expired them, keep a tombstone of each.

A sequence's raw frames are due `raw_retention_days` after its ingest, its derived renditions
`derived_retention_days` after (labeling.custody.blobs says which files each kind covers). A
run takes each due sequence in turn:

1. In one transaction, with the dataset and sequence rows share-locked (a legal hold placed
   meanwhile waits; one placed before is seen), it checks that no live hold covers the sequence
   and records the decision (`Sequence.raw_expired_at` / `derived_expired_at`, audited): from
   then on nothing serves those files. Raw frames wait while any frame of the sequence has no
   derived rendition yet (it is made from raw; the run starts a redaction run and takes the
   sequence next time), unless the derived renditions go too.
2. Frame by frame, in chunks: a file still needed by another sequence (one whose files of that
   kind have not expired, or one under a hold; the same frame in two datasets is stored once) is
   kept; the others get a tombstone (committed first) and are then deleted. A hold placed
   mid-way stops the sequence after the current chunk; the next run after the hold is lifted
   carries on.
3. The sequence is marked purged.

A run is idempotent: a resumed or repeated run finds the deleted files gone and the sequences
purged. `preview` says what a run would delete now, deleting nothing. Runs, previews and each
decision are audit events; the run's last event carries the sha256 of its tombstones."""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import storages
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from labeling import audit, jobs
from labeling.custody import blobs, state
from labeling.footage import blobstore, staging
from labeling.models import Dataset, DerivedFrame, Frame, IngestJob, RetentionRun, Sequence, Tombstone

RAW, DERIVED, SOURCE = Tombstone.RAW, Tombstone.DERIVED, Tombstone.SOURCE
KINDS = (RAW, DERIVED)
CHUNK = settings.AERIE_RETENTION_CHUNK
STALE_S = settings.AERIE_RETENTION_STALE_S
DONE, HELD, WAITING = "done", "held", "waiting"


class RetentionError(ValueError):
    pass


# --- what is due ------------------------------------------------------------------------------

def _days(dataset: Dataset, kind: str) -> int | None:
    return dataset.raw_retention_days if kind == RAW else dataset.derived_retention_days


def _expired_at(sequence: Sequence, kind: str):
    return sequence.raw_expired_at if kind == RAW else sequence.derived_expired_at


def _purged_at(sequence: Sequence, kind: str):
    return sequence.raw_purged_at if kind == RAW else sequence.derived_purged_at


def is_due(sequence: Sequence, kind: str, now=None) -> bool:
    """The sequence's files of `kind` are to be deleted: decided and not all gone yet, or
    undecided and past the policy."""
    if _purged_at(sequence, kind) is not None:
        return False
    if _expired_at(sequence, kind) is not None:
        return True
    days = _days(sequence.dataset, kind)
    return days is not None and sequence.created_at + timedelta(days=days) <= (now or timezone.now())


def due(dataset: Dataset | None = None, now=None) -> list[tuple[Sequence, list[str]]]:
    """Each sequence with files due, and which kinds (raw before derived), in id order."""
    now = now or timezone.now()
    sequences = Sequence.objects.select_related("dataset").exclude(
        status__in=[Sequence.PENDING, Sequence.INGESTING]).order_by("pk")
    if dataset is not None:
        sequences = sequences.filter(dataset=dataset)
    sequences = sequences.exclude(dataset__raw_retention_days__isnull=True, raw_expired_at__isnull=True,
                                  derived_expired_at__isnull=True)
    out = []
    for sequence in sequences:
        kinds = [k for k in KINDS if is_due(sequence, k, now)]
        if kinds:
            out.append((sequence, kinds))
    return out


def _missing_derived(sequence: Sequence) -> int:
    """Frames of the sequence without a current derived rendition (made from raw: raw waits)."""
    current = DerivedFrame.objects.filter(frame=OuterRef("pk"), current=True)
    return Frame.objects.filter(sequence=sequence).exclude(Exists(current)).count()


# --- which files of a chunk go ----------------------------------------------------------------

_NEEDED_SQL = {
    RAW: """SELECT DISTINCT f.sha256 FROM labeling_frame f JOIN labeling_sequence s ON s.id = f.sequence_id
            WHERE f.sha256 = ANY(%(keys)s) AND ((s.raw_expired_at IS NULL AND s.id <> ALL(%(going)s))
                                                 OR {held})""",
    DERIVED: """SELECT DISTINCT d.sha256 FROM labeling_derivedframe d JOIN labeling_frame f ON f.id = d.frame_id
                JOIN labeling_sequence s ON s.id = f.sequence_id
                WHERE d.sha256 = ANY(%(keys)s) AND ((s.derived_expired_at IS NULL AND s.id <> ALL(%(going)s))
                                                     OR {held})""",
}


def _needed(kind: str, keys: list[str], going: list[int]) -> set[str]:
    """The keys some sequence still needs: its files of this kind have not expired (and it is
    not among `going`, the sequences a preview counts as expiring), or a hold covers it."""
    with connection.cursor() as cur:
        cur.execute(_NEEDED_SQL[kind].format(held=state.HELD_SQL), {"keys": keys, "going": going})
        return {row[0] for row in cur.fetchall()}


def _frame_chunks(sequence: Sequence):
    last = 0
    while True:
        chunk = list(Frame.objects.filter(sequence=sequence, pk__gt=last).order_by("pk")
                     .values_list("pk", "sha256", "ext")[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _deletable(sequence: Sequence, kind: str, frames, radii, going: list[int]):
    """([(name, key, size)] of this chunk's files of `kind` that go and are stored, files kept
    because another sequence needs them)."""
    names = blobs.of_frames(kind, frames, sequence.bits, radii)
    needed = _needed(kind, sorted(set(names.values())), going)
    storage = storages["default"]
    out, kept = [], 0
    for name, key in names.items():
        if not storage.exists(name):
            continue
        if key in needed:
            kept += 1
            continue
        out.append((name, key, storage.size(name)))
    return out, kept


# --- preview ----------------------------------------------------------------------------------

def preview(dataset: Dataset | None = None, *, user=None) -> dict:
    """What a run would delete now (per kind: sequences, frames, files, bytes, and files kept
    because another dataset still needs them), deleting nothing. Audited."""
    radii = blobs.radii()
    out = {k: Counter() for k in KINDS}
    held, waiting, going = [], [], []
    for sequence, kinds in due(dataset):
        if state.is_held(sequence):
            held.append(str(sequence))
            continue
        if RAW in kinds and DERIVED not in kinds and _missing_derived(sequence):
            waiting.append(str(sequence))
            continue
        going.append((sequence, kinds))
    ids = {k: [s.pk for s, kinds in going if k in kinds] for k in KINDS}
    for sequence, kinds in going:
        for kind in kinds:
            counts = out[kind]
            counts["sequences"] += 1
            for frames in _frame_chunks(sequence):
                counts["frames"] += len(frames)
                items, kept = _deletable(sequence, kind, frames, radii, ids[kind])
                counts["files"] += len(items)
                counts["bytes"] += sum(size for _, _, size in items)
                counts["shared_kept"] += kept
    report = {"dataset": dataset.name if dataset else None,
              **{k: {f: out[k][f] for f in ("sequences", "frames", "files", "bytes", "shared_kept")} for k in KINDS},
              "held": held, "waiting_for_derived": waiting}
    audit.record(user, "retention.preview", dataset, report, object_type="retention", object_id="preview")
    return report


# --- runs -------------------------------------------------------------------------------------

def start(dataset: Dataset | None = None, *, user=None, reason: str = "schedule") -> RetentionRun | None:
    """Record a run (audited); the caller runs it (`run`) or sends it (`jobs.enqueue`). None when
    another run is going (one at a time)."""
    try:
        with transaction.atomic():
            if RetentionRun.objects.filter(status=RetentionRun.RUNNING).exists():
                return None
            made = RetentionRun.objects.create(dataset=dataset, reason=reason[:40], heartbeat_at=timezone.now(),
                                               created_by=user if getattr(user, "is_authenticated", False) else None)
            audit.record(user, "retention.run.start", made, {"dataset": dataset.name if dataset else None,
                                                             "reason": reason}, dataset=dataset)
    except IntegrityError:  # another starter won the race
        return None
    return made


def run(run_id: int) -> RetentionRun:
    """Apply the policies (a started or resumed run); a finished run is left as it is."""
    made = RetentionRun.objects.select_related("dataset").get(pk=run_id)
    if made.status != RetentionRun.RUNNING:
        return made
    plan = due(made.dataset)
    RetentionRun.objects.filter(pk=run_id).update(sequences_total=F("sequences_done") + len(plan),
                                                  heartbeat_at=timezone.now())
    radii = blobs.radii()
    outcomes = Counter()
    for sequence, kinds in plan:
        for kind in kinds:
            outcome = _apply(made, sequence, kind, radii)
            outcomes[f"{kind}_{outcome}"] += 1
            if outcome != DONE:
                break  # derived files never go before raw ones
        RetentionRun.objects.filter(pk=run_id).update(sequences_done=F("sequences_done") + 1,
                                                      heartbeat_at=timezone.now())
    return _finish(run_id, outcomes)


def _apply(made: RetentionRun, sequence: Sequence, kind: str, radii) -> str:
    """Decide and delete one sequence's files of `kind`: DONE, HELD or WAITING."""
    with transaction.atomic():
        state.lock_for_retention(sequence.pk, sequence.dataset_id)
        sequence = Sequence.objects.select_related("dataset").get(pk=sequence.pk)
        if state.is_held(sequence):
            return HELD
        if kind == RAW and not is_due(sequence, DERIVED) and _missing_derived(sequence):
            jobs.enqueue("start_redaction", sequence.dataset_id, "retention")
            return WAITING
        if _expired_at(sequence, kind) is None:
            now = timezone.now()
            Sequence.objects.filter(pk=sequence.pk).update(**{f"{kind}_expired_at": now})
            audit.record(None, f"retention.expire.{kind}", sequence, {
                "sequence": sequence.pk, "run": made.pk, "policy_days": _days(sequence.dataset, kind),
                "ingested": sequence.created_at.isoformat()}, dataset=sequence.dataset_id)
    for frames in _frame_chunks(sequence):
        with transaction.atomic():
            state.lock_for_retention(sequence.pk, sequence.dataset_id)
            if state.is_held(sequence):
                return HELD
            items, kept = _deletable(sequence, kind, frames, radii, [])
            _tombstones(made, sequence, kind, items)
        _delete(made, kind, items, kept)
    if kind == RAW:
        _delete_sources(made, sequence)
    Sequence.objects.filter(pk=sequence.pk).update(**{f"{kind}_purged_at": timezone.now()})
    return DONE


def _tombstones(made, sequence, kind, items) -> None:
    days = _days(sequence.dataset, kind)
    Tombstone.objects.bulk_create(
        [Tombstone(name=name, sha256=key, size=size, kind=kind, dataset_id=sequence.dataset_id, sequence=sequence,
                   policy_days=days, run=made) for name, key, size in items],
        ignore_conflicts=True)


def _delete(made, kind, items, kept) -> None:
    for name, _, _ in items:
        blobstore.delete(name)
    size = sum(s for _, _, s in items)
    with transaction.atomic():
        counts = RetentionRun.objects.select_for_update().get(pk=made.pk).counts
        for key, value in ((f"{kind}_files", len(items)), (f"{kind}_bytes", size), (f"{kind}_shared_kept", kept)):
            counts[key] = counts.get(key, 0) + value
        RetentionRun.objects.filter(pk=made.pk).update(
            counts=counts, blobs_deleted=F("blobs_deleted") + len(items), bytes_deleted=F("bytes_deleted") + size,
            heartbeat_at=timezone.now())


def _delete_sources(made, sequence) -> None:
    """An uploaded source file still waiting (an ingest that stopped before removing it)."""
    names = list(IngestJob.objects.filter(sequence=sequence).values_list("upload_name", flat=True))
    items = [(name, size) for upload in names for name, size in staging.stored(upload)]
    if not items:
        return
    with transaction.atomic():
        _tombstones(made, sequence, SOURCE, [(name, sequence.source_sha256, size) for name, size in items])
    for upload in names:
        staging.discard(upload)


def _finish(run_id: int, outcomes: Counter) -> RetentionRun:
    digest = hashlib.sha256()
    for name, sha, size in (Tombstone.objects.filter(run_id=run_id).order_by("name")
                            .values_list("name", "sha256", "size").iterator(chunk_size=5000)):
        digest.update(f"{name} {sha} {size}\n".encode())
    with transaction.atomic():
        made = RetentionRun.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=run_id)
        if made.status != RetentionRun.RUNNING:
            return made
        made.counts = {**made.counts, **outcomes}
        made.status, made.finished_at = RetentionRun.DONE, timezone.now()
        made.message = (f"{made.blobs_deleted} file(s), {made.bytes_deleted:,} bytes deleted; "
                        f"{outcomes.get('raw_held', 0) + outcomes.get('derived_held', 0)} sequence(s) held, "
                        f"{outcomes.get('raw_waiting', 0)} waiting for derived renditions")
        made.save(update_fields=["counts", "status", "finished_at", "message"])
        audit.record(made.created_by, "retention.run.done", made, {
            "dataset": made.dataset.name if made.dataset else None, "files": made.blobs_deleted,
            "bytes": made.bytes_deleted, "counts": made.counts, "tombstones_sha256": digest.hexdigest()},
            dataset=made.dataset_id)
    return made


def sweep(now=None) -> dict:
    """Celery beat: resume a run whose worker died, else start one when the last began longer
    than AERIE_RETENTION_EVERY_S ago."""
    now = now or timezone.now()
    running = RetentionRun.objects.filter(status=RetentionRun.RUNNING).first()
    if running is not None:
        if running.heartbeat_at is None or running.heartbeat_at < now - timedelta(seconds=STALE_S):
            RetentionRun.objects.filter(pk=running.pk).update(heartbeat_at=now)
            jobs.enqueue("retention_run", running.pk)
            return {"retention_resumed": running.pk}
        return {}
    last = RetentionRun.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and last > now - timedelta(seconds=settings.AERIE_RETENTION_EVERY_S):
        return {}
    with transaction.atomic():
        made = start(reason="schedule")
        if made is None:
            return {}
        jobs.enqueue("retention_run", made.pk)
    return {"retention_started": made.pk}
