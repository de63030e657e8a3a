"""The sampling strategies at their boundaries, and against independent implementations of their
documented rules (ranked batch mode, temporal tiers, queue priorities). Pure numpy, no database;
`make mutation` runs these against mutants of labeling/sampling/strategies.py."""
from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

from labeling.sampling import strategies
from labeling.sampling.strategies import (BATCH_BASE, STRATEGIES, TIER_STEP, frame_score_from_boxes, max_uncertainty,
                                         queue_priorities, select_batch, temporal_tiers, uncertainty)


# ------------------------------------------------------------------------------ reference implementations

def _unit(x):
    x = np.asarray(x, dtype=float)
    norms = np.sqrt((x * x).sum(axis=1, keepdims=True))
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def reference_batch(scores, embeddings, seqs, frames, n, gap, labeled=None, max_similarity=0.98, strategy="ranked"):
    """Cardoso et al.'s ranked batch mode with the two hard rules, as select_batch documents it."""
    scores = np.asarray(scores, dtype=float)
    u = scores - scores.min()
    u = u / u.max() if u.max() > 0 else u
    emb = _unit(embeddings)
    known = _unit(labeled) if strategy == "ranked" and labeled is not None and len(labeled) else None
    allowed = np.ones(len(scores), dtype=bool)
    picks = []
    while len(picks) < n and allowed.any():
        left = np.flatnonzero(allowed)
        if known is None:
            best = left[np.argmax(u[left])]
        else:
            a = len(left) / (len(left) + len(known))
            distance = np.sqrt(((emb[left, None, :] - known[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
            best = left[np.argmax(a * (1 - 1 / (1 + distance)) + (1 - a) * u[left])]
        picks.append(int(best))
        if strategy == "ranked":
            known = emb[[best]] if known is None else np.vstack([known, emb[[best]]])
        for j in left:
            if (seqs[j] == seqs[best] and abs(int(frames[j]) - int(frames[best])) <= max(gap, 0)) or j == best or (
                    max_similarity is not None and emb[j] @ emb[best] >= max_similarity):
                allowed[j] = False
    return picks


def reference_tiers(scores, seqs, frames, gap):
    """Going down the scores (ties: in input order), each frame joins the first tier that holds no
    frame of its sequence within `gap` of it."""
    tiers, members = {}, []  # members[t]: (sequence, frame) pairs in tier t
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        t = 0
        while t < len(members) and any(s == seqs[i] and abs(f - frames[i]) <= max(gap, 0) for s, f in members[t]):
            t += 1
        if t == len(members):
            members.append([])
        members[t].append((seqs[i], frames[i]))
        tiers[i] = t
    return [tiers[i] for i in range(len(scores))]


def reference_priorities(scores, emb, seqs, frames, batch_size, gap, labeled, max_similarity, pool):
    scores, emb = np.asarray(scores, dtype=float), np.asarray(emb, dtype=float)
    mean = emb.mean(axis=0)
    priority = -TIER_STEP * np.array(reference_tiers(list(scores), list(seqs), list(frames), gap)) + scores
    candidates = sorted(range(len(scores)), key=lambda i: -scores[i])[:pool]
    if batch_size > 0:
        picks = reference_batch(scores[candidates], (emb - mean)[candidates], np.asarray(seqs)[candidates],
                                np.asarray(frames)[candidates], batch_size, gap,
                                None if labeled is None else np.asarray(labeled, dtype=float) - mean, max_similarity)
        for rank, pick in enumerate(picks):
            priority[candidates[pick]] = BATCH_BASE + (batch_size - rank)
    return priority


def pool(seed, n=40, d=3, n_seqs=3, ties=False):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, n).astype(float) if ties else rng.random(n) * 3 - 1
    return scores, rng.normal(size=(n, d)), rng.integers(0, n_seqs, n), rng.integers(0, 30, n), rng.normal(size=(4, d))


# ------------------------------------------------------------------------------ against the references

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("strategy", ["ranked", "greedy"])
@pytest.mark.parametrize("with_labeled", [False, True])
def test_select_batch_matches_the_documented_rule(seed, strategy, with_labeled):
    scores, emb, seqs, frames, labeled = pool(seed)
    labeled = labeled if with_labeled else None
    for gap, max_similarity in ((3, 0.9), (0, None), (1, 0.5)):
        got = select_batch(scores, emb, seqs, frames, 8, min_gap_frames=gap, strategy=strategy,
                           labeled_embeddings=labeled, max_similarity=max_similarity)
        assert list(got) == reference_batch(scores, emb, seqs, frames, 8, gap, labeled, max_similarity, strategy)
        assert got.dtype.kind == "i"


@pytest.mark.parametrize("strategy", ["ranked", "greedy"])
def test_select_batch_reads_column_scores_and_empty_labeled_sets(strategy):
    scores, emb, seqs, frames, labeled = pool(21)
    flat = select_batch(scores, emb, seqs, frames, 6, min_gap_frames=2, strategy=strategy, labeled_embeddings=labeled)
    column = select_batch(scores[:, None], emb, seqs[:, None], frames[:, None], 6, min_gap_frames=2,
                          strategy=strategy, labeled_embeddings=labeled)
    assert list(column) == list(flat)
    # an empty labeled set is no labeled set
    assert list(select_batch(scores, emb, seqs, frames, 6, strategy=strategy, labeled_embeddings=np.empty((0, 3)))) \
        == list(select_batch(scores, emb, seqs, frames, 6, strategy=strategy))


def test_ranked_scores_are_min_max_scaled():
    """Scores in [0, 0.5], or shifted by a constant, give the picks of their [0, 1] rescaling."""
    _, emb, seqs, frames, labeled = pool(11)
    base = np.random.default_rng(12).random(40)
    base = (base - base.min()) / (base.max() - base.min())
    expected = reference_batch(base, emb, seqs, frames, 6, 2, labeled)
    for scores in (base * 0.5, base + 3.0, base * 4.0 - 1.0):
        assert list(select_batch(scores, emb, seqs, frames, 6, min_gap_frames=2, labeled_embeddings=labeled)) == expected


def test_ranked_with_equal_scores_goes_by_diversity_alone():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    got = select_batch([0.3] * 4, emb, [0, 1, 2, 3], [0] * 4, 4, labeled_embeddings=[[1.0, 0.02]], max_similarity=None)
    assert list(got) == reference_batch([0.3] * 4, emb, [0, 1, 2, 3], [0] * 4, 4, 10, [[1.0, 0.02]], None)
    assert got[0] == 3  # the farthest from what is labeled


def test_ranked_remembers_every_pick_not_only_the_last():
    # on a line: 0 is the most uncertain; then 4 (farthest from 0); then 2 is far from both, while
    # 1 is far from 4 but next to 0
    emb = np.array([[1.0, 0.0], [0.98, 0.2], [0.0, 1.0], [-0.98, 0.2], [-1.0, 0.0]])
    scores = [1.0, 0.9, 0.0, 0.0, 0.0]
    got = select_batch(scores, emb, np.arange(5), np.zeros(5), 3, max_similarity=None)
    assert list(got) == reference_batch(scores, emb, np.arange(5), np.zeros(5), 3, 10, None, None)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ties", [False, True])
def test_temporal_tiers_match_the_documented_rule(seed, ties):
    scores, _, seqs, frames, _ = pool(seed, n=60, ties=ties)
    for gap in (0, 1, 4):
        got = temporal_tiers(scores, seqs, frames, gap)
        assert list(got) == reference_tiers(list(scores), list(seqs), list(frames), gap)
        assert got.dtype.kind == "i"


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ties", [False, True])
def test_queue_priorities_match_the_documented_rule(seed, ties):
    scores, emb, seqs, frames, labeled = pool(seed, n=60, ties=ties)
    emb = emb + [5.0, -3.0, 1.0]  # an offset that only centring removes
    for batch_size, gap, with_labeled, max_similarity, size in ((5, 3, True, 0.9, 25), (1, 0, False, None, 60),
                                                              (4, 2, False, 0.5, 10), (0, 2, True, 0.9, 60)):
        known = labeled + [5.0, -3.0, 1.0] if with_labeled else None
        got = queue_priorities(scores, emb, seqs, frames, batch_size=batch_size, min_gap_frames=gap,
                               labeled_embeddings=known, max_similarity=max_similarity, pool=size)
        expected = reference_priorities(scores, emb, seqs, frames, batch_size, gap, known, max_similarity, size)
        np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------------ boundaries

def test_select_batch_temporal_gap_is_inclusive_and_defaults_to_ten():
    args = ([1.0, 0.9], np.eye(2), [5, 5])
    assert list(select_batch(*args, [0, 10], 2)) == [0]  # 10 apart: too close with the default gap
    assert list(select_batch(*args, [0, 11], 2)) == [0, 1]
    assert list(select_batch(*args, [0, 1], 2, min_gap_frames=0)) == [0, 1]  # 0: only the same frame twice
    assert list(select_batch(*args, [0, 0], 2, min_gap_frames=0)) == [0]
    assert list(select_batch(*args, [0, 1], 2, min_gap_frames=-5)) == [0, 1]  # a negative gap is 0
    assert list(select_batch(*args, [0, 3], 2, min_gap_frames=3, strategy="greedy")) == [0]


def test_select_batch_similarity_at_the_threshold_counts():
    emb = [[1.0, 0.0], [0.6, 0.8]]  # cosine exactly 0.6
    assert list(select_batch([1.0, 0.9], emb, [1, 2], [0, 0], 2, max_similarity=0.6)) == [0]
    assert list(select_batch([1.0, 0.9], emb, [1, 2], [0, 0], 2, max_similarity=0.61)) == [0, 1]


def test_select_batch_sizes_and_shapes():
    emb = np.eye(3)
    assert list(select_batch([0.1, 0.5, 0.2], emb, [1, 2, 3], [0, 0, 0], 1)) == [1]
    assert select_batch([0.1, 0.5, 0.2], emb, [1, 2, 3], [0, 0, 0], 0).shape == (0,)
    # column-shaped inputs (one row per frame) are read as flat ones
    got = select_batch(np.array([[0.1], [0.5], [0.2]]), emb, np.array([[1], [1], [3]]), np.array([[0], [1], [9]]), 3)
    assert list(got) == [1, 2]
    # unsigned frame indices: distances do not wrap around
    got = select_batch([0.9, 1.0], np.eye(2), [4, 4], np.array([3, 4], dtype=np.uint32), 2, min_gap_frames=2)
    assert list(got) == [1]
    with pytest.raises(ValueError, match="unknown strategy 'coreset'; expected 'ranked' or 'greedy'"):
        select_batch([1.0], [[1.0]], [0], [0], 1, strategy="coreset")


def test_unit_rows():
    np.testing.assert_array_equal(strategies._unit_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.3, 0.4]])),
                                  [[0.6, 0.8], [0.0, 0.0], [0.6, 0.8]])


