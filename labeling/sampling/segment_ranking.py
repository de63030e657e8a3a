"""The sampler for segment projects: a segment is as uncertain as its most uncertain frame, looks
like the mean of its frames (the embedding diversity compares), and sits in its sequence at its
first frame; neighbouring segments of one sequence are too close to go out together (the temporal
diversity rule, applied between segments with a gap of at least one segment's length).

`pool` is pure; `frames_to_score` and `open_segments` are the SQL that `scoring` runs for
segment projects in place of its per-frame statements."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# every frame of every open segment is scored (a segment's score needs all of them)
FRAMES_TO_SCORE = """
SELECT DISTINCT f.id FROM labeling_queueitem qi
JOIN labeling_segment sg ON sg.id = qi.segment_id
JOIN labeling_frame f ON f.sequence_id = sg.sequence_id AND f.index BETWEEN sg.first_index AND sg.last_index
WHERE qi.project_id = %s AND qi.is_open AND NOT qi.gold
ORDER BY f.id
"""

# the run's scores of the open segments' frames, one row per (segment, frame)
OPEN_SEGMENT_SCORES = """
SELECT sg.id, s.score, s.embedding, sg.sequence_id, sg.first_index
FROM labeling_queueitem q
JOIN labeling_segment sg ON sg.id = q.segment_id
JOIN labeling_frame f ON f.sequence_id = sg.sequence_id AND f.index BETWEEN sg.first_index AND sg.last_index
JOIN labeling_framescore s ON s.frame_id = f.id AND s.run_id = %s
WHERE q.project_id = %s AND q.is_open AND NOT q.gold
ORDER BY sg.id, f.index
"""

APPLY = """
UPDATE labeling_queueitem q SET priority = v.p
FROM unnest(%s::bigint[], %s::float8[]) AS v(sg, p)
WHERE q.project_id = %s AND q.segment_id = v.sg
"""


@dataclass
class Pool:
    segment_ids: list[int]
    scores: np.ndarray  # the max of each segment's frame scores
    embeddings: np.ndarray  # the mean of each segment's frame embeddings
    sequence_ids: np.ndarray
    first_indices: np.ndarray


def pool(rows) -> Pool:
    """Rows of (segment id, frame score, frame embedding, sequence id, first index), grouped by
    segment (as OPEN_SEGMENT_SCORES orders them), into one entry per segment."""
    ids, scores, embeddings, sequences, firsts = [], [], [], [], []
    group: list = []

    def close():
        if group:
            ids.append(group[0][0])
            scores.append(max(r[1] for r in group))
            embeddings.append(np.mean(np.array([r[2] for r in group], dtype=float), axis=0))
            sequences.append(group[0][3])
            firsts.append(group[0][4])

    for row in rows:
        if group and row[0] != group[0][0]:
            close()
            group = []
        group.append(row)
    close()
    return Pool(ids, np.array(scores, dtype=float), np.array(embeddings, dtype=float),
                np.array(sequences), np.array(firsts))


def min_gap(sampling_min_gap: int, segment_length: int) -> int:
    """Frames between two segments' first frames below which they are neighbours for the rule."""
    return max(sampling_min_gap, segment_length)
