"""The queue policy that enforces protection on the server, under a lock on the person's
protection row (so two tabs of one person cannot both pass a cap):

- engaged only for projects whose dataset has sensitive frames: other projects keep the queue's
  one-statement path;
- `admit` (first thing in the queue's transaction): a running or due break withholds everything;
  without consent or at a daily cap, only non-sensitive frames (SQL filter); after k sensitive
  frames in a row, a non-sensitive one first if any is left;
- `leased`: counts the frame (exposure row, streak, frames since the break) and tells the page
  what to show with it (content warning, micro-break, check-in);
- `when_empty`: if sensitive frames are what is left, a kind message instead of "nothing left".
"""
from __future__ import annotations

from django.db import connection
from django.utils import timezone

from .. import hotsql, queue
from . import rules, state as states
from .policy import consent_version, has_sensitive, policy_for

_EXPOSE = """
INSERT INTO labeling_exposure (user_id, project_id, frame_id, kind, started_at)
VALUES (%(user)s, %(project)s, %(frame)s, 'frame', %(now)s)
"""


class ProtectionGate:
    """Registered with the queue when the app starts (labeling.apps)."""

    candidates = 2
    reorders = True

    def engaged(self, project, user) -> bool:
        return has_sensitive(project.pk)

    def sql_filter(self, project, user):
        return None

    def choose(self, project, user, candidates):
        return candidates

    def admit(self, project, user):
        now = timezone.now()
        state = states.locked(user.pk)
        limits = rules.Limits.of(policy_for(project))
        admission = rules.admit(state, limits, states.today(state, now), now, consent_version())
        if admission.withheld:
            states.save(state)
            kind, message, until = admission.withheld
            return queue.Withheld(kind, message, until, break_minutes=round(limits.break_length.total_seconds() / 60))
        return _Request(state, limits, admission, now)


class _Request:
    """The gate's decision for one next-frame request."""

    def __init__(self, state, limits, admission, now):
        self.state, self.limits, self.admission, self.now = state, limits, admission, now
        self.candidates = 2

    def sql_filter(self, project, user):
        return None if self.admission.sensitive_ok else ("NOT f.sensitive", [])

    def allows(self, frame) -> bool:
        return self.admission.sensitive_ok or not frame.sensitive

    def choose(self, project, user, candidates):
        if not self.admission.sensitive_ok:  # a frame picked from outside the open queue (gold) too
            return [c for c in candidates if not c.sensitive]
        if self.admission.interleave and candidates and candidates[0].sensitive:
            plain = [c for c in candidates if not c.sensitive]
            if not plain:  # none among the locked few: the best non-sensitive frame further down
                plain = queue._candidates(project, user, 1, policies=[], where="NOT f.sensitive")
            if plain:  # else none is left: sensitive frames go on (caps and breaks still hold)
                return [plain[0]] + [c for c in candidates if c.item_id != plain[0].item_id]
        return candidates

    def leased(self, project, user, assignment):
        sensitive = bool(assignment.frame.sensitive)
        resumed = bool(getattr(assignment, "resumed", False))
        notes = rules.leased(self.state, self.limits, sensitive, resumed, self.now)
        states.save(self.state)
        if sensitive and not resumed:
            hotsql.execute(_EXPOSE, {"user": user.pk, "project": project.pk, "frame": assignment.frame.pk,
                                     "now": self.now}).close()
        notes.update(protected=True, sensitive=sensitive, greyscale=self.state.greyscale,
                     consent=self.admission.why_not != "consent",
                     at_cap=self.admission.why_not == "cap")
        assignment.protection = notes

    def when_empty(self, project, user):
        states.save(self.state)
        if self.admission.sensitive_ok or not _sensitive_waiting(project, user):
            return None
        return queue.Withheld(self.admission.why_not, self.admission.message)


def _sensitive_waiting(project, user) -> bool:
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT EXISTS (SELECT 1 FROM labeling_queueitem qi JOIN labeling_frame f ON f.id = qi.frame_id
                           WHERE qi.project_id = %s AND qi.is_open AND f.sensitive
                             AND NOT EXISTS (SELECT 1 FROM labeling_assignment a WHERE a.item_id = qi.id
                                             AND a.annotator_id = %s AND a.status <> 'expired'))
            """,
            [project.pk, user.pk],
        )
        return cur.fetchone()[0]


def unengaged_sensitive(project, user) -> bool:
    """The queue's check when its one-statement path leased a sensitive frame: the per-process
    answer to "does this project have sensitive frames?" was stale."""
    from .policy import forget_sensitive

    forget_sensitive([project.pk])
    return has_sensitive(project.pk)

