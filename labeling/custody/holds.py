"""Legal holds: an admin places one on a dataset or a sequence (who, why, when) and later lifts
it (who, why, when). While a hold is live, retention deletes nothing under it. Both writes are
audited; rows are never deleted.

Placing a hold locks the dataset (or sequence) row for update, and every retention step
share-locks the rows it deletes under (labeling.custody.state.lock_for_retention): a step either
finished before the hold, or sees it."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.audit import reasons
from labeling.models import Dataset, LegalHold, Sequence

MAX_REASON = 2000


class HoldError(reasons.FieldError):
    """The request is refused, naming the field; nothing changed."""


def _reason(value, field: str = "reason") -> str:
    return reasons.required(value, HoldError, field, MAX_REASON)


def place(target: Dataset | Sequence, by, reason) -> LegalHold:
    """Place a legal hold on a dataset or a sequence."""
    reason = _reason(reason)
    if isinstance(target, Dataset):
        fields, dataset_id = {"dataset": target}, target.pk
    elif isinstance(target, Sequence):
        fields, dataset_id = {"sequence": target}, target.dataset_id
    else:
        raise HoldError("target", "a dataset or a sequence")
    with transaction.atomic():
        type(target).objects.select_for_update(no_key=True).filter(pk=target.pk).first()
        hold = LegalHold.objects.create(placed_by=by if getattr(by, "is_authenticated", False) else None,
                                        reason=reason, **fields)
        audit.record(by, "retention.hold.place", hold, {
            "dataset": dataset_id, "sequence": target.pk if isinstance(target, Sequence) else None, "reason": reason},
            dataset=dataset_id)
    return hold


def lift(hold: LegalHold, by, reason) -> LegalHold:
    """Lift a live hold: deletions it suspended happen at the next retention run."""
    reason = _reason(reason)
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update(of=("self",)).select_related("sequence").get(pk=hold.pk)
        if hold.lifted_at is not None:
            raise HoldError("hold", "already lifted")
        hold.lifted_at, hold.lift_reason = timezone.now(), reason
        hold.lifted_by = by if getattr(by, "is_authenticated", False) else None
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        dataset_id = hold.dataset_id or hold.sequence.dataset_id
        audit.record(by, "retention.hold.lift", hold, {
            "dataset": dataset_id, "sequence": hold.sequence_id, "reason": reason,
            "placed_at": hold.placed_at.isoformat()}, dataset=dataset_id)
    return hold
