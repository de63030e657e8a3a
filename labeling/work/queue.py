"""The labeling queue: which frame an annotator gets next.

Rules (all enforced in PostgreSQL, under any concurrency):
- a frame goes to at most `overlap` annotators at once, counting live leases and submissions;
- an annotator never gets a frame they labeled, skipped or hold already;
- a frame held by someone else's live lease is not handed out again beyond `overlap`;
- highest uncertainty score first where the sampler scored the frame, else the project's stride
  order (every Nth frame of each sequence first, then the frames between);
- a lease lasts AERIE_LEASE_MINUTES (renewed while the page is open); an expired lease returns the
  frame to the queue.

The next-frame query is one scan of a partial index with `FOR UPDATE SKIP LOCKED`: concurrent
annotators skip each other's locked rows instead of waiting, and the counts are updated in the
same transaction, so no frame is ever over-assigned.

Policies (annotator protection, gold frames) hook in through labeling.work.policies: a policy can add
an SQL condition on the candidate frames and reorder or filter the candidates in Python. A policy
that is engaged for a project and reorders takes the request off the one-statement path; one
that has nothing to say for a project (`engaged` false) leaves that path alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from labeling import audit
from labeling.models import Assignment, Frame, Project, QueueItem, Sequence
from labeling.models.built import build
from labeling.work import lease_facts, lease_sql, prepared, tracks
from labeling.work import policies as queue_policies

sensitive_sql = lease_sql.sensitive_sql  # the SQL expression (aliases f, sg) that says whether a candidate is sensitive

ORDER_SPAN = 1 << 40  # order_key = (index % stride) * ORDER_SPAN + position in the dataset


class QueueError(ValueError):
    pass


class Withheld(Exception):
    """The queue serves nothing now, on purpose and not as an error: a break is running, or the
    person reached a limit and nothing else is left for them. `kind` names why (e.g. "break",
    "cap", "consent"), `message` says it kindly, `until` is when it ends if it ends by itself."""

    def __init__(self, kind: str, message: str, until=None, **extra):
        super().__init__(message)
        self.kind, self.message, self.until, self.extra = kind, message, until, extra

    def as_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message,
                "until": self.until.isoformat() if self.until else None, **self.extra}


@dataclass(frozen=True)
class Candidate:
    item_id: int
    frame_id: int
    sequence_id: int
    index: int
    sensitive: bool
    priority: float | None
    width: int
    height: int
    timestamp: float | None
    sequence_name: str
    bits: int  # 16: a thermal sequence (the page offers palettes)
    telemetry_frames: int  # the sequence's frames with telemetry (0: the page asks nothing about it)
    segment_id: int | None = None  # segment projects: the segment this item hands out

    def frame(self) -> Frame:
        """The frame as a model instance, without another query."""
        sequence = build(Sequence, id=self.sequence_id, name=self.sequence_name, bits=self.bits,
                         telemetry_frames=self.telemetry_frames)
        return build(Frame, {"sequence": sequence}, id=self.frame_id, sequence_id=self.sequence_id, index=self.index,
                     sensitive=self.sensitive, width=self.width, height=self.height, timestamp=self.timestamp)


def live_lease(assignment_id: int, item_id: int, project: Project, frame: Frame, user, leased_at,
               expires_at) -> Assignment:
    """A live lease as a model instance, from what its statement returned (no query); this
    process remembers it for the submission that will come (labeling.work.lease_facts)."""
    assignment = build(Assignment, {"project": project, "frame": frame, "annotator": user}, id=assignment_id,
                       item_id=item_id, project_id=project.pk, frame_id=frame.pk, annotator_id=user.pk,
                       status=Assignment.ACTIVE, leased_at=leased_at, expires_at=expires_at)
    lease_facts.remember(assignment, project, frame)
    return assignment


@dataclass
class Lease:
    """What `next_lease` hands out: the person's lease on a frame, and what the page needs with it.

    `resumed`: a lease they already held (the page may have a draft for it); `peek`: the candidate
    most likely to come next, for the page to prefetch its image (None if unknown); `notes`: what
    the policies want the page to show with this frame (annotator protection puts its own under
    "protection"); `tracks`: the frame's track context (labeling.work.tracks), read by the lease's
    own statement (None where it was not: the page asks for it)."""

    assignment: Assignment
    resumed: bool
    peek: Candidate | None = None
    notes: dict = field(default_factory=dict)
    tracks: dict | None = None  # the page's track context, where the lease's statement brought it


def lease_length() -> timedelta:
    return timedelta(minutes=settings.AERIE_LEASE_MINUTES)


# ------------------------------------------------------------------------------ filling the queue

def sync_queue(project: Project) -> int:
    """Queue the project's ready frames (or segments) that are not queued yet, and bring every
    item's fallback order in line with the project's stride. Returns how many rows changed."""
    if project.work_unit == Project.SEGMENT:
        return _sync_segments(project)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO labeling_queueitem
                (project_id, frame_id, priority, order_key, assigned, submitted, is_open, gold, round)
            SELECT %(project)s, f.id, NULL,
                   (f.index %% %(stride)s)::bigint * %(span)s
                   + row_number() OVER (ORDER BY s.name, f.index),
                   0, 0, true, false, 0
            FROM labeling_frame f JOIN labeling_sequence s ON s.id = f.sequence_id
            WHERE s.dataset_id = %(dataset)s AND s.status = ANY(%(ready)s)
            ON CONFLICT (project_id, frame_id) DO UPDATE SET order_key = EXCLUDED.order_key
                WHERE labeling_queueitem.order_key <> EXCLUDED.order_key
            """,
            {"project": project.pk, "stride": max(1, project.frame_stride), "span": ORDER_SPAN,
             "dataset": project.dataset_id, "ready": [Sequence.READY, Sequence.PARTIAL]},
        )
        return cur.rowcount


