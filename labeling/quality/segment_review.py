"""Review of a segment whose annotators disagree: every version's tracks on one shared timeline,
the disagreeing spans (frames where the annotators' objects or tags differ) and the pair scores;
the QA lead accepts one version or corrects it into the approved one (written by
`segment_scoring.approve`, stitched to the neighbours like a consensus), sends the segment back or
dismisses the item (`review.relabel` / `review.dismiss`, as for frames)."""
from __future__ import annotations

from labeling.models import (
    Annotation,
    Assignment,
    Frame,
    Project,
    ReviewItem,
    SegmentAgreement,
)
from labeling.quality import agreement, segment_scoring
from labeling.quality.labels import load_labels, params_of
from labeling.work import segment_tracks, segments
from labeling.work.payloads import CleanTag, classes_of, stored_box


def versions(item: ReviewItem) -> list[tuple[Assignment, Annotation]]:
    """(lease, its revision of the segment's first frame: the handle a decision names) of every
    submission of the segment's current round."""
    out = []
    for assignment in (Assignment.objects.filter(item__segment_id=item.segment_id, status=Assignment.SUBMITTED)
                       .select_related("annotator").order_by("annotator_id")):
        heads = segments.lease_heads(assignment.pk)
        first = next((a for a in heads if a.frame_id == item.frame_id), heads[0] if heads else None)
        if first is not None:
            out.append((assignment, first))
    return out


def _frames_of(assignment: Assignment) -> dict[int, tuple[list, list]]:
    return {a.frame_index: ([stored_box(b) for b in a.boxes.all()],
                            [CleanTag(t.label_class, t.attributes, t.changed) for t in a.tags.all()])
            for a in segments.lease_heads(assignment.pk)}


def accept(project: Project, item: ReviewItem, annotation_id: int, user, comment: str) -> Annotation:
    """One annotator's tracks become the segment's approved labels; returns the approved revision
    of the segment's first frame (the decision's result)."""
    assignment = next(a for a, handle in versions(item) if handle.pk == annotation_id)
    frames = {i: ([b for b in boxes if not b.outside], tags) for i, (boxes, tags) in _frames_of(assignment).items()}
    segment_scoring.approve(project, item.segment, item.round, frames,
                            comment or f"accepted {assignment.annotator.username}'s version", user=user)
    return _approved_first(project, item)


def edit(project: Project, item: ReviewItem, payload, user, comment: str) -> Annotation:
    """The QA lead's corrected tracks (the segment page's shape, checked like a submission)."""
    segment = item.segment
    frames = segments.frames_of(segment)
    tracks, tags = segment_tracks.validate(payload, classes_of(project.ontology_version_id), segment.first_index,
                                           segment.last_index, {f.index: (f.width, f.height) for f in frames})
    expanded = segment_tracks.expand(tracks, tags, segment.first_index, segment.last_index)
    frames_in = {i: ([b for b in boxes if not b.outside], t) for i, (boxes, t) in expanded.items()}
    segment_scoring.approve(project, segment, item.round, frames_in, comment or "edited in review", user=user)
    return _approved_first(project, item)


def _approved_first(project: Project, item: ReviewItem) -> Annotation:
    return Annotation.objects.filter(project=project, frame_id=item.frame_id, annotator__isnull=True,
                                     status=Annotation.APPROVED, superseded_by__isnull=True).order_by("-pk").first()


def disputed_spans(per_annotator: list[dict[int, agreement.Labels]], params) -> list[list[int]]:
    """[first, last] runs of frames where the annotators' objects, classes or tags differ."""
    disputed = []
    for index in sorted(set.intersection(*(set(p) for p in per_annotator)) if per_annotator else []):
        result = agreement.frame_agreement([p[index] for p in per_annotator], params)
        if any(len(set(row)) > 1 for row in result.units) or any(len(set(v)) > 1 for v in result.tag_units.values()):
            disputed.append(index)
    spans = []
    for index in disputed:
        if spans and spans[-1][1] == index - 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return spans


def describe(item: ReviewItem) -> dict:
    """What the review page and API show for a segment."""
    project, segment = item.project, item.segment
    found = versions(item)
    per_annotator = []
    for assignment, _ in found:
        heads = segments.lease_heads(assignment.pk)
        loaded = load_labels([a.pk for a in heads])
        per_annotator.append({a.frame_index: loaded[a.pk] for a in heads})
    made = SegmentAgreement.objects.filter(segment=segment, round=item.round).first()
    names = {a.annotator_id: a.annotator.username for a, _ in found}
    first = Frame.objects.get(pk=item.frame_id)
    return {
        "id": item.pk, "kind": "segment", "reason": item.reason, "reason_label": item.get_reason_display(),
        "status": item.status, "severity": item.severity, "note": item.note, "round": item.round,
        "segment": {"id": segment.pk, "first": segment.first_index, "last": segment.last_index,
                    "sequence": segment.sequence_id},
        "frame": item.frame_id, "width": first.width, "height": first.height, "sensitive": segment.sensitive,
        "score": made.score if made else None, "idf1": made.idf1 if made else None,
        "pairs": [{**p, "a": names.get(p["a"], p["a"]), "b": names.get(p["b"], p["b"])}
                  for p in (made.pairs if made else [])],
        "versions": [{"annotation": handle.pk, "assignment": assignment.pk, "who": assignment.annotator.username,
                      "kind": "annotator", **segments.tracks_of(assignment)} for assignment, handle in found],
        "disputed": disputed_spans(per_annotator, params_of(project)),
    }
