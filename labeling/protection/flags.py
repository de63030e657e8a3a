"""Which frames are sensitive, and why. A frame becomes sensitive when

- the uploader marks its dataset, its sequence or a range of its frames (`mark_dataset`,
  `mark_sequence`; ingest marks a sequence uploaded as graphic);
- an annotation on it uses a class flagged `sensitive` in the ontology (`from_annotation`, called
  by every write of annotations);
- an annotator reports it, with an optional note (`report`);
- the current model scores it at or above the project's threshold for a sensitive class
  (`flag_from_model`, called by the scoring task).

Sensitivity only grows here; a QA lead can clear a wrong flag with a reason (`clearing`). Every decision is a
SensitivityFlag row (its source, who or what, the note, class, model and score) and an audit
event; the frame's `sensitive` column is what the queue and the image route read."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection, transaction

from labeling import audit
from labeling.models import (
    Dataset,
    Frame,
    ModelVersion,
    Project,
    SensitivityFlag,
    Sequence,
)
from labeling.protection.policy import forget_sensitive, policy_for


class FlagError(ValueError):
    pass


def _sensitize(where: str, params: list) -> list[int]:
    """Make the frames matching `where` (alias f) sensitive; returns the ids that were not yet."""
    with connection.cursor() as cur:
        cur.execute(f"UPDATE labeling_frame f SET sensitive = true WHERE ({where}) AND NOT f.sensitive RETURNING f.id",
                    params)
        made = [row[0] for row in cur.fetchall()]
        if made:  # the segments holding them (segment projects) become sensitive too
            cur.execute(
                """
                UPDATE labeling_segment sg SET sensitive = true FROM labeling_frame f
                WHERE f.id = ANY(%s) AND sg.sequence_id = f.sequence_id AND NOT sg.sensitive
                  AND f.index BETWEEN sg.first_index AND sg.last_index
                """, [made])
        return made


def _forget(dataset_id: int) -> None:
    forget_sensitive(Project.objects.filter(dataset_id=dataset_id).values_list("pk", flat=True))


def mark_dataset(dataset: Dataset, user, note: str = "") -> SensitivityFlag:
    """The uploader marks all footage in a dataset graphic (now and ingested later)."""
    with transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(sensitive=True)
        Sequence.objects.filter(dataset=dataset).update(sensitive=True)
        made = _sensitize("f.sequence_id IN (SELECT id FROM labeling_sequence WHERE dataset_id = %s)", [dataset.pk])
        flag = SensitivityFlag.objects.create(source=SensitivityFlag.UPLOADER, dataset=dataset, actor=_who(user),
                                              note=note[:2000], frames=len(made))
        audit.record(user, "protection.flag", flag, {"source": flag.source, "dataset": dataset.pk, "frames": len(made)})
    dataset.sensitive = True
    _forget(dataset.pk)
    return flag


def mark_sequence(sequence: Sequence, user, *, first_index: int | None = None, last_index: int | None = None,
                  note: str = "") -> SensitivityFlag:
    """The uploader marks a sequence graphic, or only its frames first_index..last_index
    (inclusive)."""
    ranged = first_index is not None or last_index is not None
    if ranged:
        first = 0 if first_index is None else int(first_index)
        last = (sequence.frame_count - 1) if last_index is None else int(last_index)
        if first < 0 or last < first:
            raise FlagError("first_index..last_index must be a range of frame indices (first ≤ last)")
    with transaction.atomic():
        if ranged:
            made = _sensitize("f.sequence_id = %s AND f.index BETWEEN %s AND %s", [sequence.pk, first, last])
        else:
            Sequence.objects.filter(pk=sequence.pk).update(sensitive=True)
            made = _sensitize("f.sequence_id = %s", [sequence.pk])
        flag = SensitivityFlag.objects.create(
            source=SensitivityFlag.UPLOADER, dataset_id=sequence.dataset_id, sequence=sequence, actor=_who(user),
            first_index=first if ranged else None, last_index=last if ranged else None, note=note[:2000],
            frames=len(made))
        audit.record(user, "protection.flag", flag, {"source": flag.source, "sequence": sequence.pk,
                                                     "range": [first, last] if ranged else None, "frames": len(made)})
    _forget(sequence.dataset_id)
    return flag


def on_ingested(sequence: Sequence, user) -> None:
    """After ingest: a sequence of a sensitive dataset, or one uploaded as graphic, has all its
    frames sensitive (also those written while a mark ran concurrently), with the uploader's flag."""
    dataset_sensitive = Dataset.objects.filter(pk=sequence.dataset_id, sensitive=True).exists()
    if not (dataset_sensitive or Sequence.objects.filter(pk=sequence.pk, sensitive=True).exists()):
        return
    with transaction.atomic():
        Sequence.objects.filter(pk=sequence.pk).update(sensitive=True)
        made = _sensitize("f.sequence_id = %s", [sequence.pk])
        flag = SensitivityFlag.objects.create(
            source=SensitivityFlag.UPLOADER, dataset_id=sequence.dataset_id, sequence_id=sequence.pk,
            actor=_who(user), frames=len(made),
            note="dataset marked sensitive" if dataset_sensitive else "uploaded as graphic content")
        audit.record(user, "protection.flag", flag, {"source": flag.source, "sequence": sequence.pk,
                                                     "frames": len(made)})
    _forget(sequence.dataset_id)