def _sync_segments(project: Project) -> int:
    """Cut the ready sequences into segments of `segment_length` frames, each sharing
    `segment_shared` frames with the next (the last segment is shorter; a segment starts only
    where it has frames of its own), mark the ones holding a sensitive frame, and queue each by
    its first frame, ordered like frames (the stride applies to segment numbers)."""
    step = project.segment_length - project.segment_shared
    params = {"project": project.pk, "dataset": project.dataset_id, "ready": [Sequence.READY, Sequence.PARTIAL],
              "step": step, "length": project.segment_length, "shared": project.segment_shared,
              "stride": max(1, project.frame_stride), "span": ORDER_SPAN}
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO labeling_segment (project_id, sequence_id, number, first_index, last_index, sensitive)
            SELECT %(project)s, s.id, g.n, g.n * %(step)s, LEAST(g.n * %(step)s + %(length)s, s.frame_count) - 1, false
            FROM labeling_sequence s,
                 LATERAL generate_series(0, GREATEST(1, CEIL((s.frame_count - %(shared)s)::numeric / %(step)s)::int) - 1)
                 AS g(n)
            WHERE s.dataset_id = %(dataset)s AND s.status = ANY(%(ready)s) AND s.frame_count > 0
            ON CONFLICT (project_id, sequence_id, number) DO NOTHING
            """, params)
        made = cur.rowcount
        cur.execute(
            """
            UPDATE labeling_segment sg SET sensitive = true
            WHERE sg.project_id = %(project)s AND NOT sg.sensitive
              AND EXISTS (SELECT 1 FROM labeling_frame f WHERE f.sequence_id = sg.sequence_id AND f.sensitive
                            AND f.index BETWEEN sg.first_index AND sg.last_index)
            """, params)
        cur.execute(
            """
            INSERT INTO labeling_queueitem
                (project_id, frame_id, segment_id, priority, order_key, assigned, submitted, is_open, gold, round)
            SELECT %(project)s, f.id, sg.id, NULL,
                   (sg.number %% %(stride)s)::bigint * %(span)s + row_number() OVER (ORDER BY s.name, sg.number),
                   0, 0, true, false, 0
            FROM labeling_segment sg JOIN labeling_sequence s ON s.id = sg.sequence_id
            JOIN labeling_frame f ON f.sequence_id = sg.sequence_id AND f.index = sg.first_index
            WHERE sg.project_id = %(project)s
            ON CONFLICT (project_id, frame_id) DO UPDATE SET order_key = EXCLUDED.order_key
                WHERE labeling_queueitem.order_key <> EXCLUDED.order_key
            """, params)
        return made + cur.rowcount


def sync_dataset(dataset_id: int) -> None:
    for project in Project.objects.filter(dataset_id=dataset_id):
        sync_queue(project)


# ------------------------------------------------------------------------------ leases

def expire_leases(project_id: int | None = None) -> int:
    """Return frames whose lease ran out to the queue. Cheap when nothing expired (a partial
    index holds only live leases)."""
    scope = "AND project_id = %(project)s" if project_id else ""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH expired AS (
                UPDATE labeling_assignment SET status = 'expired', finished_at = %(now)s
                WHERE status = 'active' AND expires_at < %(now)s {scope}
                RETURNING item_id
            ), counts AS (SELECT item_id, count(*) AS n FROM expired GROUP BY item_id)
            UPDATE labeling_queueitem qi SET assigned = qi.assigned - counts.n, is_open = NOT qi.gold
            FROM counts WHERE qi.id = counts.item_id
            """,
            {"project": project_id, "now": timezone.now()},
        )
        return cur.rowcount