def test_temporal_tiers_boundaries():
    # gap 0: neighbours share a tier, only the same frame twice does not
    assert list(temporal_tiers([3.0, 2.0, 1.0], [1, 1, 1], [0, 1, 1], 0)) == [0, 0, 1]
    assert list(temporal_tiers([3.0, 2.0], [1, 1], [0, 2], 2)) == [0, 1]  # exactly the gap apart: too close
    assert list(temporal_tiers([3.0, 2.0], [1, 1], [0, 3], 2)) == [0, 0]
    # column-shaped inputs, and sequence ids that are plain Python objects
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    got = temporal_tiers(np.array([[3.0], [2.0], [1.0]]), np.array([a, a, b], dtype=object), np.array([[0], [1], [1]]), 1)
    assert list(got) == [0, 1, 0]


def test_queue_priorities_defaults():
    # batch of at most 50, in pick order; gap 10; near-duplicates at cosine 0.98
    n = 60
    emb = np.c_[np.cos(np.arange(n) * 0.1), np.sin(np.arange(n) * 0.1)]  # all around the circle: centred already
    scores = np.linspace(1.0, 0.1, n)
    prio = queue_priorities(scores, emb, np.arange(n), np.zeros(n))
    picked = np.flatnonzero(prio >= BATCH_BASE)
    assert prio.max() == BATCH_BASE + 50
    assert len(picked) == len(reference_batch(scores, emb - emb.mean(axis=0), np.arange(n), np.zeros(n), 50, 10))
    np.testing.assert_array_equal(prio, reference_priorities(scores, emb, np.arange(n), np.zeros(n), 50, 10, None,
                                                             0.98, 2000))
    # two frames 10 apart in one sequence are not both in the batch; 11 apart they are
    assert (queue_priorities([1.0, 0.9], np.eye(2), [3, 3], [0, 10]) >= BATCH_BASE).sum() == 1
    assert (queue_priorities([1.0, 0.9], np.eye(2), [3, 3], [0, 11]) >= BATCH_BASE).sum() == 2
    # a batch of one is a batch
    assert (queue_priorities([1.0, 0.9], np.eye(2), [3, 4], [0, 0], batch_size=1) >= BATCH_BASE).sum() == 1


