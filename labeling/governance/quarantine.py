"""Quarantine: an annotator's submissions to a project over a time range set aside, the response
to poisoned labels. Nothing is deleted and it is reversible.

While a quarantine stands, a revision its annotator made in the range does not count toward
agreement or consensus (`labeling.quality.labels.round_annotations` leaves it out: the one place
that says whose labels count). Each affected frame is then re-scored and re-fused from the
remaining annotators, by an agreement run in the background once the quarantine commits
(labeling.quality.rescoring: chunked, batched, audited at its start and end); where fewer
than the project's `overlap` remain, its queue item's counts leave the quarantined work out, so
the queue hands the frame to another annotator (the quarantined one already has an assignment on
it and is never served it again), and the frame is scored when that annotator submits. Its
earlier consensus stays approved until then.

Model versions whose training snapshot holds approved labels made on an affected frame after the
quarantined submission are flagged in `lineage["quarantine_flags"]` (shown on the model's card).
Versions trained before lineage kept `approved_snapshot.annotation_ids` are judged by time: the
approved revision that was the frame's head when the version was registered.

Lifting re-counts and re-scores the same frames with the annotator's work again, and marks the
flags lifted (kept: the card shows the history)."""
from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from labeling import audit
from labeling.access import roles
from labeling.models import Annotation, ModelVersion, Project, Quarantine
from labeling.quality import rescoring
from labeling.quality.labels import round_annotations

MAX_REASON = 2000


class QuarantineError(ValueError):
    pass


class QuarantineDenied(PermissionError):
    pass


def _check_lead(project: Project, user) -> None:
    if not roles.can_review(user) or not roles.visible_projects(user).filter(pk=project.pk).exists():
        raise QuarantineDenied("only a QA lead or an admin of this project can quarantine or lift submissions")


