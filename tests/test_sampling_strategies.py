"""Active-learning strategies (labeling.sampling.strategies): pure numpy, no database."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from labeling.sampling.strategies import (BATCH_BASE, STRATEGIES, TIER_STEP, frame_score_from_boxes, queue_priorities,
                                         select_batch, stratum_quotas, temporal_tiers, uncertainty)

PROBA = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0.0]])


def test_strategies_on_hand_computed_rows():
    # least confidence 1 − max p
    assert uncertainty(PROBA, "least_confidence") == pytest.approx([0.5, 0.0, 2 / 3, 0.4])
    # margin, flipped so that higher = more uncertain: 1 − (p1 − p2)
    assert uncertainty(PROBA, "margin") == pytest.approx([0.8, 0.0, 1.0, 0.8])
    # entropy −Σ p ln p: 0.5 ln 2 + 0.3 ln(1/0.3) + 0.2 ln 5 = 1.029653…; ln 3; 0.6/0.4 row
    assert uncertainty(PROBA, "entropy") == pytest.approx(
        [1.0296530140645737, 0.0, math.log(3), -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))])


def test_strategies_match_textbook_formulas():
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=200)
    top2 = np.sort(p, axis=1)[:, ::-1][:, :2]
    assert uncertainty(p, "least_confidence") == pytest.approx(1 - p.max(axis=1))
    assert uncertainty(p, "margin") == pytest.approx(1 - (top2[:, 0] - top2[:, 1]))
    assert uncertainty(p, "entropy") == pytest.approx(-(p * np.log(p)).sum(axis=1))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_edge_cases(strategy):
    assert uncertainty(np.zeros((0, 3)), strategy).shape == (0,)
    assert list(uncertainty(np.ones((3, 1)), strategy)) == [0, 0, 0]  # one class: nothing to doubt
    sure, unsure = uncertainty([[0.9, 0.1], [0.55, 0.45]], strategy)
    assert unsure > sure >= 0
    with pytest.raises(ValueError):
        uncertainty([0.5, 0.5], strategy)


def test_unknown_strategy():
    with pytest.raises(ValueError):
        uncertainty(PROBA, "variance")


def test_frame_score_rule():
    # box 1: confidence 0.5, class entropy 1.029653 / ln 3 = 0.937229 → 0.5 · 0.937229; its
    # "maybe object" term 1 − |2·0.5 − 1| = 1, weighted 0.5. Box 2 (0.05, 0.01, 0) is weaker on both.
    score = frame_score_from_boxes([[0.5, 0.3, 0.2], [0.05, 0.01, 0.0]], "entropy", maybe_weight=0.5)
    assert score == pytest.approx(0.5 * 1.0296530140645737 / math.log(3) + 0.5)
    # a certain box (one-hot, confidence 1) contributes nothing
    assert frame_score_from_boxes([[0.0, 1.0, 0.0]], "margin") == 0.0
    # a frame with no boxes
    assert frame_score_from_boxes(np.zeros((0, 4)), "entropy") == 0.0
    assert frame_score_from_boxes([], "least_confidence") == 0.0


def test_frame_score_max_not_diluted_by_easy_boxes():
    hard = [[0.45, 0.45, 0.1]]
    easy = [[0.98, 0.01, 0.01]] * 20
    for strategy in STRATEGIES:
        alone = frame_score_from_boxes(hard, strategy)
        assert frame_score_from_boxes(hard + easy, strategy) == pytest.approx(alone)
        assert frame_score_from_boxes(easy, strategy) < alone


def test_frame_score_maybe_objects():
    # single-class detector: only the "maybe object" term can move the score
    near_threshold = frame_score_from_boxes([[0.45]], "entropy", maybe_weight=1.0)
    background = frame_score_from_boxes([[0.06]], "entropy", maybe_weight=1.0)
    assert near_threshold == pytest.approx(0.9) and background == pytest.approx(0.12)
    assert frame_score_from_boxes([[0.45]], "entropy", maybe_weight=0.0) == 0.0
    # the detector's own box scores override the row maximum
    overridden = frame_score_from_boxes([[0.5, 0.5]], "margin", maybe_weight=0.0, box_scores=[0.2])
    assert overridden == pytest.approx(0.2)


def _pairs_too_close(picks, seqs, frames, gap):
    return [(a, b) for a, b in itertools.combinations(picks, 2) if seqs[a] == seqs[b] and abs(frames[a] - frames[b]) <= gap]


@pytest.mark.parametrize("strategy", ["ranked", "greedy"])
def test_temporal_rule(strategy):
    # two sequences of 100 frames whose scores peak smoothly mid-sequence: without the rule the
    # top frames would all be neighbours
    frames = np.tile(np.arange(100), 2)
    seqs = np.repeat([7, 8], 100)
    scores = np.exp(-((frames - 50) / 20.0) ** 2) * np.where(seqs == 7, 1.0, 0.9)
    embeddings = np.random.default_rng(1).normal(size=(200, 8))
    picks = select_batch(scores, embeddings, seqs, frames, 12, min_gap_frames=5, strategy=strategy,
                         labeled_embeddings=embeddings[:3])
    assert len(picks) == 12 and len(set(picks)) == 12
    assert _pairs_too_close(picks, seqs, frames, 5) == []
    assert {seqs[i] for i in picks} == {7, 8}  # the same index in another sequence is fine


def test_rules_can_leave_fewer_than_n():
    picks = select_batch(np.arange(10.0), np.eye(10), np.zeros(10), np.arange(10), 5, min_gap_frames=100)
    assert list(picks) == [9]


@pytest.mark.parametrize("strategy", ["ranked", "greedy"])
def test_near_duplicates_not_both_picked(strategy):
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(30, 16))
    embeddings[1] = embeddings[0] * 3.0  # the same image (scale does not matter: cosine)
    embeddings[2] = embeddings[0] + 1e-3
    scores = np.full(30, 0.1)
    scores[:3] = [1.0, 0.99, 0.98]  # the duplicates are the most uncertain frames
    picks = select_batch(scores, embeddings, np.arange(30), np.zeros(30), 5, strategy=strategy,
                         labeled_embeddings=rng.normal(size=(50, 16)))
    assert len(picks) == 5 and len({0, 1, 2} & set(picks)) == 1


def test_ranked_balances_uncertainty_and_dissimilarity_by_hand():
    # labeled frame at (1, 0); pool (1, 0), (0, 1), (−1, 0) with scores 1, 0.5, 0.
    # pick 1: α = 3/4; score = α·(1 − 1/(1 + d)) + (1 − α)·u → 0.25, 0.564, 0.5 → frame 1
    # pick 2: α = 2/4 with frame 1 now "labeled"; → 0.5 (frame 0), 0.293 (frame 2) → frame 0
    labeled = np.array([[1.0, 0.0]])
    pool = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    args = ([1.0, 0.5, 0.0], pool, [0, 1, 2], [0, 0, 0], 3)
    assert list(select_batch(*args, labeled_embeddings=labeled)) == [1, 0, 2]
    assert list(select_batch(*args, strategy="greedy")) == [0, 1, 2]
    # no labeled frames yet: the most uncertain frame goes first
    assert select_batch(*args)[0] == 0


@pytest.mark.parametrize("strategy", ["ranked", "greedy"])
def test_batch_edge_cases(strategy):
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(6, 4))
    picks = select_batch(rng.random(6), embeddings, np.arange(6), np.zeros(6), 50, strategy=strategy,
                         labeled_embeddings=rng.normal(size=(2, 4)))
    assert sorted(picks) == list(range(6))  # n larger than the pool: every frame, once
    empty = select_batch([], np.zeros((0, 4)), [], [], 5, strategy=strategy)
    assert empty.shape == (0,) and empty.dtype.kind == "i"
    assert select_batch(rng.random(6), embeddings, np.arange(6), np.zeros(6), 0, strategy=strategy).shape == (0,)
    with pytest.raises(ValueError):
        select_batch([1.0], [[1.0]], [0], [0], 1, strategy="coreset")


def test_temporal_tiers_push_neighbours_down():
    # one sequence, frames 0..9, scores falling with the index: with gap 2, tier 0 takes 0, 3, 6, 9
    scores = np.linspace(1.0, 0.1, 10)
    tiers = temporal_tiers(scores, [7] * 10, range(10), 2)
    assert list(np.flatnonzero(tiers == 0)) == [0, 3, 6, 9]
    assert list(tiers) == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    # another sequence's frames never conflict with these
    both = temporal_tiers(np.r_[scores, scores], [7] * 10 + [8] * 10, list(range(10)) * 2, 2)
    assert list(both[:10]) == list(both[10:]) == list(tiers)


def test_queue_priorities_put_a_diverse_batch_first_then_tiers():
    rng = np.random.default_rng(1)
    n = 60
    seqs = np.array([1] * 30 + [2] * 30)
    idx = np.r_[np.arange(30), np.arange(30)]
    scores = rng.random(n)
    scores[10:13] = [0.99, 0.995, 0.98]  # three neighbours, all very uncertain
    emb = rng.standard_normal((n, 8))
    prio = queue_priorities(scores, emb, seqs, idx, batch_size=4, min_gap_frames=3)
    order = np.argsort(-prio, kind="stable")
    batch = order[:4]
    assert all(prio[b] >= BATCH_BASE for b in batch) and (prio >= BATCH_BASE).sum() == 4
    assert 11 in batch and not {10, 12} & set(batch)  # the best of the neighbours, not the others
    for a, b in itertools.combinations(batch, 2):
        assert seqs[a] != seqs[b] or abs(idx[a] - idx[b]) > 3
    # below the batch: never two neighbours in a row while the tier lasts
    rest = [i for i in order if prio[i] < BATCH_BASE]
    tier0 = [i for i in rest if prio[i] > -TIER_STEP / 2]
    for a, b in itertools.combinations(tier0, 2):
        assert seqs[a] != seqs[b] or abs(idx[a] - idx[b]) > 3
    assert len(queue_priorities([], np.empty((0, 8)), [], [])) == 0


def test_frame_scores_from_model_outputs():
    from labeling.sampling import nets

    # detector rows: [background, class1, class2]; a sure box and a coin-flip-class box
    sure = [0.02, 0.97, 0.01]
    torn = [0.10, 0.45, 0.45]
    assert nets.detector_score(np.array([sure]), "margin") < nets.detector_score(np.array([sure, torn]), "margin")
    assert nets.detector_score(np.empty((0, 3)), "entropy") == 0.0
    # tags: a 0.5 tag is as uncertain as it gets, a 0.99 one hardly
    assert nets.classifier_score(np.array([0.99, 0.5]), "entropy") == pytest.approx(1.0)
    assert nets.classifier_score(np.array([0.99, 0.01]), "least_confidence") == pytest.approx(0.02, abs=1e-9)
    unit = nets.project_embedding(np.random.default_rng(0).random((3, 960)))
    assert unit.shape == (3, nets.EMBED_DIM) and np.allclose(np.linalg.norm(unit, axis=1), 1.0)


def test_stratum_quotas_give_every_condition_its_floor_and_the_rest_by_size():
    strata = ["day"] * 900 + ["night"] * 60 + ["blurred"] * 30 + ["thermal"] * 10
    quotas = stratum_quotas(strata, 50)
    assert sum(quotas.values()) == 50
    assert all(quotas[s] >= 5 for s in ("night", "blurred", "thermal"))  # 10 % of 50 each
    assert quotas["day"] == max(quotas.values()) and quotas["day"] >= 30
    assert stratum_quotas(["day"] * 3 + ["night"] * 2, 50) == {"day": 3, "night": 2}  # all there is
    assert stratum_quotas(["a"] * 100, 10) == {"a": 10}
    few = stratum_quotas(["a"] * 40 + ["b"] * 30 + ["c"] * 20 + ["d"] * 10, 2)  # more strata than slots
    assert sum(few.values()) == 2 and few["a"] == 1 and few["b"] == 1
    assert stratum_quotas(["day"] * 500 + ["night"] * 500, 10) == {"day": 5, "night": 5}  # big enough already


def test_night_frames_are_not_starved_when_the_model_is_most_unsure_about_day_frames():
    rng = np.random.default_rng(3)
    n = 400
    strata = np.array(["day"] * 360 + ["night"] * 40)
    scores = np.where(strata == "day", 0.5 + 0.5 * rng.random(n), 0.4 * rng.random(n))  # night: all lower
    emb = rng.standard_normal((n, 8))
    seqs, idx = np.arange(n) // 100, np.arange(n) % 100 * 20
    plain = queue_priorities(scores, emb, seqs, idx, batch_size=20, min_gap_frames=0)
    assert not (plain[strata == "night"] >= BATCH_BASE).any()  # without strata: none in the batch
    prio = queue_priorities(scores, emb, seqs, idx, batch_size=20, min_gap_frames=0, strata=strata)
    batch = np.flatnonzero(prio >= BATCH_BASE)
    assert len(batch) == 20 and (strata[batch] == "night").sum() == 2  # its 10 % floor
    order = batch[np.argsort(-prio[batch])]
    assert list(scores[order]) == sorted(scores[order], reverse=True)  # one batch, by score


def test_the_temporal_and_duplicate_rules_hold_across_strata():
    rng = np.random.default_rng(5)
    n = 60
    seqs, idx = np.zeros(n, dtype=int), np.arange(n)
    strata = np.array(["day", "blurred"] * 30)  # neighbours alternate between strata
    prio = queue_priorities(rng.random(n), rng.standard_normal((n, 8)), seqs, idx, batch_size=8, min_gap_frames=3,
                            strata=strata)
    batch = sorted(np.flatnonzero(prio >= BATCH_BASE))
    assert len(batch) >= 4 and {"day", "blurred"} <= set(strata[batch])
    assert all(b - a > 3 for a, b in zip(batch, batch[1:])), batch