_last_expiry: dict[int, float] = {}
EXPIRY_EVERY_S = 2.0


def _expire_now_and_then(project_id: int) -> None:
    """Expired leases go back at most EXPIRY_EVERY_S late, without an UPDATE on every request."""
    now = time.monotonic()
    if now - _last_expiry.get(project_id, 0.0) >= EXPIRY_EVERY_S:
        _last_expiry[project_id] = now
        expire_leases(project_id)


def _candidate_query(project: Project, user, limit: int, policies=None, where: str = "",
                     columns: str = "", only_if: str = "TRUE") -> tuple[str, dict]:
    """The statement that locks up to `limit` open frames this person may have, best first
    (FOR UPDATE SKIP LOCKED), and its parameters. `where` is an extra fixed SQL condition (aliases
    qi, f); `columns`, what it selects (else a Candidate's columns); `only_if`, a condition that
    does not depend on the row (the query then locks nothing when it does not hold).

    The limit is part of the text, not a parameter. The statement runs prepared, and
    PostgreSQL's generic plan for a bound LIMIT assumes a tenth of the project's rows: at 10M
    frames its estimated cost passed `jit_above_cost`, and every protected next-frame request
    spent about 25 ms of database CPU JIT-compiling it (bench/queue.py at 10M frames)."""
    conditions, params = [], {"project": project.pk, "user": user.pk}
    if where:
        conditions.append(f"AND ({where})")
    for i, policy in enumerate(queue_policies.registered() if policies is None else policies):
        extra = policy.sql_filter(project, user)
        if extra:
            sql, values = extra
            names = []
            for j, value in enumerate(values):
                params[f"p{i}_{j}"] = value
                names.append(f"%(p{i}_{j})s")
            conditions.append("AND (" + sql % tuple(names) + ")")
    segment = project.work_unit == Project.SEGMENT
    return f"""
        SELECT {columns or lease_sql.candidate_columns(segment)}
        FROM labeling_queueitem qi JOIN labeling_frame f ON f.id = qi.frame_id
        JOIN labeling_sequence s ON s.id = f.sequence_id
        {"LEFT JOIN labeling_segment sg ON sg.id = qi.segment_id" if segment else ""}
        WHERE {only_if} AND qi.project_id = %(project)s AND qi.is_open
          AND NOT EXISTS (SELECT 1 FROM labeling_assignment a
                          WHERE a.item_id = qi.id AND a.annotator_id = %(user)s AND a.status <> 'expired')
          {' '.join(conditions)}
        ORDER BY qi.priority DESC NULLS LAST, qi.order_key
        LIMIT {int(limit)}
        FOR UPDATE OF qi SKIP LOCKED
        """, params  # the limit is written in, not bound: see _candidate_query's note below


