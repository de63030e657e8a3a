"""What retention has decided about a sequence, asked by the code that serves, exports and
re-renders frames (it never imports those: they import this).

A sequence's raw frames are *expired* from the moment a retention run decides they go
(`Sequence.raw_expired_at`), before the first file is deleted: from then on every image of its
frames is the derived rendition, for raw-access holders too, and whoever asks for raw explicitly
(a raw export) gets `Gone` with the reason. Derived renditions expire the same way, after which
the frame's labels remain but no image of it is served."""
from __future__ import annotations

from django.db import connection
from django.db.models import Q

from labeling.models import LegalHold, Sequence, Tombstone
from labeling.models.footage import blob_path


class Gone(LookupError):
    """What was asked for was deleted under a retention policy (HTTP 410); the message says when
    and under which policy."""


def raw_expired(sequence: Sequence) -> bool:
    return sequence.raw_expired_at is not None


def derived_expired(sequence: Sequence) -> bool:
    return sequence.derived_expired_at is not None


def reason(sequence: Sequence, kind: str = "raw") -> str:
    """Why a sequence's raw frames (or derived renditions) are no longer served."""
    when = sequence.raw_expired_at if kind == "raw" else sequence.derived_expired_at
    what = "raw frames" if kind == "raw" else "images (raw and derived)"
    dataset = sequence.dataset
    days = dataset.raw_retention_days if kind == "raw" else dataset.derived_retention_days
    policy = f" (kept {days} days after ingest)" if days is not None else ""
    return (f"the {what} of sequence '{sequence.name}' were deleted under the retention policy of dataset "
            f"'{dataset.name}'{policy} on {when:%Y-%m-%d}")


def check_derived(sequence: Sequence) -> None:
    """Raise Gone when the sequence's derived renditions were deleted (nothing of it is served)."""
    if derived_expired(sequence):
        raise Gone(reason(sequence, "derived"))


def check_raw(sequence: Sequence) -> None:
    if raw_expired(sequence):
        raise Gone(reason(sequence, "raw"))


def live_holds(dataset_id: int | None = None, sequence: Sequence | None = None):
    """The live holds covering a dataset, or a sequence (its own and its dataset's)."""
    holds = LegalHold.objects.filter(lifted_at__isnull=True)
    if sequence is not None:
        return holds.filter(Q(sequence=sequence) | Q(dataset_id=sequence.dataset_id))
    return holds.filter(dataset_id=dataset_id)


def is_held(sequence: Sequence) -> bool:
    return live_holds(sequence=sequence).exists()


#: SQL: the sequence `s` is under a live hold (its own or its dataset's)
HELD_SQL = """EXISTS (SELECT 1 FROM labeling_legalhold h WHERE h.lifted_at IS NULL
                      AND (h.sequence_id = s.id OR h.dataset_id = s.dataset_id))"""


def tombstones(names) -> dict[str, Tombstone]:
    """The latest tombstone of each of these storage names that has one."""
    out = {}
    for stone in Tombstone.objects.filter(name__in=list(names)).select_related("dataset").order_by("name", "-pk"):
        out.setdefault(stone.name, stone)
    return out


def lock_for_retention(sequence_id: int, dataset_id: int) -> None:
    """Inside a transaction: share-lock the dataset and sequence rows, so a legal hold placed
    meanwhile (which locks them for update) waits until this step is written, and one placed
    before is seen."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM labeling_dataset WHERE id = %s FOR SHARE", [dataset_id])
        cur.execute("SELECT 1 FROM labeling_sequence WHERE id = %s FOR SHARE", [sequence_id])


#: SQL, for a frame `f`: its current derived rendition's sha256 once retention deleted its raw
#: frame (else NULL): what the models read instead (model_image)
DERIVED_FOR_MODELS_SQL = """(SELECT d.sha256 FROM labeling_derivedframe d JOIN labeling_sequence rs
                            ON rs.id = f.sequence_id AND rs.raw_expired_at IS NOT NULL
                            WHERE d.frame_id = f.id AND d.current)"""


def model_image(sha: str, ext: str, derived_sha: str | None) -> str:
    """The image a model scores or trains on: the raw frame, or its derived rendition once
    retention deleted the raw one (DERIVED_FOR_MODELS_SQL)."""
    return blob_path("derived", derived_sha, "jpg") if derived_sha else blob_path("frames", sha, ext)
