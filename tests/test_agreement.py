"""Agreement math on hand-checkable cases and published examples."""
import numpy as np
import pytest

from labeling.quality.agreement import (
    ComparisonParams,
    alpha,
    box_reliability,
    iou_matrix,
    match_boxes,
    tag_reliability,
    track_scores,
)

nan = np.nan


def test_iou_values():
    a = np.array([[0, 0, 10, 10], [100, 100, 5, 5]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [200, 200, 1, 1]])
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[0, 1] == 1.0 and iou[1, 2] == 0.0
    assert iou_matrix(np.empty((0, 4)), b).shape == (0, 3)


def test_identical_annotations_agree_fully():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 10, 10], [50, 5, 4, 8]])
    r = match_boxes(boxes, ["car", "person", "car"], boxes[::-1], ["car", "person", "car"][::-1])
    assert (r.tp, r.precision, r.recall, r.f1, r.mean_iou) == (3, 1.0, 1.0, 1.0, 1.0)


def test_hungarian_picks_the_best_overall_assignment():
    # IoU a0-b0 = 0.905 is the best single pair, but taking it leaves a1 alone (a1-b1 < 0.5);
    # a0-b1 and a1-b0 (0.6 each) match both
    a = np.array([[0, 0, 10, 10], [3, 0, 10, 10]])
    b = np.array([[0.5, 0, 10, 10], [-2.5, 0, 10, 10]])
    r = match_boxes(a, ["x", "x"], b, ["x", "x"])
    assert r.tp == 2 and sorted(map(tuple, r.matches)) == [(0, 1), (1, 0)]
    assert r.mean_iou == pytest.approx(0.6)


def test_threshold_and_class_confusion():
    a = np.array([[0, 0, 10, 10], [30, 30, 10, 10]])
    b = np.array([[1, 0, 10, 10], [60, 60, 10, 10]])
    strict = match_boxes(a, ["car", "person"], b, ["truck", "person"])
    assert strict.tp == 0 and strict.confusions == [("car", "truck")]
    assert (strict.precision, strict.recall, strict.f1) == (0.0, 0.0, 0.0)
    loose = match_boxes(a, ["car", "person"], b, ["truck", "person"], ComparisonParams(match_classes=False))
    assert loose.tp == 1 and loose.f1 == pytest.approx(0.5) and list(loose.unmatched_a) == [1]


@pytest.mark.parametrize("n_a,n_b,f1", [(0, 0, 1.0), (2, 0, 0.0), (0, 3, 0.0)])
def test_empty_sides(n_a, n_b, f1):
    a, b = np.zeros((n_a, 4)) + [0, 0, 5, 5], np.zeros((n_b, 4)) + [0, 0, 5, 5]
    r = match_boxes(a, ["x"] * n_a, b, ["x"] * n_b)
    assert r.f1 == f1 and r.mean_iou is None