def _candidates(project: Project, user, limit: int, policies=None, where: str = "") -> list[Candidate]:
    """Lock and return up to `limit` open frames this person may have, best first. `where` is an
    extra fixed SQL condition (aliases qi, f)."""
    # prepared (hotsql): the few variants of conditions each get planned once per connection
    return [Candidate(*row) for row in prepared.fetchall(*_candidate_query(project, user, limit, policies, where))]


def _held_or_candidates(project: Project, user, limit: int, policies) -> tuple[Assignment | None, list[Candidate]]:
    """This person's live lease, renewed, or else up to `limit` locked candidates (as
    `_candidates`): one statement, one round trip, for the general path's usual case."""
    segment = project.work_unit == Project.SEGMENT
    query, params = _candidate_query(project, user, limit, policies, only_if="NOT EXISTS (SELECT 1 FROM held)",
                                     columns=f"{lease_sql.candidate_columns(segment)}, qi.order_key")
    now = timezone.now()
    params.update(now=now, until=now + lease_length())
    rows = prepared.fetchall(f"""{lease_sql.HELD_CTE}, cand AS ({query})
SELECT 'held', h.id, h.leased_at, h.expires_at, h.item_id, h.frame_id, {lease_sql.frame_columns(segment)}, NULL::bigint
FROM held h {lease_sql.frame_join("h", segment)}
UNION ALL
SELECT 'cand', NULL, NULL::timestamptz, NULL::timestamptz, cand.* FROM cand""", params)
    held = next((r for r in rows if r[0] == "held"), None)
    if held is not None:
        return live_lease(held[1], held[4], project, Candidate(*held[4:-1]).frame(), user, held[2], held[3]), []
    rows.sort(key=lambda r: (r[9] is None, -(r[9] or 0.0), r[-1]))  # priority DESC NULLS LAST, order_key
    return None, [Candidate(*row[4:-1]) for row in rows]


def current_assignment(project: Project, user) -> Assignment | None:
    return (Assignment.objects.filter(project=project, annotator=user, status=Assignment.ACTIVE,
                                      expires_at__gt=timezone.now())
            .select_related("frame__sequence").order_by("leased_at").first())


def next_assignment(project: Project, user) -> Assignment | None:
    """The assignment of `next_lease` (for callers that need nothing else)."""
    lease = next_lease(project, user)
    return lease.assignment if lease else None


def next_lease(project: Project, user) -> Lease | None:
    """The annotator's current lease if they hold one, else a new lease on the best frame
    they may have; None when nothing is left for them.

    Without a policy that reorders candidates in Python, this is one SQL statement (renew the
    held lease, or lock, lease and count a new frame), atomic on its own: no BEGIN/COMMIT round
    trips. Policies that reorder, or a gold frame that is due, take the general path."""
    policies = queue_policies.engaged(project, user)
    if any(getattr(p, "reorders", True) for p in policies):
        return _next_general(project, user, policies=policies)
    _expire_now_and_then(project.pk)
    extra = queue_policies.picked(project, user, policies)
    if extra:
        return _next_general(project, user, extra, policies=policies)
    now = timezone.now()
    segment = project.work_unit == Project.SEGMENT
    rows = prepared.fetchall(lease_sql.NEXT_STATEMENT[segment], {"project": project.pk, "user": user.pk, "now": now,
                                                        "until": now + lease_length(), "overlap": project.overlap})
    mine = next((r for r in rows if r[0] in ("held", "new")), None)
    if mine is None:
        # nothing open (or a lost race with this person's other tab): expired leases, then the
        # general path decides
        return _next_general(project, user, policies=policies)
    kind, assignment_id, item_id, frame_id, leased_at, expires_at = mine[:6]
    if kind == "new" and mine[8] and _unengaged_sensitive(project, user, assignment_id):
        # a frame became sensitive since this process last looked (its per-process answer is a
        # few seconds old): the lease is given back and the policies that now engage decide
        return _next_general(project, user, policies=queue_policies.engaged(project, user))
    frame = Candidate(item_id, frame_id, *mine[6:-1]).frame()
    assignment = live_lease(assignment_id, item_id, project, frame, user, leased_at, expires_at)
    peek = next((r for r in rows if r[0] == "peek"), None)
    return Lease(assignment, resumed=kind == "held", peek=Candidate(peek[2], peek[3], *peek[6:-1]) if peek else None,
                 tracks=None if segment else tracks.context_from_rows(mine[-1], frame))