def test_queue_priorities_read_column_scores():
    scores, emb, seqs, frames, labeled = pool(22, n=30)
    flat = queue_priorities(scores, emb, seqs, frames, batch_size=4, labeled_embeddings=labeled)
    column = queue_priorities(scores[:, None], emb, seqs[:, None], frames[:, None], batch_size=4,
                              labeled_embeddings=labeled)
    assert column.shape == (30,)
    np.testing.assert_array_equal(column, flat)
    empty = queue_priorities(scores, emb, seqs, frames, batch_size=4, labeled_embeddings=np.empty((0, 3)))
    np.testing.assert_array_equal(empty, queue_priorities(scores, emb, seqs, frames, batch_size=4))


def test_queue_priorities_take_the_batch_from_the_2000_most_uncertain():
    # two tight clusters of 1000 near-duplicates, and one frame unlike all of them but the least uncertain
    rng = np.random.default_rng(5)
    n = 2001
    emb = np.r_[np.tile([1.0, 0.0], (1000, 1)), np.tile([-1.0, 0.0], (1000, 1)), [[0.0, 1.0]]]
    emb[:2000] += rng.normal(scale=1e-3, size=(2000, 2))
    scores = np.r_[rng.random(2000) * 0.9 + 0.1, 0.0]
    prio = queue_priorities(scores, emb, np.arange(n), np.zeros(n))
    assert (prio >= BATCH_BASE).sum() == 2  # one of each cluster; the outlier was never a candidate
    assert prio[-1] == 0.0


