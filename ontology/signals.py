"""What the ontology tells the rest of aerie, without importing it: the ontology is the lower
layer (labeling imports its models), so its writes announce themselves here and the audit trail
(labeling.audit.signals) records each one, inside the write's own transaction."""
from django.dispatch import Signal

#: an ontology write happened: send(sender=<model class>, actor=user or None, verb="ontology.publish",
#: obj=<the object written>, data={...}). Receivers run synchronously, in the caller's transaction.
changed = Signal()


def announce(actor, verb: str, obj, data: dict) -> None:
    changed.send(sender=type(obj), actor=actor, verb=verb, obj=obj, data=data)