def _unengaged_sensitive(project: Project, user, assignment_id: int) -> bool:
    check = queue_policies.sensitive_check
    if check is None or not check(project, user):
        return False
    give_back(assignment_id)
    return True


def give_back(assignment_id: int) -> None:
    """End a live lease as if it had expired (the frame returns to the queue; the person may get
    it again later): for a lease that a policy no longer allows."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH gone AS (
                UPDATE labeling_assignment SET status = 'expired', finished_at = %(now)s
                WHERE id = %(id)s AND status = 'active' RETURNING item_id
            )
            UPDATE labeling_queueitem qi SET assigned = qi.assigned - 1, is_open = NOT qi.gold
            FROM gone WHERE qi.id = gone.item_id
            """,
            {"id": assignment_id, "now": timezone.now()},
        )


def _next_general(project: Project, user, extra: list[Candidate] = (), policies=None) -> Lease | None:
    """The general path: a transaction in which policies see and reorder the candidates."""
    withheld = None
    with transaction.atomic():
        lease, withheld = _general(project, user, extra, queue_policies.registered() if policies is None else policies)
    if withheld is not None:  # raised after the commit: what the policy wrote (a break) stays
        raise withheld
    return lease


def _general(project: Project, user, extra, policies) -> tuple[Lease | None, Withheld | None]:
    _expire_now_and_then(project.pk)
    applied = []
    for policy in policies:
        admitted = policy.admit(project, user) if getattr(policy, "admit", None) else policy
        if isinstance(admitted, Withheld):
            return None, admitted
        applied.append(admitted)
    # two candidates at least: the second is what the page prefetches
    limit = max([2] + [getattr(p, "candidates", 1) for p in applied])
    held, candidates = _held_or_candidates(project, user, limit, applied)
    if held and queue_policies.allowed(applied, held.frame):
        lease = Lease(held, resumed=True)
        queue_policies.after_lease(applied, project, user, lease)
        return lease, None
    if held:  # a policy no longer allows it (e.g. consent withdrawn): it goes back to the queue
        give_back(held.pk)
        candidates = _candidates(project, user, limit, applied)
    if not candidates and expire_leases(project.pk):  # nothing open: maybe a lease ran out
        candidates = _candidates(project, user, limit, applied)
    if candidates:  # frames from outside the open queue pass the same checks as a held lease
        picked = [c for c in (extra or queue_policies.picked(project, user, policies)) if queue_policies.allowed(applied, c)]
        candidates = picked + candidates
    for policy in applied:
        candidates = policy.choose(project, user, candidates)
    now = timezone.now()
    for position, chosen in enumerate(candidates):
        # what policies write with a new lease, in the lease's own statement (a round trip fewer)
        riders = [r for p in applied if getattr(p, "lease_rider", None) for r in [p.lease_rider(project, chosen)] if r]
        made = _lease(project, user, chosen, now, riders)
        if made is None:  # this person got it meanwhile (another tab): the next one
            continue
        assignment_id, track_rows = made
        frame = chosen.frame()
        assignment = live_lease(assignment_id, chosen.item_id, project, frame, user, now, now + lease_length())
        following = candidates[position + 1:position + 2]
        lease = Lease(assignment, resumed=False, peek=following[0] if following else None,
                      tracks=None if chosen.segment_id else tracks.context_from_rows(track_rows, frame))
        for rider in riders:
            rider.written(lease)
        queue_policies.after_lease(applied, project, user, lease)
        return lease, None
    for policy in applied:
        why = policy.when_empty(project, user) if getattr(policy, "when_empty", None) else None
        if why is not None:
            return None, why
    return None, None


