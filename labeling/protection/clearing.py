"""Clearing a wrong sensitivity flag. Sensitivity otherwise only grows (`flags`), so a model's
false alarm would blur a frame for everyone forever. A QA lead or admin who looked at the frame
can clear it, with a reason: the frame is no longer sensitive, the segments holding it are
recomputed, and the decision is one more SensitivityFlag row (source "cleared", who, why) and an
audit event; the flags before it stay in the history.

A clearance holds against models: a later scoring run (any model version) does not flag the frame
again. A person still can: a report, or a label of a sensitive class, makes it sensitive again
(people see what a model may miss)."""
from __future__ import annotations

from django.db import connection, transaction

from labeling import audit
from labeling.models import Frame, Project, SensitivityFlag
from labeling.protection.flags import FlagError, _forget

MAX_REASON = 2000


def clear(project: Project, frame_id: int, user, reason) -> SensitivityFlag:
    """Clear `frame_id`'s sensitivity (a frame of `project`'s dataset) with a reason. Raises
    FlagError (nothing changed) without a reason or when the frame is not sensitive."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise FlagError("say why the frame is not graphic: a reason is required")
    if len(reason) > MAX_REASON:
        raise FlagError(f"the reason is longer than {MAX_REASON} characters")
    with transaction.atomic():
        frame = (Frame.objects.select_for_update().select_related("sequence")
                 .filter(pk=frame_id, sequence__dataset_id=project.dataset_id).first())
        if frame is None:
            raise FlagError("no such frame in this project")
        if not frame.sensitive:
            raise FlagError("this frame is not marked sensitive: there is nothing to clear")
        Frame.objects.filter(pk=frame.pk).update(sensitive=False)
        with connection.cursor() as cur:  # a segment stays sensitive while any other frame of it is
            cur.execute(
                """
                UPDATE labeling_segment sg SET sensitive = EXISTS (
                    SELECT 1 FROM labeling_frame f WHERE f.sequence_id = sg.sequence_id AND f.sensitive
                      AND f.index BETWEEN sg.first_index AND sg.last_index)
                WHERE sg.sequence_id = %s AND %s BETWEEN sg.first_index AND sg.last_index
                """, [frame.sequence_id, frame.index])
        flag = SensitivityFlag.objects.create(source=SensitivityFlag.CLEARED, frame=frame, project=project,
                                              actor=user, note=reason, frames=1)
        audit.record(user, "protection.clear", flag, {"frame": frame.pk, "project": project.pk, "reason": reason})
    _forget(project.dataset_id)
    return flag
