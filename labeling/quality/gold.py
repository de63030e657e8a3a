"""Gold frames: frames with a known answer, mixed unannounced into annotators' queues.

- A QA lead marks a frame gold with an answer: their own labels, an existing annotation of the
  frame (e.g. the approved one or imported ground truth).
- A gold frame leaves the normal queue (its queue item is never "open") and is handed out only by
  the gold policy below, to each annotator at most once, at the project's `gold_rate`: before each
  new lease the policy serves a gold frame when the annotator's gold count lags the rate, with a
  random offset so that the position of gold frames cannot be predicted.
- Each submission on a gold frame is scored against the answer (F1 of the box matching, tags must
  agree); below the project's agreement threshold it fails and opens a review item.
"""
from __future__ import annotations

import random

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from labeling import audit
from labeling.access import cache
from labeling.models import (
    Annotation,
    Frame,
    GoldCheck,
    GoldFrame,
    Project,
    QueueItem,
    ReviewItem,
)
from labeling.quality import agreement, review_items
from labeling.quality.labels import load_labels, params_of
from labeling.work import lease_sql, queue
from labeling.work.payloads import classes_of, validate
from labeling.work.submissions import store


class GoldError(ValueError):
    pass


def mark(project: Project, frame: Frame, user, *, answer: Annotation | None = None, payload=None) -> GoldFrame:  # pragma: no mutate block
    """Make `frame` a gold frame of `project`, with an existing annotation or new labels as the answer."""
    if project.work_unit == Project.SEGMENT:
        raise GoldError("gold checks are single frames: a segment project hands out segments, whose tracks are "
                        "checked by agreement between annotators instead")
    if (answer is None) == (payload is None):
        raise GoldError("give either an annotation of the frame or labels (boxes and tags) as the answer")
    with transaction.atomic():
        item = QueueItem.objects.select_for_update().filter(project=project, frame=frame).first()
        if item is None:
            raise GoldError("this frame is not in the project's queue")
        if answer is not None and (answer.project_id != project.pk or answer.frame_id != frame.pk):
            raise GoldError("the answer must be an annotation of this frame in this project")
        if payload is not None:
            boxes, tags = validate(payload, classes_of(project.ontology_version_id), frame)
            answer = store(project=project, frame=frame, boxes=boxes, tags=tags, source=Annotation.REVIEW,
                           status=Annotation.SUBMITTED, created_by=user, annotator=user, note="gold answer")
        GoldFrame.objects.filter(project=project, frame=frame, active=True).update(active=False)
        gold = GoldFrame.objects.create(project=project, frame=frame, answer=answer, created_by=user)
        QueueItem.objects.filter(pk=item.pk).update(gold=True, is_open=False)
        audit.record(user, "gold.mark", gold, {"frame": frame.pk, "answer": answer.pk})
    cache.forget("gold", project.pk)
    return gold


def replace_answer(project: Project, frame: Frame, answer: Annotation, user) -> GoldFrame:  # pragma: no mutate block
    """QA found the gold answer wrong: a new answer (the old stays in history, inactive)."""
    GoldFrame.objects.filter(project=project, frame=frame, active=True).update(active=False)
    gold = GoldFrame.objects.create(project=project, frame=frame, answer=answer, created_by=user)
    audit.record(user, "gold.replace", gold, {"frame": frame.pk, "answer": answer.pk})
    return gold


def unmark(project: Project, frame: Frame, user) -> None:  # pragma: no mutate block
    with transaction.atomic():
        GoldFrame.objects.filter(project=project, frame=frame, active=True).update(active=False)
        item = QueueItem.objects.select_for_update().get(project=project, frame=frame)
        QueueItem.objects.filter(pk=item.pk).update(gold=False, is_open=item.assigned < project.overlap)
        audit.record(user, "gold.unmark", item, {"frame": frame.pk})
    cache.forget("gold", project.pk)