@dataclass
class LeaseRider:
    """What a policy writes together with a new lease, in the lease's statement: data-modifying
    CTEs (`sql`, which may read the `lease` CTE's row: id, item_id, frame_id; they must write
    nothing when it is empty), their parameters (names prefixed, so they do not clash), and
    `written(lease)`, called once the lease is made."""

    sql: str
    params: dict
    written: Callable[[Lease], None]


def _lease(project: Project, user, chosen: Candidate, now,
           riders: list[LeaseRider] | tuple = ()) -> tuple[int, object] | None:
    """Take one slot of a locked queue item for this person, in one statement: the lease's id and
    its frame's track context rows (labeling.work.tracks.context_from_rows; None for a segment),
    or None if they already hold it. A lease is cheap to lose, so its transaction does not wait
    for the WAL flush (submissions keep synchronous commit: acknowledged work is never lost)."""
    params = {"item": chosen.item_id, "project": project.pk, "frame": chosen.frame_id, "user": user.pk, "now": now,
              "until": now + lease_length(), "overlap": project.overlap, "sequence": chosen.sequence_id,
              "index": chosen.index}
    for rider in riders:
        params.update(rider.params)
    track_rows = "NULL::json" if chosen.segment_id else tracks.rows_as_json("%(sequence)s", "%(index)s")
    row = prepared.fetchone(
        f"WITH {lease_sql.lease_ctes('SELECT %(item)s::bigint AS id, %(frame)s::bigint AS frame_id')}"
        + "".join(f", {rider.sql}" for rider in riders)
        + f" SELECT lease.id, set_config('synchronous_commit', 'off', true), {track_rows} FROM lease",
        params,
    )
    return (row[0], row[2]) if row else None


def _locked_own(assignment: Assignment, user) -> Assignment:
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.annotator_id != user.pk:
        raise QueueError("this assignment belongs to someone else")
    return locked


def renew(assignment: Assignment, user) -> Assignment:
    """Extend a live lease (the page calls this while it is open)."""
    with transaction.atomic():
        locked = _locked_own(assignment, user)
        if locked.status != Assignment.ACTIVE:
            raise QueueError(f"this assignment is {locked.status}; ask for the next frame")
        if locked.expires_at <= timezone.now():
            raise QueueError("the lease has expired; your work can still be submitted")
        locked.expires_at = timezone.now() + lease_length()
        locked.save(update_fields=["expires_at"])
    return Assignment.objects.select_related("frame__sequence").get(pk=locked.pk)


def skip(assignment: Assignment, user, reason: str) -> Assignment:
    """Give a frame back with a reason; the annotator will not get it again."""
    reason = (reason or "").strip()
    if not reason:
        raise QueueError("say why you skip this frame (reason)")
    with transaction.atomic():
        locked = _locked_own(assignment, user)
        if locked.status == Assignment.SUBMITTED:
            raise QueueError("this frame was already submitted")
        if locked.status == Assignment.SKIPPED:
            return locked
        was_live = locked.status == Assignment.ACTIVE
        locked.status, locked.finished_at, locked.skip_reason = Assignment.SKIPPED, timezone.now(), reason[:500]
        locked.save(update_fields=["status", "finished_at", "skip_reason"])
        if was_live:
            QueueItem.objects.filter(pk=locked.item_id).update(assigned=F("assigned") - 1, is_open=~Q(gold=True))
        audit.record(user, "queue.skip", locked, {"frame": locked.frame_id, "reason": locked.skip_reason})
    return locked


def queue_size(project: Project, user) -> int:
    """Frames this annotator could still get."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT count(*) FROM labeling_queueitem qi
            WHERE qi.project_id = %s AND qi.is_open
              AND NOT EXISTS (SELECT 1 FROM labeling_assignment a
                              WHERE a.item_id = qi.id AND a.annotator_id = %s AND a.status <> 'expired')
            """,
            [project.pk, user.pk],
        )
        return cur.fetchone()[0]
