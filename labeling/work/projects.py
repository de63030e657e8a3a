"""Projects and their members are created and changed here, whoever asks (the API, the Django
admin, the demo): the checks, the queue that follows the project's dataset and stride, and the
audit event live in one place. (A project saved around this once got no queue items.)"""
from __future__ import annotations

from django.db import transaction

from labeling import audit
from labeling.jobs import enqueue
from labeling.models import Assignment, Membership, Project, QueueItem, Segment
from labeling.work import queue

#: what a project's audit event records of it
AUDITED = ("name", "description", "dataset_id", "ontology_version_id", "overlap", "agreement_threshold",
           "iou_threshold", "gold_rate", "consensus_quorum", "frame_stride", "sampling_strategy", "sampling_batch",
           "sampling_min_gap")


class ProjectError(ValueError):
    """The change is refused; nothing was written. `field` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_ontology_version(version) -> None:
    if not version.is_published:
        raise ProjectError("ontology_version", "a project uses a published ontology version; publish it first")


def save_project(project: Project, user) -> Project:
    """Save a new or changed project (its fields set by the caller), queue its dataset's ready
    frames in the project's stride order, and audit it."""
    check_ontology_version(project.ontology_version)
    creating = project.pk is None
    with transaction.atomic():
        rescore = []
        if not creating:
            _check_work_unit(project)
            rescore = _agreement_changes(project)
        if creating and project.created_by_id is None and getattr(user, "is_authenticated", False):
            project.created_by = user
        project.save()
        queue.sync_queue(project)  # new frames, and the order if the stride changed
        audit.record(user, "project.create" if creating else "project.update", project,
                     {name.removesuffix("_id"): getattr(project, name) for name in AUDITED})
        if rescore and project.work_unit == Project.FRAME:
            # every frame's agreement again, in the background (labeling.quality.rescoring)
            changed = ", ".join(name.removesuffix("_id") for name in rescore)
            enqueue("start_agreement_rescore", project.pk, f"{changed} changed",
                    user.pk if getattr(user, "is_authenticated", False) else None)
    return project


#: the settings a frame's agreement, consensus and review item depend on (a new ontology version:
#: the rounds' labels, migrated to it, are compared and fused in its classes)
AGREEMENT_FIELDS = ("iou_threshold", "agreement_threshold", "consensus_quorum", "ontology_version_id")


def _agreement_changes(project: Project) -> list[str]:
    """Which of AGREEMENT_FIELDS this save changes."""
    before = Project.objects.values(*AGREEMENT_FIELDS).get(pk=project.pk)
    return [name for name in AGREEMENT_FIELDS if before[name] != getattr(project, name)]


WORK_UNIT_FIELDS = ("work_unit", "segment_length", "segment_shared")


def _check_work_unit(project: Project) -> None:
    """What a project hands out can change only until the first lease: frames and segments are
    queued differently, and work done on one cut is tied to it."""
    before = Project.objects.select_for_update().values(*WORK_UNIT_FIELDS).get(pk=project.pk)
    changed = [name for name in WORK_UNIT_FIELDS if before[name] != getattr(project, name)]
    if not changed:
        return
    if Assignment.objects.filter(project=project).exists():
        raise ProjectError(changed[0], "cannot change once labeling has started in this project")
    QueueItem.objects.filter(project=project).delete()  # nothing was handed out: queue it anew
    Segment.objects.filter(project=project).delete()


def add_member(project: Project, member, by) -> Membership:
    with transaction.atomic():
        if Membership.objects.filter(project=project, user=member).exists():
            raise ProjectError("username", f"{member.username} is already a member")
        membership = Membership.objects.create(project=project, user=member,
                                               added_by=by if getattr(by, "is_authenticated", False) else None)
        audit.record(by, "project.member.add", project, {"user": member.username})
    return membership


def remove_member(membership: Membership, by) -> None:
    with transaction.atomic():
        audit.record(by, "project.member.remove", membership.project, {"user": membership.user.username})
        membership.delete()
