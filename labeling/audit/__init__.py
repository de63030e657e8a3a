"""The audit trail: every write that matters records one event here, inside its transaction.

Events are append-only (the database refuses UPDATE and DELETE) and the database chains each one
to the previous when its transaction commits (see labeling.audit.chain): whoever edits or removes
an event afterwards breaks the chain, and `manage.py verify_audit` says where.

An event belongs to a project and/or dataset when the object it names has one (or the caller
says so): that decides which QA leads see it (labeling.audit.query)."""
from __future__ import annotations

from django.utils import timezone

from labeling.models.audit import AuditEvent
from labeling.models.bulk_copy import as_json, copy_rows


def scope_of(obj, data: dict | None = None) -> tuple[int | None, int | None]:
    """(project id, dataset id) an event about `obj` belongs to, from what the object already
    holds (never a query): a project, a dataset, or anything with a project or dataset column;
    else a numeric 'project' in the event's data."""
    project_id = dataset_id = None
    if obj is not None:
        label = obj._meta.label_lower
        if label == "labeling.project":
            project_id, dataset_id = obj.pk, obj.dataset_id
        elif label == "labeling.dataset":
            dataset_id = obj.pk
        else:
            project_id = getattr(obj, "project_id", None)
            dataset_id = getattr(obj, "dataset_id", None)
    if project_id is None and data and isinstance(data.get("project"), int) and not isinstance(data["project"], bool):
        project_id = data["project"]
    return project_id, dataset_id


def record(actor, verb: str, obj=None, data: dict | None = None, *, project=None, dataset=None,
           object_type: str = "", object_id="") -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `verb` to `obj` (or to the object
    named by `object_type` and `object_id`). `project` and `dataset` (objects or ids) override
    what scope_of derives."""
    return AuditEvent.objects.create(**event(actor, verb, obj, data, project=project, dataset=dataset,
                                             object_type=object_type, object_id=object_id))


def event(actor, verb: str, obj=None, data: dict | None = None, *, project=None, dataset=None,
          object_type: str = "", object_id="") -> dict:
    """The columns of the event `record` would store (for `record_many`: no model instance)."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    project_id, dataset_id = scope_of(obj, data)
    if project is not None:
        project_id = getattr(project, "pk", project)
    if dataset is not None:
        dataset_id = getattr(dataset, "pk", dataset)
    return {
        "actor_id": actor.pk if actor is not None else None,
        "verb": verb,
        "object_type": obj._meta.label_lower if obj is not None else object_type[:64],
        "object_id": str(obj.pk) if obj is not None else str(object_id)[:64],
        "data": data or {},
        "project_id": project_id,
        "dataset_id": dataset_id,
    }


#: what `event` gives, in the order `record_many` copies it
_COLUMNS = ("actor_id", "verb", "object_type", "object_id", "data", "project_id", "dataset_id")


def record_many(events: list[dict]) -> int:
    """Store many events made by `event` in one COPY (bulk work: one event per row it wrote, as
    `record` would have stored them one by one; they share one timestamp). Returns how many."""
    if not events:
        return 0
    now = timezone.now()
    return copy_rows(AuditEvent, ("at", *_COLUMNS),
                     ((now, *(as_json(e[c]) if c == "data" else e[c] for c in _COLUMNS)) for e in events))