def test_krippendorff_published_example():
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", 4 observers × 12
    units with missing values: nominal α = 0.743, interval α = 0.849."""
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ])
    assert alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)


def test_alpha_is_undefined_without_variation():
    assert alpha(np.array([[1, 1, 1], [1, 1, 1]])) is None
    assert alpha(np.array([[1, nan], [nan, 2]])) is None  # no unit coded twice


def test_tag_reliability_matrix():
    tags = [{1: {"crowd"}, 2: set()}, {1: {"crowd", "night"}}]
    data = tag_reliability(tags, ["crowd", "night"])
    np.testing.assert_array_equal(data, [[1, 0, 0, 0], [1, 1, nan, nan]])


def _track(*rows):
    """rows of (frame, id, x) → {frame: (ids, boxes)} with 10×10 boxes at (x, 0)."""
    out = {}
    for frame, ident, x in rows:
        ids, boxes = out.get(frame, (np.empty(0, dtype=int), np.empty((0, 4))))
        out[frame] = (np.append(ids, ident), np.vstack([boxes, [x, 0, 10, 10]]))
    return out


def test_identical_tracks():
    gt = _track((0, 1, 0), (1, 1, 1), (2, 1, 2), (0, 2, 50), (1, 2, 51))
    s = track_scores(gt, gt)
    assert (s.idf1, s.mota, s.id_switches) == (1.0, 1.0, 0)


def test_a_split_track_costs_half_its_identity():
    """One object over 4 frames; the other annotator gave it id 7, then id 8 from frame 2.
    Best single mapping keeps 2 frames: IDTP=2, IDFP=2, IDFN=2 → IDF1 = 4/8; one switch → MOTA 0.75."""
    gt = _track((0, 1, 0), (1, 1, 1), (2, 1, 2), (3, 1, 3))
    pred = _track((0, 7, 0), (1, 7, 1), (2, 8, 2), (3, 8, 3))
    s = track_scores(gt, pred)
    assert (s.idtp, s.idfp, s.idfn) == (2, 2, 2)
    assert s.idf1 == pytest.approx(0.5)
    assert (s.fp, s.fn, s.id_switches) == (0, 0, 1)
    assert s.mota == pytest.approx(0.75)


def test_missed_and_extra_detections():
    gt = _track((0, 1, 0), (1, 1, 0), (2, 1, 0))
    pred = _track((0, 5, 0), (2, 5, 0), (2, 6, 80))
    s = track_scores(gt, pred)
    assert (s.fn, s.fp, s.id_switches) == (1, 1, 0)
    assert s.idf1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert s.mota == pytest.approx(1 - 2 / 3)


def test_box_units_across_three_annotators():
    car, person = [0, 0, 10, 10], [50, 50, 10, 20]
    same = (np.array([car, person]), ["car", "person"])
    assert alpha(box_reliability([same, same, same])) == 1.0
    omission = (np.array([car]), ["car"])
    data = box_reliability([same, same, omission])
    assert data.shape == (3, 2) and (data[2] == 0).sum() == 1 and (data[:2] == 0).sum() == 0  # "absent"
    assert alpha(data) < 1.0
    assert alpha(box_reliability([same, same, omission], missing_as_absent=False)) == 1.0
    confused = (np.array([[1, 0, 10, 10], person]), ["truck", "person"])
    data = box_reliability([same, same, confused])
    assert data.shape == (3, 2)  # the confused box still joins the car's unit
    assert alpha(data) < 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_matches_an_independent_implementation(seed):
    """nltk's AnnotationTask computes Krippendorff's alpha on its own code; ours (via the
    krippendorff package, on the matrix aerie builds) must agree on random tag data."""
    from nltk.metrics.agreement import AnnotationTask

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=(30, 3))  # 30 frames × 3 tags, with 4 noisy annotators
    tag_sets = []
    for _ in range(4):
        noisy = np.where(rng.random(truth.shape) < 0.15, 1 - truth, truth)
        tag_sets.append({f: {k for k in ("a", "b", "c") if noisy[f, "abc".index(k)]} for f in range(30)})
    data = tag_reliability(tag_sets, ["a", "b", "c"])
    triples = [(str(i), str(u), str(int(v))) for i, row in enumerate(data) for u, v in enumerate(row)]
    assert alpha(data) == pytest.approx(AnnotationTask(data=triples).alpha(), abs=1e-9)


def _motmetrics_distances(a, b):
    """motmetrics' IoU distance (1 − IoU, NaN below IoU 0.5), written out box by box (its own
    helper still calls np.asfarray, gone in NumPy 2)."""
    out = np.full((len(a), len(b)), np.nan)
    for i, (ax, ay, aw, ah) in enumerate(a):
        for j, (bx, by, bw, bh) in enumerate(b):
            iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
            ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
            iou = iw * ih / (aw * ah + bw * bh - iw * ih)
            if iou >= 0.5:
                out[i, j] = 1 - iou
    return out


@pytest.mark.parametrize("seed", range(6))
def test_track_scores_match_motmetrics(seed):
    """IDF1 and the CLEAR-MOT counts against py-motmetrics (an independent implementation; tests
    only) on random tracks with jitter, dropped boxes, false boxes and identity swaps."""
    import motmetrics as mm

    rng = np.random.default_rng(seed)
    gt, pred = {}, {}
    starts = rng.uniform(0, 400, size=(6, 2))
    velocity = rng.uniform(-4, 4, size=(6, 2))
    for frame in range(40):
        ids, boxes, p_ids, p_boxes = [], [], [], []
        for track in range(6):
            x, y = starts[track] + velocity[track] * frame
            ids.append(track + 1)
            boxes.append([x, y, 40, 60])
            if rng.random() < 0.85:  # the other annotator misses some
                p_ids.append(track + 101 if not (frame > 20 and track == 0) else 999)  # one identity swap
                p_boxes.append([x + rng.normal(0, 6), y + rng.normal(0, 6), 40 + rng.normal(0, 4), 60])
        if rng.random() < 0.3:
            p_ids.append(500 + frame)
            p_boxes.append([rng.uniform(0, 400), rng.uniform(0, 400), 30, 30])
        gt[frame] = (np.array(ids), np.array(boxes, dtype=float))
        pred[frame] = (np.array(p_ids), np.array(p_boxes, dtype=float).reshape(-1, 4))
    ours = track_scores(gt, pred, iou_threshold=0.5)

    acc = mm.MOTAccumulator(auto_id=True)
    for frame in range(40):
        g_ids, g_boxes = gt[frame]
        p_ids, p_boxes = pred[frame]
        acc.update(list(g_ids), list(p_ids), _motmetrics_distances(g_boxes, p_boxes))
    theirs = mm.metrics.create().compute(
        acc, metrics=["idf1", "idtp", "idfp", "idfn", "num_false_positives", "num_misses", "num_switches", "mota"],
        name="x").iloc[0]
    assert ours.idf1 == pytest.approx(theirs["idf1"])
    assert (ours.idtp, ours.idfp, ours.idfn) == (theirs["idtp"], theirs["idfp"], theirs["idfn"])
    assert (ours.fp, ours.fn, ours.id_switches) == (theirs["num_false_positives"], theirs["num_misses"],
                                                      theirs["num_switches"])
    assert ours.mota == pytest.approx(theirs["mota"])