def _aware(value, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise QuarantineError(f"{name} must be a date and time")
    if timezone.is_naive(value):
        raise QuarantineError(f"{name} must carry a time zone")
    return value


def quarantine(project: Project, annotator, starts_at, ends_at, reason: str, by) -> Quarantine:
    """Set aside `annotator`'s submissions to `project` made in [starts_at, ends_at); re-score
    the frames they touched and flag the model versions trained on them."""
    _check_lead(project, by)
    reason = (reason or "").strip()
    if not reason:
        raise QuarantineError("say why these submissions are quarantined (reason)")
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise QuarantineError("the range must end after it starts")
    if annotator is None or not getattr(annotator, "pk", None):
        raise QuarantineError("name the annotator whose submissions are quarantined")
    with transaction.atomic():
        q = Quarantine.objects.create(project=project, annotator=annotator, starts_at=starts_at, ends_at=ends_at,
                                      reason=reason[:MAX_REASON], created_by=by)
        frames = affected_frames(q)
        audit.record(by, "quarantine.create", q, {
            "project": project.pk, "annotator": annotator.pk, "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(), "reason": q.reason, "submissions": len(submissions(q)),
            "frames": len(frames)})
        flagged = flag_model_versions(q)
        if flagged:
            audit.record(by, "quarantine.flag_models", q, {"project": project.pk, "versions": flagged})
    refresh_frames(project, frames, reason=f"quarantine {q.pk} of {annotator.username}", user=by)
    return q


def lift(q: Quarantine, by, reason: str) -> Quarantine:
    """End a quarantine: the annotator's work counts again; the same frames are re-scored."""
    _check_lead(q.project, by)
    reason = (reason or "").strip()
    if not reason:
        raise QuarantineError("say why the quarantine is lifted (reason)")
    with transaction.atomic():
        q = Quarantine.objects.select_for_update().select_related("project").get(pk=q.pk)
        if q.lifted_at is not None:
            raise QuarantineError("this quarantine was already lifted")
        q.lifted_at, q.lifted_by, q.lift_reason = timezone.now(), by, reason[:MAX_REASON]
        q.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        frames = affected_frames(q)
        _mark_flags_lifted(q)
        audit.record(by, "quarantine.lift", q, {"project": q.project_id, "annotator": q.annotator_id,
                                                "reason": q.lift_reason, "frames": len(frames)})
    refresh_frames(q.project, frames, reason=f"quarantine {q.pk} lifted", user=by)
    return q


# ------------------------------------------------------------------------------ which work

def _covered(q: Quarantine):
    return Annotation.objects.filter(project_id=q.project_id, annotator_id=q.annotator_id, source=Annotation.HUMAN,
                                     created_at__gte=q.starts_at, created_at__lt=q.ends_at)


def submissions(q: Quarantine) -> list[int]:
    """Ids of the revisions the quarantine covers (every revision, current or not)."""
    return list(_covered(q).order_by("pk").values_list("pk", flat=True))


def affected_frames(q: Quarantine) -> list[int]:
    return sorted(set(_covered(q).values_list("frame_id", flat=True)))


# ------------------------------------------------------------------------------ re-scoring

_RECOUNT = """
UPDATE labeling_queueitem qi
SET submitted = %(submitted)s, assigned = live.n + %(submitted)s,
    is_open = NOT qi.gold AND live.n + %(submitted)s < %(overlap)s
FROM (SELECT count(*) AS n FROM labeling_assignment s
      WHERE s.item_id = %(item)s AND s.status = 'active') live
WHERE qi.id = %(item)s
"""


def refresh_frames(project: Project, frame_ids: list[int], *, reason: str = "quarantine", user=None) -> dict:
    """Each frame: its queue counts from the submissions that count now (the quarantined ones
    left out), at once; the frames where enough remain are then re-scored and re-fused by an
    agreement run (labeling.quality.rescoring: chunked, in the background, once this commits).
    Idempotent."""
    from labeling.models import QueueItem

    ready, reopened = [], 0
    items = dict(QueueItem.objects.filter(project=project, frame_id__in=frame_ids, segment__isnull=True,
                                          gold=False).values_list("frame_id", "pk"))
    for frame_id in frame_ids:
        item = items.get(frame_id)
        if item is None:
            continue
        with transaction.atomic():
            QueueItem.objects.select_for_update().filter(pk=item).first()
            heads = round_annotations(project.pk, frame_id)
            with connection.cursor() as cur:
                cur.execute(_RECOUNT, {"submitted": len(heads), "overlap": project.overlap, "item": item})
        if len(heads) >= project.overlap:
            ready.append(frame_id)
        else:
            reopened += 1
    run = rescoring.start_run(project, reason=reason, user=user, frame_ids=ready) if ready else None
    return {"rescored": len(ready), "reopened": reopened, "run": run.pk if run else None}


# ------------------------------------------------------------------------------ model versions

_USED = """
WITH hit AS (
    SELECT frame_id, min(created_at) AS first_at FROM labeling_annotation
    WHERE project_id = %(project)s AND annotator_id = %(annotator)s AND source = 'human'
      AND created_at >= %(starts)s AND created_at < %(ends)s
    GROUP BY frame_id
)
SELECT count(DISTINCT a.frame_id) FROM labeling_annotation a JOIN hit ON hit.frame_id = a.frame_id
WHERE a.project_id = %(project)s AND a.status = 'approved' AND a.created_at > hit.first_at
  AND CASE WHEN %(ids)s::bigint[] IS NOT NULL THEN a.id = ANY(%(ids)s::bigint[])
           ELSE a.created_at <= %(registered)s
                AND NOT EXISTS (SELECT 1 FROM labeling_annotation n
                                WHERE n.supersedes_id = a.id AND n.created_at <= %(registered)s) END
"""


def used_by(q: Quarantine, version: ModelVersion) -> int:
    """How many of `version`'s training frames had approved labels made after a submission `q`
    covers (those labels may carry the quarantined work)."""
    snapshot = (version.lineage or {}).get("approved_snapshot") or {}
    ids = snapshot.get("annotation_ids")
    with connection.cursor() as cur:
        cur.execute(_USED, {"project": q.project_id, "annotator": q.annotator_id, "starts": q.starts_at,
                            "ends": q.ends_at, "ids": ids, "registered": version.created_at})
        return cur.fetchone()[0]


def flag_model_versions(q: Quarantine) -> list[int]:
    """Record the quarantine on each of the project's model versions that learned from it."""
    flagged = []
    for version in ModelVersion.objects.select_for_update().filter(project_id=q.project_id).order_by("pk"):
        count = used_by(q, version)
        if not count:
            continue
        lineage = dict(version.lineage or {})
        flags = [f for f in lineage.get("quarantine_flags", []) if f.get("quarantine") != q.pk]
        flags.append({"quarantine": q.pk, "annotator": q.annotator_id, "annotator_name": q.annotator.username,
                      "count": count, "flagged_at": timezone.now().isoformat(), "lifted": False})
        lineage["quarantine_flags"] = flags
        ModelVersion.objects.filter(pk=version.pk).update(lineage=lineage)
        flagged.append(version.pk)
    return flagged


def _mark_flags_lifted(q: Quarantine) -> None:
    for version in ModelVersion.objects.select_for_update().filter(project_id=q.project_id,
                                                                   lineage__has_key="quarantine_flags"):
        lineage = dict(version.lineage)
        flags = lineage["quarantine_flags"]
        if not any(f.get("quarantine") == q.pk for f in flags):
            continue
        lineage["quarantine_flags"] = [{**f, "lifted": True, "lifted_at": q.lifted_at.isoformat()}
                                       if f.get("quarantine") == q.pk else f for f in flags]
        ModelVersion.objects.filter(pk=version.pk).update(lineage=lineage)


def open_flags(version: ModelVersion) -> list[dict]:
    """The quarantines standing against a version (for its card)."""
    return [f for f in (version.lineage or {}).get("quarantine_flags", []) if not f.get("lifted")]


def standing(project: Project):
    return Quarantine.objects.filter(project=project, lifted_at__isnull=True).select_related("annotator", "created_by")