def from_annotation(project_id: int, frame_id: int, annotation_id: int | None, label_classes, user) -> bool:
    """An annotation used sensitive classes: the frame is sensitive from now on. Returns whether
    it was not before."""
    classes = [c for c in label_classes if c.sensitive]
    if not classes:
        return False
    with transaction.atomic():
        made = _sensitize("f.id = %s", [frame_id])
        for label_class in {c.pk: c for c in classes}.values():
            flag = SensitivityFlag.objects.create(
                source=SensitivityFlag.ANNOTATION, frame_id=frame_id, project_id=project_id,
                annotation_id=annotation_id, label_class=label_class, actor=_who(user), frames=len(made),
                note=f"labeled '{label_class.key}'")
            audit.record(user, "protection.flag", flag, {"source": flag.source, "frame": frame_id,
                                                         "class": label_class.key, "annotation": annotation_id})
            made = []  # counted once
    forget_sensitive([project_id])  # other projects on the dataset: within seconds (policy.has_sensitive)
    return True


def report(frame: Frame, user, note: str = "", project: Project | None = None) -> SensitivityFlag:
    """An annotator reports graphic content on a frame (one click, optional note)."""
    with transaction.atomic():
        made = _sensitize("f.id = %s", [frame.pk])
        flag = SensitivityFlag.objects.create(source=SensitivityFlag.REPORT, frame=frame, project=project,
                                              actor=_who(user), note=(note or "").strip()[:2000], frames=len(made))
        audit.record(user, "protection.flag", flag, {"source": flag.source, "frame": frame.pk, "note": flag.note})
    frame.sensitive = True
    _forget(Sequence.objects.filter(pk=frame.sequence_id).values_list("dataset_id", flat=True).first())
    return flag


def flag_from_model(project: Project, frame_ids_with_scores: Mapping[int, float] | Iterable[tuple[int, float]],
                    model_version: ModelVersion, *, label_class=None) -> list[int]:
    """The scoring task's hook: frames whose highest score for a sensitive class is at or above
    the project's `model_threshold` become sensitive, each with a flag naming the model version
    and the score. Frames outside the project's dataset are ignored. Idempotent: a frame already
    flagged by this model version is not flagged again. Returns the ids of frames flagged now."""
    pairs = frame_ids_with_scores.items() if isinstance(frame_ids_with_scores, Mapping) else frame_ids_with_scores
    threshold = policy_for(project).model_threshold
    above = {}
    for frame_id, score in pairs:
        if score is not None and float(score) >= threshold:
            above[int(frame_id)] = max(float(score), above.get(int(frame_id), 0.0))
    if not above:
        return []
    with transaction.atomic():
        ids = list(Frame.objects.filter(pk__in=list(above), sequence__dataset_id=project.dataset_id)
                   .exclude(pk__in=SensitivityFlag.objects.filter(source=SensitivityFlag.MODEL,
                                                                  model_version=model_version,
                                                                  frame_id__in=list(above)).values("frame_id"))
                   # a QA lead cleared it: no model flags it again (protection.clearing)
                   .exclude(pk__in=SensitivityFlag.objects.filter(source=SensitivityFlag.CLEARED,
                                                                  frame_id__in=list(above)).values("frame_id"))
                   .values_list("pk", flat=True))
        if not ids:
            return []
        made = set(_sensitize("f.id = ANY(%s)", [ids]))
        SensitivityFlag.objects.bulk_create(
            SensitivityFlag(source=SensitivityFlag.MODEL, frame_id=i, project=project, model_version=model_version,
                            label_class=label_class, score=above[i], frames=int(i in made),
                            note=f"score {above[i]:.3f} ≥ {threshold:g}")
            for i in sorted(ids))
        audit.record(None, "protection.flag", model_version, {"source": SensitivityFlag.MODEL, "project": project.pk,
                                                              "frames": sorted(ids), "threshold": threshold})
    _forget(project.dataset_id)
    return sorted(ids)


def sources(frame_id: int) -> list[dict]:
    """Why a frame is sensitive: every flag that covers it, newest first."""
    frame = Frame.objects.select_related("sequence").get(pk=frame_id)
    from django.db.models import Q

    flags = SensitivityFlag.objects.filter(
        Q(frame_id=frame_id) | Q(sequence_id=frame.sequence_id, first_index__isnull=True, frame__isnull=True)
        | Q(sequence_id=frame.sequence_id, first_index__lte=frame.index, last_index__gte=frame.index)
        | Q(dataset_id=frame.sequence.dataset_id, sequence__isnull=True, frame__isnull=True)
    ).select_related("actor", "label_class", "model_version")
    return [{"source": f.source, "label": f.get_source_display(), "at": f.at.isoformat(),
             "by": f.actor.username if f.actor else None, "note": f.note,
             "class": f.label_class.key if f.label_class else None,
             "model_version": f.model_version_id, "score": f.score} for f in flags]


def _who(user):
    return user if getattr(user, "is_authenticated", False) else None