def check(annotation_id: int) -> GoldCheck | None:  # pragma: no mutate block
    """Score an annotator's submission on a gold frame against the answer (idempotent)."""
    with transaction.atomic():
        annotation = Annotation.objects.select_related("project").filter(pk=annotation_id).first()
        if annotation is None or annotation.source != Annotation.HUMAN:
            return None
        existing = GoldCheck.objects.filter(annotation=annotation).first()
        if existing:
            return existing
        gold = GoldFrame.objects.filter(project_id=annotation.project_id, frame_id=annotation.frame_id,
                                        active=True).select_related("frame").first()
        if gold is None:
            return None
        project = annotation.project
        labels = load_labels([gold.answer_id, annotation.pk])
        answer, given = labels[gold.answer_id], labels[annotation.pk]
        pair = agreement.match_boxes(answer.boxes, answer.classes, given.boxes, given.classes, params_of(project))
        tags_agree = answer.tags == given.tags
        score = pair.f1 if tags_agree else min(pair.f1, 0.0)
        made = GoldCheck.objects.create(gold=gold, project=project, annotation=annotation,
                                        annotator_id=annotation.annotator_id, score=score, precision=pair.precision,
                                        recall=pair.recall, passed=score >= project.agreement_threshold)
        audit.record(None, "gold.check", made, {"frame": annotation.frame_id, "annotator": annotation.annotator_id,
                                                "score": score, "passed": made.passed})
        if not made.passed:
            review_items.open_item(project, gold.frame, ReviewItem.GOLD, severity=score, annotators=[annotation.annotator_id],
                             classes=sorted(set(answer.classes) ^ set(given.classes) | set(answer.tags) ^ set(given.tags)),
                             gold_check=made, note=f"gold check {score:.2f} (precision {pair.precision:.2f}, "
                                                   f"recall {pair.recall:.2f}, tags {'agree' if tags_agree else 'differ'})")
    return made


def pending_checks(project_id: int | None = None) -> list[int]:  # pragma: no mutate block
    """Current human submissions on active gold frames that were never checked (the outbox's
    message was lost): annotation ids, oldest first."""
    annotations = Annotation.objects.filter(source=Annotation.HUMAN, superseded_by__isnull=True,
                                            gold_check__isnull=True)
    if project_id is not None:
        annotations = annotations.filter(project_id=project_id)
    # submitted while the frame was gold (work from before it became gold is not checked)
    on_gold = GoldFrame.objects.filter(project_id=OuterRef("project_id"), frame_id=OuterRef("frame_id"), active=True,
                                       created_at__lte=OuterRef("created_at"))
    return list(annotations.filter(Exists(on_gold)).order_by("pk").values_list("pk", flat=True))


# ------------------------------------------------------------------------------ mixing into the queue

def _project_has_gold(project_id: int) -> bool:  # pragma: no mutate block
    """Asked on every lease: per-process cache (labeling.access.cache's, a few seconds), index lookup."""
    return cache.cached("gold", project_id,
                       lambda: QueueItem.objects.filter(project_id=project_id, gold=True).exists())  # queue_gold_idx


def due(served: int, gold_served: int, rate: float, offset: float) -> bool:
    """Is a gold frame due now? Keeps an annotator's gold share within one frame of `rate`;
    `offset` in [0, 1) decides where inside that frame it falls."""
    return gold_served + offset < rate * (served + 1)


class GoldPolicy:
    """The queue policy that mixes gold frames in (registered when the app starts)."""

    candidates = 1
    reorders = False  # it only puts a due gold frame first (pick); the queue's order stands

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng or random.Random()

    def sql_filter(self, project, user):
        return None

    def choose(self, project, user, candidates):
        return candidates

    def pick(self, project: Project, user) -> queue.Candidate | None:  # pragma: no mutate block
        if project.gold_rate <= 0 or project.work_unit == Project.SEGMENT or not _project_has_gold(project.pk):
            return None
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT count(*), count(*) FILTER (WHERE qi.gold) FROM labeling_assignment a
                JOIN labeling_queueitem qi ON qi.id = a.item_id
                WHERE a.project_id = %s AND a.annotator_id = %s AND a.status <> 'expired'
                """,
                [project.pk, user.pk],
            )
            served, gold_served = cur.fetchone()
            if not due(served, gold_served, project.gold_rate, self.rng.random()):
                return None
            cur.execute(
                f"""
                SELECT {lease_sql.CANDIDATE_COLUMNS}
                FROM labeling_queueitem qi JOIN labeling_frame f ON f.id = qi.frame_id
                JOIN labeling_sequence s ON s.id = f.sequence_id
                WHERE qi.project_id = %s AND qi.gold
                  AND NOT EXISTS (SELECT 1 FROM labeling_assignment a
                                  WHERE a.item_id = qi.id AND a.annotator_id = %s AND a.status <> 'expired')
                ORDER BY random() LIMIT 1
                """,
                [project.pk, user.pk],
            )
            row = cur.fetchone()
        return queue.Candidate(*row) if row else None


def accuracy(project: Project) -> list[dict]:  # pragma: no mutate block
    """Per annotator: gold checks, passed, mean score."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT u.username, count(*), count(*) FILTER (WHERE g.passed), avg(g.score)
            FROM labeling_goldcheck g JOIN auth_user u ON u.id = g.annotator_id
            WHERE g.project_id = %s GROUP BY u.username ORDER BY u.username
            """,
            [project.pk],
        )
        return [{"annotator": name, "checks": n, "passed": ok, "accuracy": ok / n, "mean_score": float(mean)}
                for name, n, ok, mean in cur.fetchall()]
