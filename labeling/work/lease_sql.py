"""The texts of the next-frame statements (labeling.work.queue): the columns a candidate frame
is read with, the CTEs that renew a held lease or make a new one and count it, and the one
statement of the queue's plain path. Plain strings, built once; the queue runs them prepared."""
from __future__ import annotations

from labeling.models import Project
from labeling.work import tracks

CANDIDATE_COLUMNS = ("qi.id, qi.frame_id, f.sequence_id, f.index, f.sensitive, qi.priority, f.width, f.height, "
                     "f.timestamp, s.name, s.bits, s.telemetry_frames")

# In segment projects an item stands for a run of frames: it is sensitive when any of them is
# (the segment's flag, kept by labeling.protection.flags), and the rows carry the segment's id.
# Frame projects keep the plain statements: the variants are chosen by the project's work unit.
_SENSITIVE = {False: "f.sensitive", True: "(f.sensitive OR COALESCE(sg.sensitive, false))"}


def sensitive_sql(project: Project) -> str:
    """The SQL expression (aliases f, sg) that says whether a candidate is sensitive."""
    return _SENSITIVE[project.work_unit == Project.SEGMENT]


def candidate_columns(segment: bool) -> str:
    return CANDIDATE_COLUMNS.replace("f.sensitive", _SENSITIVE[segment]) + (", qi.segment_id" if segment else "")


def frame_columns(segment: bool) -> str:
    """A leased frame's columns for Candidate, after (item id, frame id)."""
    return (f"f.sequence_id, f.index, {_SENSITIVE[segment]}, NULL::float8, f.width, f.height, f.timestamp, s.name, "
            "s.bits, s.telemetry_frames" + (", sg.id" if segment else ""))


def frame_join(alias: str, segment: bool) -> str:
    """The frame (and sequence, and for segments the segment) of rows `alias` with item_id, frame_id."""
    join = f"JOIN labeling_frame f ON f.id = {alias}.frame_id JOIN labeling_sequence s ON s.id = f.sequence_id"
    if segment:
        join += (f" JOIN labeling_queueitem qx ON qx.id = {alias}.item_id"
                 " LEFT JOIN labeling_segment sg ON sg.id = qx.segment_id")
    return join


def lease_ctes(chosen: str) -> str:
    """The `lease` and `counts` CTEs: lease the queue item that the query `chosen` yields (columns
    id, frame_id) to this person and count it. An existing assignment of theirs is taken over
    only if it expired, so `lease` is empty if they already hold the frame."""
    return f"""lease AS (
    INSERT INTO labeling_assignment
        (item_id, project_id, frame_id, annotator_id, status, leased_at, expires_at, skip_reason, late)
    SELECT c.id, %(project)s, c.frame_id, %(user)s, 'active', %(now)s, %(until)s, '', false FROM ({chosen}) c
    ON CONFLICT (item_id, annotator_id) DO UPDATE
        SET status = 'active', leased_at = EXCLUDED.leased_at, expires_at = EXCLUDED.expires_at, finished_at = NULL
        WHERE labeling_assignment.status = 'expired'
    RETURNING id, item_id, frame_id, leased_at, expires_at
), counts AS (
    UPDATE labeling_queueitem qi
    SET assigned = qi.assigned + 1, is_open = NOT qi.gold AND qi.assigned + 1 < %(overlap)s
    FROM lease WHERE qi.id = lease.item_id
)"""


# The live lease this person holds, renewed: the start of the next-frame statement below and of the
# general path's (`_held_or_candidates`).
HELD_CTE = """
WITH held AS (
    UPDATE labeling_assignment SET expires_at = %(until)s
    WHERE id = (SELECT id FROM labeling_assignment
                WHERE project_id = %(project)s AND annotator_id = %(user)s AND status = 'active'
                  AND expires_at > %(now)s
                ORDER BY leased_at LIMIT 1 FOR UPDATE)
      AND status = 'active'
    RETURNING id, item_id, frame_id, leased_at, expires_at
)"""

def track_column(segment: bool) -> str:
    """The track context of the leased frame (aliases f: its frame), for a frame's page; none for
    a segment's (its page reads its tracks itself)."""
    return "NULL::json" if segment else tracks.rows_as_json("f.sequence_id", "f.index")


# Renew the lease this person holds, or else lock the two best open frames (SKIP LOCKED), lease
# the first and count it; the second is what the page prefetches. One statement, so one
# transaction: a lease is cheap to lose, so it does not wait for the WAL flush. The held or new
# lease's row brings the page's track context with it.
def next_statement(segment: bool) -> str:
    return f"""{HELD_CTE}, cand AS (
    SELECT qi.id, qi.frame_id, qi.priority, qi.order_key FROM labeling_queueitem qi
    WHERE NOT EXISTS (SELECT 1 FROM held)
      AND qi.project_id = %(project)s AND qi.is_open
      AND NOT EXISTS (SELECT 1 FROM labeling_assignment a
                      WHERE a.item_id = qi.id AND a.annotator_id = %(user)s AND a.status <> 'expired')
    ORDER BY qi.priority DESC NULLS LAST, qi.order_key
    LIMIT 2
    FOR UPDATE OF qi SKIP LOCKED
), ranked AS (
    SELECT id, frame_id, row_number() OVER (ORDER BY priority DESC NULLS LAST, order_key) AS rn FROM cand
), {lease_ctes("SELECT id, frame_id FROM ranked WHERE rn = 1")}
SELECT 'held', h.id, h.item_id, h.frame_id, h.leased_at, h.expires_at, {frame_columns(segment)},
       {track_column(segment)}
FROM held h {frame_join("h", segment)}
UNION ALL
SELECT 'new', l.id, l.item_id, l.frame_id, l.leased_at, l.expires_at, {frame_columns(segment)},
       {track_column(segment)}
FROM lease l {frame_join("l", segment)}
WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
UNION ALL
SELECT 'peek', NULL, r.id, r.frame_id, NULL, NULL, {frame_columns(segment)}, NULL::json
FROM (SELECT id, id AS item_id, frame_id, rn FROM ranked) r {frame_join("r", segment)}
WHERE r.rn = 2
"""


NEXT_STATEMENT = {segment: next_statement(segment) for segment in (False, True)}
