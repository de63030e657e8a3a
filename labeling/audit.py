"""The audit trail: every write that matters records one event here, inside its transaction."""
from __future__ import annotations

from .models.audit import AuditEvent


def record(actor, verb: str, obj=None, data: dict | None = None) -> AuditEvent:
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor,
        verb=verb,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )
