"""Active-learning strategies: pure functions over numpy arrays (no Django, no torch code here).

Library: modAL-python 0.4.2.1, as the design card asks, but only its functions over probability
arrays and embeddings, never its `ActiveLearner` (unmaintained; `teach` breaks on scikit-learn
≥ 1.8, modAL issue #196):

- `modAL.uncertainty._proba_uncertainty / _proba_margin / _proba_entropy`: the per-row
  measures on a probability matrix. They are private, so `uncertainty` wraps them, fixes one sign
  convention and the tests check them against the textbook formulas.
- `modAL.batch.select_instance`: one step of ranked batch-mode sampling (Cardoso et al. 2017,
  "Ranked batch-mode active learning"). `modAL.batch.ranked_batch` loops over it but needs a
  learner object and offers no hook between picks; `select_batch` runs the same loop itself so
  that the temporal and near-duplicate rules can remove candidates after every pick.

Importing modAL imports torch and skorch (about 3 s), so it is imported on first use, not when
this module is imported.

Sign convention: every score here is "higher = more uncertain = label it sooner".
"""
from __future__ import annotations

import numpy as np

STRATEGIES = ("least_confidence", "margin", "entropy")


def _modal():
    from modAL import batch, uncertainty  # heavy (torch, skorch): imported on first use

    return uncertainty, batch


