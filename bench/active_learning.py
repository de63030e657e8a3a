"""Active learning vs random sampling with a simulated annotator, on a real data set that ships
with scikit-learn: `load_digits` (1797 real 8×8 handwritten digits, 10 classes).

The loop, per seed (5 seeds) and per arm (random, least_confidence, margin, entropy):
- a fixed test split (500 images, the same for every seed and arm); the other 1297 are the pool;
- start from 20 labels drawn at random (the same 20 for every arm of a seed);
- fit a LogisticRegression on the labels, score the test split, then "annotate" the next batch of
  10 (the simulated annotator reveals their true labels), until 300 labels;
- random draws the batch uniformly; each strategy scores the pool with
  `labeling.sampling.strategies.uncertainty` on the model's predict_proba and picks the batch with
  `select_batch(strategy="ranked")` — the same code the server uses — on embeddings = the pixel
  vectors (select_batch L2-normalises them), labeled embeddings = the labeled images. Digits have
  no sequences: every image is its own sequence (sequence id = its index), so the temporal rule
  is a no-op here; the near-duplicate rule (cosine ≥ 0.98) stays on.

Prints:
  BENCH al_labels_to_match_random_200  labels the best strategy needs for its mean accuracy (over
                                       seeds) to reach random's mean accuracy at 200 labels
                                       (">300" if it never does)
  BENCH al_best_strategy               that strategy
  BENCH al_goal_labels                 110 (about half of random's 200)
  BENCH al_random_acc_200              random's mean test accuracy at 200 labels
  BENCH al_labels_to_match_<strategy>  the same count for every strategy
  BENCH al_seeds, al_seconds           seeds run; seconds for the whole loop
and a table of mean test accuracy at 50/100/150/200/300 labels per arm.
"""
from __future__ import annotations

from _setup import emit  # first: it fixes the import path

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from labeling.sampling import strategies  # noqa: E402

SEEDS = 5
TEST_SIZE = 500
START, STEP, STOP = 20, 10, 300
GOAL_LABELS = 110
REFERENCE_LABELS = 200
TABLE_AT = (50, 100, 150, 200, 300)
ARMS = ("random",) + strategies.STRATEGIES


def run_arm(arm: str, seed: int, x_pool, y_pool, x_test, y_test) -> dict[int, float]:
    """Accuracy on the test split after each batch: {labels: accuracy}."""
    rng = np.random.default_rng(seed)
    labeled = list(rng.choice(len(x_pool), START, replace=False))  # same start for every arm of a seed
    ids = np.arange(len(x_pool))
    curve = {}
    while True:
        model = LogisticRegression(max_iter=500, C=1.0)
        model.fit(x_pool[labeled], y_pool[labeled])
        curve[len(labeled)] = model.score(x_test, y_test)
        if len(labeled) >= STOP:
            return curve
        rest = np.setdiff1d(ids, labeled)
        if arm == "random":
            batch = rng.choice(rest, STEP, replace=False)
        else:
            proba = model.predict_proba(x_pool[rest])  # columns: the classes seen so far
            scores = strategies.uncertainty(proba, arm)
            picks = strategies.select_batch(scores, x_pool[rest], rest, np.zeros(len(rest)), STEP,
                                            min_gap_frames=0, labeled_embeddings=x_pool[labeled])
            batch = rest[picks]
        labeled.extend(int(i) for i in batch)


def labels_to_reach(curve: dict[int, float], target: float):
    return next((n for n in sorted(curve) if curve[n] >= target - 1e-12), f">{STOP}")


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)  # sklearn's convergence chatter
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_pool, x_test, y_pool, y_test = train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=0)
    start = time.perf_counter()
    # One thread for BLAS/OpenMP: the arrays are small, and on a busy 2-core machine the thread
    # hand-offs inside scikit-learn's distance code cost 3× the work itself.
    with threadpool_limits(limits=1):
        curves = {arm: [run_arm(arm, seed, x_pool, y_pool, x_test, y_test) for seed in range(SEEDS)] for arm in ARMS}
    elapsed = time.perf_counter() - start
    mean = {arm: {n: float(np.mean([c[n] for c in runs])) for n in runs[0]} for arm, runs in curves.items()}

    target = mean["random"][REFERENCE_LABELS]
    needed = {arm: labels_to_reach(mean[arm], target) for arm in strategies.STRATEGIES}
    best = min(needed, key=lambda a: needed[a] if isinstance(needed[a], int) else STOP + 1)
    emit("al_labels_to_match_random_200", needed[best])
    emit("al_best_strategy", best)
    emit("al_goal_labels", GOAL_LABELS)
    emit("al_random_acc_200", target)
    for arm in strategies.STRATEGIES:
        emit(f"al_labels_to_match_{arm}", needed[arm])
    emit("al_seeds", SEEDS)
    emit("al_seconds", elapsed)

    print(f"mean test accuracy over {SEEDS} seeds ({len(x_test)} test images, pool {len(x_pool)}), by labels:")
    print(f"  {'arm':<17}" + "".join(f"{n:>8}" for n in TABLE_AT))
    for arm in ARMS:
        print(f"  {arm:<17}" + "".join(f"{mean[arm][n]:>8.3f}" for n in TABLE_AT))


if __name__ == "__main__":
    main()