# ------------------------------------------------------------------------------ frame scores

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_box_with_no_class_evidence_is_as_uncertain_as_it_gets(strategy):
    # an all-zero row (e.g. every class below its sigmoid's floor) counts as uniform
    assert frame_score_from_boxes([[0.0, 0.0, 0.0]], strategy, maybe_weight=0.0, box_scores=[0.5]) == pytest.approx(0.5)
    assert frame_score_from_boxes([[0.0, 0.0], [0.9, 0.1]], strategy, maybe_weight=0.0,
                                  box_scores=[1.0, 1.0]) == pytest.approx(1.0)


def test_frame_score_default_weight_and_clipped_confidences():
    # a coin-flip box: class term 0.5 · 1, "maybe" term 1, weighted 0.5 by default
    assert frame_score_from_boxes([[0.5, 0.5]], "margin") == pytest.approx(1.0)
    # box scores outside [0, 1] are clipped: −0.2 and 1.3 are sure either way
    assert frame_score_from_boxes([[0.5, 0.5], [0.5, 0.5]], "margin", box_scores=[-0.2, 1.3]) == pytest.approx(1.0)
    assert frame_score_from_boxes([[0.5, 0.5]], "margin", box_scores=[1.3]) == pytest.approx(1.0)
    assert frame_score_from_boxes([[0.5, 0.5]], "margin", box_scores=[-0.2]) == pytest.approx(0.0)


def test_frame_score_reads_column_box_scores():
    # box 0 torn between two classes but hardly an object; box 1 sure of its class and an object
    rows = [[0.5, 0.5], [1.0, 0.0]]
    flat = frame_score_from_boxes(rows, "margin", maybe_weight=0.0, box_scores=[0.2, 0.9])
    assert flat == pytest.approx(0.2)
    assert frame_score_from_boxes(rows, "margin", maybe_weight=0.0, box_scores=[[0.2], [0.9]]) == flat


def test_frame_score_of_integer_rows():
    # one-hot rows as integers (counts, votes): the same as their float form
    for strategy in STRATEGIES:
        assert frame_score_from_boxes([[1, 0], [0, 1]], strategy) == frame_score_from_boxes([[1.0, 0.0], [0.0, 1.0]],
                                                                                            strategy)
        assert frame_score_from_boxes([[2, 2]], strategy, maybe_weight=0.0, box_scores=[1]) == pytest.approx(1.0)


def test_max_uncertainty_bounds():
    assert max_uncertainty("entropy", 1) == 0.0 and max_uncertainty("margin", 0) == 0.0
    assert max_uncertainty("least_confidence", 4) == 0.75
    assert max_uncertainty("margin", 2) == 1.0
    assert max_uncertainty("entropy", 3) == pytest.approx(math.log(3))


def test_uncertainty_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"unknown strategy 'variance'; expected one of \('least_confidence', "):
        uncertainty([[0.5, 0.5]], "variance")
    with pytest.raises(ValueError, match=r"proba must be 2-D \(n, K\), got shape \(2,\)"):
        uncertainty([0.5, 0.5], "margin")


def test_uncertainty_of_integer_rows_is_float():
    for strategy in STRATEGIES:
        got = uncertainty([[1, 0], [0, 1]], strategy)
        assert got.dtype == float and list(got) == [0.0, 0.0]
