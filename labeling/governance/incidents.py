"""Incidents: something a model version did wrong, filed by anyone on the project (from the
labeling or review page, with the frame on screen and a note) and triaged by QA leads and admins:
confirmed, not a model fault, or fixed in a later version. A confirmed incident that is still
open blocks promotion where the project says so (`governance.promotion`)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.access import roles
from labeling.models import Frame, Incident, ModelVersion

KINDS = {k for k, _ in Incident.KINDS}
TRIAGE = {Incident.OPEN, Incident.CONFIRMED, Incident.NOT_MODEL, Incident.FIXED}


class IncidentError(ValueError):
    """Refused; nothing was stored."""


def _member(user, project) -> bool:
    return roles.visible_project(user, project.pk) is not None


def file(project, version: ModelVersion, user, kind: str, note: str, frame: Frame | None = None) -> Incident:
    if not _member(user, project):
        raise IncidentError("only people on the project file incidents")
    if version is None or version.project_id != project.pk:
        raise IncidentError("model_version: a model version of this project")
    if kind not in KINDS:
        raise IncidentError(f"kind: one of {', '.join(sorted(KINDS))}")
    note = (note or "").strip()
    if not note:
        raise IncidentError("note: say what the model did wrong")
    if frame is not None and frame.sequence.dataset_id != project.dataset_id:
        raise IncidentError("frame: a frame of this project's dataset")
    with transaction.atomic():
        incident = Incident.objects.create(project=project, model_version=version, frame=frame, kind=kind,
                                           note=note, filed_by=user)
        audit.record(user, "incident.file", incident, {"model_version": version.pk, "kind": kind,
                                                       "frame": frame.pk if frame else None})
    return incident


def triage(incident: Incident, user, status: str, note: str = "", fixed_in: ModelVersion | None = None) -> Incident:
    if not roles.can_review(user) or not _member(user, incident.project):
        raise IncidentError("only QA leads and admins triage incidents")
    if status not in TRIAGE:
        raise IncidentError(f"status: one of {', '.join(sorted(TRIAGE))}")
    if status == Incident.FIXED:
        if fixed_in is None:
            raise IncidentError("fixed_in: the version that fixes it")
        version = incident.model_version
        if fixed_in.project_id != incident.project_id or fixed_in.pk == version.pk \
                or fixed_in.created_at <= version.created_at:
            raise IncidentError("fixed_in: a later version of the same project")
    elif fixed_in is not None:
        raise IncidentError("fixed_in: only for status fixed")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        before = incident.status
        incident.status, incident.triage_note, incident.fixed_in = status, (note or "").strip(), fixed_in
        incident.triaged_by, incident.triaged_at = user, timezone.now()
        incident.save(update_fields=["status", "triage_note", "fixed_in", "triaged_by", "triaged_at"])
        audit.record(user, "incident.triage", incident, {"from": before, "to": status, "note": incident.triage_note,
                                                         "fixed_in": fixed_in.pk if fixed_in else None})
    return incident


def open_incidents(version: ModelVersion):
    """Those not yet closed: open (untriaged) and confirmed."""
    return version.incidents.filter(status__in=[Incident.OPEN, Incident.CONFIRMED])
