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

from labeling.protection import days, rules
from labeling.protection import state as states
from labeling.protection.policy import consent_version, has_sensitive, policy_for
from labeling.work import prepared, queue

# The same written by the lease statement of a new lease (only if the lease row is made)
_LEASE_RIDER = (states.save_cte("ps_saved", "ps_", "EXISTS (SELECT 1 FROM lease)") + """, ps_exposed AS (
    INSERT INTO labeling_exposure (user_id, project_id, frame_id, kind, started_at)
    SELECT %(ps_user)s, %(ps_project)s, lease.frame_id, 'frame', %(ps_now)s FROM lease WHERE %(ps_expose)s
)""")

# A segment's lease: every sensitive frame of the segment counts toward the daily cap
_SEGMENT_LEASE_RIDER = (states.save_cte("ps_saved", "ps_", "EXISTS (SELECT 1 FROM lease)") + """, ps_exposed AS (
    INSERT INTO labeling_exposure (user_id, project_id, frame_id, kind, started_at)
    SELECT %(ps_user)s, %(ps_project)s, f.id, 'frame', %(ps_now)s
    FROM lease JOIN labeling_queueitem qi ON qi.id = lease.item_id JOIN labeling_segment sg ON sg.id = qi.segment_id
    JOIN labeling_frame f ON f.sequence_id = sg.sequence_id AND f.index BETWEEN sg.first_index AND sg.last_index
    WHERE f.sensitive AND %(ps_expose)s
)""")

# The person's counters, and the exposure of a sensitive frame, in one statement
_SAVE_AND_EXPOSE = f"""
WITH saved AS ({states.SAVE}), exposed AS (
    INSERT INTO labeling_exposure (user_id, project_id, frame_id, kind, started_at)
    SELECT %(user)s, %(project)s, %(frame)s, 'frame', %(now)s WHERE %(expose)s
)
SELECT 1
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
        with prepared.pipeline():  # the transaction's BEGIN and the lock: one round trip
            state = states.locked(user.pk)
        limits = rules.Limits.of(policy_for(project))
        admission = rules.admit(state, limits, None, now, consent_version())  # caps: in the candidate query
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
        self._today = None
        self._written = False

    def today(self) -> rules.Totals:
        if self._today is None:
            self._today = states.today(self.state, self.now)
        return self._today

    def sql_filter(self, project, user):
        sensitive = queue.sensitive_sql(project)  # a segment is sensitive when any of its frames is
        if not self.admission.sensitive_ok:
            return f"NOT {sensitive}", []
        sql, values = states.under_caps_sql(
            user.pk, days.day_start(self.now, days.zone(self.state.timezone)), self.now, self.limits.frames_per_day,
            self.limits.exposure_s_per_day)
        return f"NOT {sensitive} OR {sql}", values

    def allows(self, frame) -> bool:
        """A held lease, or a frame picked from outside the open queue (a gold frame): a
        sensitive one only with consent and under the caps."""
        if not frame.sensitive:
            return True
        return self.admission.sensitive_ok and not rules.at_cap(self.limits, self.today())

    def _cap_reached(self) -> None:
        """The candidate query left sensitive frames out: the caps, so say so."""
        if self.admission.sensitive_ok and rules.at_cap(self.limits, self.today()):
            self.admission.sensitive_ok, self.admission.why_not = False, "cap"
            self.admission.message = rules.CAP_MESSAGE

    def choose(self, project, user, candidates):
        if self.admission.interleave and candidates and candidates[0].sensitive:
            plain = [c for c in candidates if not c.sensitive]
            if not plain:  # none among the locked few: the best non-sensitive frame further down
                plain = queue._candidates(project, user, 1, policies=[], where=f"NOT {queue.sensitive_sql(project)}")
            if plain:  # else none is left: sensitive frames go on (caps and breaks still hold)
                return [plain[0]] + [c for c in candidates if c.item_id != plain[0].item_id]
        return candidates

    def lease_rider(self, project, chosen) -> queue.LeaseRider:
        """A new lease: the counters and the exposure go in the lease's own statement. They are
        worked out on a copy of the state, kept only if the lease is made."""
        trial = states.trial_copy(self.state)
        sensitive = bool(chosen.sensitive)
        frames = _sensitive_frames(chosen.segment_id) if sensitive and chosen.segment_id else 1
        notes = rules.leased(trial, self.limits, sensitive, False, self.now, frames)
        params = {f"ps_{k}": v for k, v in states.save_params(trial).items()}
        params.update(ps_project=project.pk, ps_now=self.now, ps_expose=sensitive)

        def written(lease):
            self.state, self._written = trial, True
            self._annotate(lease, notes, sensitive)

        return queue.LeaseRider(_SEGMENT_LEASE_RIDER if chosen.segment_id else _LEASE_RIDER, params, written)

    def _annotate(self, lease, notes: dict, sensitive: bool) -> None:
        notes.update(protected=True, sensitive=sensitive, greyscale=self.state.greyscale,
                     consent=self.admission.why_not != "consent")
        lease.notes["protection"] = notes  # what the page shows with the frame (page_state)

    def leased(self, project, user, lease):
        if self._written:  # a new lease: its statement wrote the counters already
            return
        assignment, resumed = lease.assignment, lease.resumed
        sensitive = bool(assignment.frame.sensitive)
        notes = rules.leased(self.state, self.limits, sensitive, resumed, self.now)
        prepared.run(_SAVE_AND_EXPOSE, {**states.save_params(self.state), "project": project.pk,
                                        "frame": assignment.frame.pk, "now": self.now,
                                        "expose": sensitive and not resumed})
        self._annotate(lease, notes, sensitive)

    def when_empty(self, project, user):
        states.save(self.state)
        if not _sensitive_waiting(project, user):
            return None
        self._cap_reached()
        if self.admission.sensitive_ok:
            return None
        return queue.Withheld(self.admission.why_not, self.admission.message)


def _sensitive_frames(segment_id: int) -> int:
    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FROM labeling_frame f JOIN labeling_segment sg ON sg.id = %s
                       WHERE f.sequence_id = sg.sequence_id AND f.sensitive
                         AND f.index BETWEEN sg.first_index AND sg.last_index""", [segment_id])
        return cur.fetchone()[0]


def _sensitive_waiting(project, user) -> bool:
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT EXISTS (SELECT 1 FROM labeling_queueitem qi JOIN labeling_frame f ON f.id = qi.frame_id
                           LEFT JOIN labeling_segment sg ON sg.id = qi.segment_id
                           WHERE qi.project_id = %s AND qi.is_open AND (f.sensitive OR COALESCE(sg.sensitive, false))
                             AND NOT EXISTS (SELECT 1 FROM labeling_assignment a WHERE a.item_id = qi.id
                                             AND a.annotator_id = %s AND a.status <> 'expired'))
            """,
            [project.pk, user.pk],
        )
        return cur.fetchone()[0]


def unengaged_sensitive(project, user) -> bool:
    """The queue's check when its one-statement path leased a sensitive frame: the per-process
    answer to "does this project have sensitive frames?" was stale."""
    from labeling.protection.policy import forget_sensitive

    forget_sensitive([project.pk])
    return has_sensitive(project.pk)

