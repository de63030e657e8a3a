"""The two writes people make to a frame's regions: a QA lead or admin adds a region the detector
missed, or removes one that is wrong. Each checks its input (RegionError names the field;
nothing changes), records an audit event and re-renders the frame's derived rendition at once,
in the same transaction: a derived frame never lags a person's decision."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.custody import state as custody
from labeling.models import Frame, RedactionRegion
from labeling.redaction import derived
from labeling.redaction.regions import RegionError, clean_box, clean_reason


def add_manual(frame: Frame, x, y, w, h, reason, by) -> RedactionRegion:
    """A person's region (what the detector missed), audited; the frame is re-rendered."""
    _renderable(frame)
    box = clean_box(frame, x, y, w, h)
    reason = clean_reason(reason)
    with transaction.atomic():
        region = RedactionRegion.objects.create(frame=frame, x=box[0], y=box[1], w=box[2], h=box[3],
                                                source=RedactionRegion.PERSON, created_by=by, reason=reason)
        rendition = derived.rerender(frame)
        audit.record(by, "redaction.region.add", region, {
            "frame": frame.pk, "box": [round(v, 2) for v in box], "reason": reason, "derived": rendition.sha256},
            dataset=_dataset_id(frame))
    return region


def remove(region: RedactionRegion, reason, by) -> RedactionRegion:
    """Mark a region removed (a false detection, a box drawn wrong), audited; re-rendered."""
    reason = clean_reason(reason)
    with transaction.atomic():
        region = RedactionRegion.objects.select_for_update().select_related("frame").get(pk=region.pk)
        if region.removed_at is not None:
            raise RegionError("region", "already removed")
        _renderable(region.frame)
        region.removed_at, region.removed_by, region.remove_reason = timezone.now(), by, reason
        region.save(update_fields=["removed_at", "removed_by", "remove_reason"])
        rendition = derived.rerender(region.frame)
        audit.record(by, "redaction.region.remove", region, {
            "frame": region.frame_id, "source": region.source, "reason": reason, "derived": rendition.sha256},
            dataset=_dataset_id(region.frame))
    return region


def _renderable(frame: Frame) -> None:
    """A rendition is made from the raw frame: none can be made once retention deleted it."""
    if custody.raw_expired(frame.sequence):
        raise RegionError("frame", f"{custody.reason(frame.sequence)}; its derived rendition can no longer change")


def _dataset_id(frame: Frame) -> int:
    return Frame.objects.filter(pk=frame.pk).values_list("sequence__dataset_id", flat=True).get()