def uncertainty(proba, strategy: str) -> np.ndarray:
    """Per-row uncertainty of class probabilities `proba` (shape (n, K), rows summing to 1).

    - "least_confidence": 1 − max_k p_k, in [0, 1 − 1/K].
    - "margin": 1 − (p₁ − p₂), p₁ ≥ p₂ the two largest, in [0, 1]. modAL's `_proba_margin` returns
      the margin p₁ − p₂ itself (small = uncertain; modAL's `margin_sampling` takes the argmin);
      we flip it so that higher = more uncertain like the other two, and keep it non-negative.
    - "entropy": −Σ_k p_k ln p_k (natural log, 0 ln 0 = 0), in [0, ln K].

    With a single class (K = 1) there is nothing to be unsure about: all three are 0 (modAL's
    margin would be 0, which our flipped sign would turn into "most uncertain").
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"proba must be 2-D (n, K), got shape {p.shape}")
    if len(p) == 0 or p.shape[1] < 2:
        return np.zeros(len(p))
    modal_uncertainty, _ = _modal()
    if strategy == "least_confidence":
        return modal_uncertainty._proba_uncertainty(p)
    if strategy == "margin":
        return 1.0 - modal_uncertainty._proba_margin(p)
    return np.asarray(modal_uncertainty._proba_entropy(p), dtype=float)


def max_uncertainty(strategy: str, n_classes: int) -> float:
    """The largest value `uncertainty` can take with `n_classes` classes (at the uniform row)."""
    if n_classes < 2:
        return 0.0
    return {"least_confidence": 1.0 - 1.0 / n_classes, "margin": 1.0, "entropy": float(np.log(n_classes))}[strategy]


def frame_score_from_boxes(box_probas, strategy: str, maybe_weight: float = 0.5, box_scores=None) -> float:
    """One uncertainty score for a frame from a detector's boxes on it.

    `box_probas`: shape (B, K), one row of class probabilities per box, for every box the detector
    output down to its score threshold (e.g. torchvision's 0.05) — so including the low-confidence
    "maybe objects". Rows need not sum to 1 (sigmoid heads, or softmax with the background column
    dropped): each is renormalised for the class term. `box_scores`: the detector's confidence
    c_b that box b is an object at all; by default the row's maximum (what detectors report as the
    box score).

    Rule, with u_b the box's class uncertainty divided by its maximum for K classes (so in [0, 1]
    for all three measures):

        score = max_b (c_b · u_b)  +  maybe_weight · max_b (1 − |2 c_b − 1|)

    - Class term: the most confusing box decides, weighted by how sure the detector is that it is
      an object. Max rather than mean: aerial frames often hold dozens of easy objects (parked
      cars) and one hard one; a mean would dilute it, and the mean of a frame with one box would
      rank above the same box among many easy ones. (Brust et al. 2018, "Active learning for deep
      object detection", discuss sum/mean/max aggregation.) Weighting by c_b keeps the noisy class
      rows of near-background boxes (c ≈ 0.05) from dominating.
    - "Maybe object" term: 1 − |2c − 1| is 0 for a box the detector is sure of either way (c = 0
      or 1) and 1 for a coin flip (c = 0.5): a low-confidence box is a possible missed object or
      false alarm, exactly what a human resolves. Max over boxes, so it is in [0, 1] whatever the
      number of boxes.
    - No boxes: 0.0. A detector that outputs nothing even above its low score threshold is
      confident the frame is empty; such frames are still reached through the diversity term of
      `select_batch` and any random share of the queue.

    The score lies in [0, 1 + maybe_weight]; higher = label sooner.
    """
    p = np.asarray(box_probas, dtype=float)
    if p.size == 0:
        return 0.0
    p = p.reshape(len(p), -1)
    conf = p.max(axis=1) if box_scores is None else np.asarray(box_scores, dtype=float).reshape(len(p))
    conf = np.clip(conf, 0.0, 1.0)
    totals = p.sum(axis=1, keepdims=True)
    dist = np.divide(p, totals, out=np.full_like(p, 1.0 / p.shape[1]), where=totals > 0)
    top = max_uncertainty(strategy, p.shape[1])
    u = uncertainty(dist, strategy) / top if top > 0 else np.zeros(len(p))
    maybe = 1.0 - np.abs(2.0 * conf - 1.0)
    return float(np.max(conf * u) + maybe_weight * np.max(maybe))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def select_batch(scores, embeddings, sequence_ids, frame_indices, n: int, *, min_gap_frames: int = 10,
                 strategy: str = "ranked", labeled_embeddings=None, max_similarity: float = 0.98) -> np.ndarray:
    """Choose up to `n` of the pool's frames to label next: indices into the pool, in priority order.

    Inputs, one entry per pool frame: `scores` (uncertainty, higher = more uncertain), `embeddings`
    (shape (N, d)), `sequence_ids` and `frame_indices` (`Frame.sequence_id`, `Frame.index`).
    `labeled_embeddings`: embeddings of frames already labeled (shape (L, d)), or None.

    `strategy`:
    - "ranked": Cardoso et al.'s ranked batch mode via modAL's `select_instance`. Each pick maximises
      α·(1 − sim) + (1 − α)·u, where sim = 1/(1 + distance to the nearest labeled-or-already-picked
      frame), u the score and α = |unlabeled| / (|unlabeled| + |labeled|): diversity first while few
      frames are labeled, uncertainty later. Picked frames join the "labeled" set, so the next pick
      moves away from them. Without labeled frames the first pick is the most uncertain frame
      (modAL's cold start instead takes the most central frame, ignoring uncertainty, and builds an
      N × N distance matrix).
    - "greedy": highest score first (the rules below still apply).

    Two hard rules, applied after every pick to whatever is left:
    - temporal: never two picks of the same sequence with |frame index difference| ≤
      `min_gap_frames` (0 only forbids the same frame twice);
    - near-duplicates: never two picks whose embeddings have cosine similarity ≥ `max_similarity`
      (None turns it off).
    So fewer than `n` indices come back when the rules leave no candidate.

    Scaling, so that the balance does not depend on units: embeddings are L2-normalised (Euclidean
    distances then lie in [0, 2], whatever the embedding's scale) and scores are min–max scaled
    over the pool to [0, 1] (modAL's formula expects uncertainties in [0, 1]; entropy reaches ln K).

    Cost per pick is O(N·(L + picks)·d) (modAL computes distances to every labeled frame): give it a
    candidate pool of a few thousand frames (e.g. the top frames by score), not a whole project.
    """
    if strategy not in ("ranked", "greedy"):
        raise ValueError(f"unknown strategy {strategy!r}; expected 'ranked' or 'greedy'")
    scores = np.asarray(scores, dtype=float).reshape(-1)
    size = len(scores)
    if n <= 0 or size == 0:
        return np.empty(0, dtype=int)
    emb = _unit_rows(np.asarray(embeddings, dtype=float).reshape(size, -1))
    seqs = np.asarray(sequence_ids).reshape(size)
    idx = np.asarray(frame_indices, dtype=np.int64).reshape(size)
    u = scores - scores.min()
    if u.max() > 0:
        u = u / u.max()
    labeled = None
    if strategy == "ranked" and labeled_embeddings is not None and np.size(labeled_embeddings):
        labeled = _unit_rows(np.asarray(labeled_embeddings, dtype=float).reshape(-1, emb.shape[1]))

    allowed = np.ones(size, dtype=bool)
    picks: list[int] = []
    while len(picks) < n and allowed.any():
        if labeled is None or strategy == "greedy":
            i = int(np.flatnonzero(allowed)[np.argmax(u[allowed])])
        else:
            _, batch = _modal()
            i, _, _ = batch.select_instance(X_training=labeled, X_pool=emb, X_uncertainty=u, mask=allowed.copy(),
                                            metric="euclidean", n_jobs=None)
            i = int(i)
        picks.append(i)
        if strategy == "ranked":
            labeled = emb[[i]] if labeled is None else np.vstack([labeled, emb[[i]]])
        conflict = (seqs == seqs[i]) & (np.abs(idx - idx[i]) <= max(min_gap_frames, 0))
        if max_similarity is not None:
            conflict |= emb @ emb[i] >= max_similarity
        conflict[i] = True
        allowed &= ~conflict
    return np.array(picks, dtype=int)


#: Queue priorities: a picked batch sits above every tier; tiers are this far apart (scores
#: from `frame_score_from_boxes` plus a tag term stay far below it).
BATCH_BASE = 1_000_000.0
TIER_STEP = 100.0


def temporal_tiers(scores, sequence_ids, frame_indices, min_gap_frames: int) -> np.ndarray:
    """Tier of each frame: going down the scores, a frame joins the first tier holding no frame
    of its sequence within `min_gap_frames` of it. Serving tier 0 (by score), then tier 1, …
    never hands out two neighbouring frames in a row while any farther frame is left, however
    far down the queue annotators go."""
    import bisect

    scores = np.asarray(scores, dtype=float).reshape(-1)
    seqs = np.asarray(sequence_ids).reshape(-1)
    idx = np.asarray(frame_indices, dtype=np.int64).reshape(-1)
    tiers = np.zeros(len(scores), dtype=np.int64)
    placed: dict[object, list[list[int]]] = {}
    gap = max(int(min_gap_frames), 0)
    for i in np.argsort(-scores, kind="stable"):
        lists = placed.setdefault(seqs[i].item() if hasattr(seqs[i], "item") else seqs[i], [])
        x = int(idx[i])
        for t, members in enumerate(lists):
            at = bisect.bisect_left(members, x - gap)
            if at == len(members) or members[at] > x + gap:
                bisect.insort(members, x)
                tiers[i] = t
                break
        else:
            lists.append([x])
            tiers[i] = len(lists) - 1
    return tiers


#: each condition present among the open frames gets at least this share of a batch
STRATUM_FLOOR = 0.1


def stratum_quotas(strata, batch_size: int, floor: float = STRATUM_FLOOR) -> dict:
    """Slots of a batch per stratum (a frame's conditions: day, night, blurred, thermal…): in
    proportion to the stratum's frames (largest remainders), but at least ceil(floor · batch_size)
    (or all its frames, if fewer), the slots a small stratum gains coming from the largest ones. So
    a stratum of 2 % of the frames is not starved by a model most unsure about daylight frames."""
    labels, counts = np.unique(np.asarray(strata), return_counts=True)
    have = {str(label): int(n) for label, n in zip(labels, counts)}
    total = sum(have.values())
    slots = min(batch_size, total)
    share = {lb: slots * n / total for lb, n in have.items()}
    quota = {lb: int(share[lb]) for lb in have}
    for lb in sorted(have, key=lambda lb: (int(share[lb]) - share[lb], lb))[:slots - sum(quota.values())]:
        quota[lb] += 1
    least = max(1, int(np.ceil(floor * batch_size)))
    for lb in sorted(have, key=lambda lb: (have[lb], lb)):  # the smallest strata first
        want = min(have[lb], least)
        while quota[lb] < want:
            donors = [d for d in have if quota[d] > min(have[d], least)]
            if not donors:
                break
            quota[max(donors, key=lambda d: (quota[d], d))] -= 1
            quota[lb] += 1
    return {lb: q for lb, q in quota.items()}


def queue_priorities(scores, embeddings, sequence_ids, frame_indices, *, batch_size: int = 50,
                     min_gap_frames: int = 10, labeled_embeddings=None, max_similarity: float | None = 0.98,
                     pool: int = 2000, strata=None) -> np.ndarray:
    """What the queue orders by (higher first), from a scoring run's uncertainties.

    1. The top `batch_size` frames: `select_batch(strategy="ranked")` over the `pool` most
       uncertain frames, with the frames already labelled as the "labeled" set — uncertain and
       unlike what people already labelled or what is already in the batch, never two within
       `min_gap_frames` of each other, never near-duplicates. They get BATCH_BASE + (batch_size −
       rank), so they come first, in pick order.
    2. Every other frame: −tier · TIER_STEP + score, with `temporal_tiers`: by score within a
       tier, and a frame's neighbours pushed to later tiers.

    With `strata` (one label per frame: its conditions), the batch is picked per stratum, each
    with its `stratum_quotas` share, and the picks ordered by score.

    Embeddings are centred on the pool's mean before the cosine and distance rules (the features
    of a young model are all alike in absolute terms; centring compares frames with each other).
    """
    scores = np.asarray(scores, dtype=float).reshape(-1)
    n = len(scores)
    if n == 0:
        return np.empty(0)
    emb = np.asarray(embeddings, dtype=float).reshape(n, -1)
    mean = emb.mean(axis=0, keepdims=True)
    centred = emb - mean
    labeled = None
    if labeled_embeddings is not None and np.size(labeled_embeddings):
        labeled = np.asarray(labeled_embeddings, dtype=float).reshape(-1, emb.shape[1]) - mean
    priority = -TIER_STEP * temporal_tiers(scores, sequence_ids, frame_indices, min_gap_frames) + scores
    if batch_size <= 0:
        return priority
    groups = {"": np.arange(n)} if strata is None else {
        str(label): np.flatnonzero(np.asarray(strata) == label) for label in np.unique(np.asarray(strata))}
    quotas = {"": batch_size} if strata is None else stratum_quotas(strata, batch_size)
    chosen = []
    seqs, idx = np.asarray(sequence_ids), np.asarray(frame_indices, dtype=np.int64)
    unit = _unit_rows(centred)
    for label in sorted(groups, key=lambda lb: len(groups[lb])):  # the smallest strata first
        members = groups[label]
        for _, taken in chosen:  # the rules hold across strata too: no neighbour, no near-duplicate
            clash = (seqs[members] == seqs[taken]) & (np.abs(idx[members] - idx[taken]) <= max(min_gap_frames, 0))
            if max_similarity is not None:
                clash |= unit[members] @ unit[taken] >= max_similarity
            members = members[~clash]
        candidates = members[np.argsort(-scores[members], kind="stable")][:pool]
        picks = select_batch(scores[candidates], centred[candidates], np.asarray(sequence_ids)[candidates],
                             np.asarray(frame_indices)[candidates], quotas[label], min_gap_frames=min_gap_frames,
                             strategy="ranked", labeled_embeddings=labeled, max_similarity=max_similarity)
        chosen.extend((rank, candidates[pick]) for rank, pick in enumerate(picks))
    if len(groups) > 1:  # one batch of several strata: by score
        chosen.sort(key=lambda pair: -scores[pair[1]])
    for rank, (_, frame) in enumerate(chosen):
        priority[frame] = BATCH_BASE + (batch_size - rank)
    return priority
