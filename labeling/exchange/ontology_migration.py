"""Moving annotations between ontology versions along an explicit OntologyMigration.

Preview counts what would change; apply writes a new revision for every current annotation
pinned to the old version (source 'migration'), never touching the old rows. The revisions are
written by the submissions code, like every other annotation (`submissions.store_many`)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from labeling import audit, jobs
from labeling.models import Annotation, AnnotationBox, AnnotationTag, Frame, Project
from labeling.work import submissions
from labeling.work.payloads import CleanBox, CleanTag
from labeling.work.submissions import Revision
from ontology.models import LabelClass, OntologyMigration


@dataclass
class MigrationPreview:
    annotations: int = 0
    annotations_changed: int = 0
    boxes_remapped: Counter = field(default_factory=Counter)
    boxes_dropped: Counter = field(default_factory=Counter)
    tags_remapped: Counter = field(default_factory=Counter)
    tags_dropped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "annotations": self.annotations,
            "annotations_changed": self.annotations_changed,
            "boxes_remapped": dict(self.boxes_remapped),
            "boxes_dropped": dict(self.boxes_dropped),
            "tags_remapped": dict(self.tags_remapped),
            "tags_dropped": dict(self.tags_dropped),
        }


def current_annotations(version_id: int):
    """Head revisions (not superseded) pinned to an ontology version."""
    return Annotation.objects.filter(ontology_version_id=version_id, superseded_by__isnull=True)


def _class_maps(migration: OntologyMigration):
    old = {c.pk: c.key for c in LabelClass.objects.filter(version=migration.from_version)}
    new = {c.key: c for c in LabelClass.objects.filter(version=migration.to_version)}
    return old, new


def preview(migration: OntologyMigration, projects=None) -> MigrationPreview:
    """What applying would change. `projects` (a queryset of projects) limits the counts to
    them: someone who is not an admin sees only their own projects' work, not how much other
    projects on the same ontology version labelled."""
    old, _ = _class_maps(migration)
    out = MigrationPreview()
    heads = current_annotations(migration.from_version_id)
    if projects is not None:
        heads = heads.filter(project__in=projects)
    out.annotations = heads.count()
    changed = set()
    for model, remapped, dropped in ((AnnotationBox, out.boxes_remapped, out.boxes_dropped),
                                     (AnnotationTag, out.tags_remapped, out.tags_dropped)):
        rows = model.objects.filter(annotation__in=heads).values_list("annotation_id", "label_class_id")
        for annotation_id, class_id in rows.iterator(chunk_size=10000):
            old_key = old[class_id]
            new_key = migration.mapping.get(old_key)
            if new_key is None:
                dropped[old_key] += 1
                changed.add(annotation_id)
            else:
                remapped[f"{old_key}→{new_key}"] += 1
                if new_key != old_key:
                    changed.add(annotation_id)
    out.annotations_changed = len(changed)
    return out


class MigrationError(ValueError):
    pass


@transaction.atomic
def apply(migration: OntologyMigration, *, user=None) -> int:
    """Write the new revisions. Returns how many were written. Applying twice is refused."""
    migration = OntologyMigration.objects.select_for_update().get(pk=migration.pk)
    if migration.applied_at:
        raise MigrationError(f"migration {migration.pk} was already applied at {migration.applied_at:%Y-%m-%d %H:%M}")
    old, new = _class_maps(migration)
    target = {old_id: new.get(migration.mapping.get(key)) for old_id, key in old.items()}
    heads = list(current_annotations(migration.from_version_id).select_for_update(of=("self",)).order_by("pk"))
    boxes_by, tags_by = {}, {}
    for box in AnnotationBox.objects.filter(annotation__in=heads).order_by("pk"):
        if target[box.label_class_id] is not None:
            boxes_by.setdefault(box.annotation_id, []).append(CleanBox(
                target[box.label_class_id], box.x, box.y, box.w, box.h, box.attributes, box.track_id,
                angle=box.angle))
    for tag in AnnotationTag.objects.filter(annotation__in=heads).order_by("pk"):
        if target[tag.label_class_id] is not None:  # a change verdict (`changed`) moves with its tag
            tags_by.setdefault(tag.annotation_id, []).append(CleanTag(target[tag.label_class_id], tag.attributes,
                                                                      tag.changed))
    written = submissions.store_many([Revision(
        project_id=head.project_id, frame=Frame(pk=head.frame_id, sequence_id=head.sequence_id, index=head.frame_index),
        boxes=boxes_by.get(head.pk, []), tags=tags_by.get(head.pk, []), source=Annotation.MIGRATION,
        status=head.status, ontology_version_id=migration.to_version_id, created_by=user,
        annotator_id=head.annotator_id, supersedes=head, note=f"ontology migration {migration.pk}",
        assignment_id=head.assignment_id) for head in heads])
    written = [a.pk for a in written]
    OntologyMigration.objects.filter(pk=migration.pk).update(
        applied_at=timezone.now(), applied_by=user, applied_revisions=len(heads)
    )
    audit.record(user, "ontology.migration.apply", migration, {  # every revision it wrote: ids first..last
        "revisions": len(heads), "first_revision": min(written, default=None),
        "last_revision": max(written, default=None), "projects": sorted({h.project_id for h in heads})})
    _rescore(migration, {h.project_id for h in heads}, user)
    return len(heads)


def _rescore(migration: OntologyMigration, project_ids: set[int], user) -> None:
    """The projects already on the target version score their frames' agreement again, on the
    migrated labels (a project that moves to it later does so then: labeling.work.projects)."""
    for project_id in sorted(Project.objects.filter(pk__in=project_ids, ontology_version_id=migration.to_version_id,
                                                    work_unit=Project.FRAME).values_list("pk", flat=True)):
        jobs.enqueue("start_agreement_rescore", project_id, f"ontology migration {migration.pk} applied",
                     user.pk if getattr(user, "is_authenticated", False) else None)
