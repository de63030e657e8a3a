"""Agreement and consensus at their boundaries: IoU exactly at the threshold, boxes that only
touch, degenerate and sub-pixel boxes, empty sides, ties and exact majorities, tracks that
coincide in one frame. Pure numpy, no database; `make mutation` runs these against mutants of
labeling/quality/agreement.py and consensus.py."""
from __future__ import annotations

import numpy as np
import pytest

from labeling.quality import agreement
from labeling.quality.agreement import (ABSENT, ComparisonParams, Labels, alpha, box_reliability, frame_agreement,
                                        group_boxes, iou_matrix, match_boxes, numeric_units, pair_links,
                                        reliability_matrix, tag_value, track_scores, unit_values)
from labeling.quality.consensus import fuse, majority

BOX = [0, 0, 10, 10]
HALF = [0, 0, 10, 5]  # IoU with BOX: 50 / 100 = 0.5 exactly


def labels(annotator, boxes, classes, tags=None, attributes=None, tracks=None):
    return Labels(annotator, np.array(boxes, dtype=float).reshape(-1, 4), list(classes), tags or {},
                  attributes if attributes is not None else [], tracks if tracks is not None else [])


# ------------------------------------------------------------------------------ IoU

def test_iou_exactly_half():
    assert iou_matrix([BOX], [HALF])[0, 0] == 0.5


@pytest.mark.parametrize("other", [
    [10, 0, 10, 10],  # touching on the right: no area in common
    [15, 2, 10, 10],  # apart in x, overlapping in y
    [2, 15, 10, 10],  # overlapping in x, apart in y
    [10, 10, 5, 5],  # touching at a corner
])
def test_boxes_that_do_not_overlap_have_iou_zero(other):
    assert iou_matrix([BOX], [other])[0, 0] == 0.0
    assert iou_matrix([other], [BOX])[0, 0] == 0.0


def test_degenerate_and_sub_pixel_boxes():
    # zero-area boxes (a click, not a drag): IoU 0, never NaN, even with themselves
    got = iou_matrix([[5, 5, 0, 0], [5, 5, 0, 3]], [[5, 5, 0, 0], [5, 5, 0, 3]])
    assert not np.isnan(got).any() and (got == 0.0).all()
    # sub-pixel boxes are boxes: union below one pixel
    assert iou_matrix([[0, 0, 0.5, 0.5]], [[0, 0, 0.5, 0.5]])[0, 0] == 1.0
    assert iou_matrix([[0, 0, 0.5, 0.5]], [[0, 0, 0.5, 0.25]])[0, 0] == 0.5


def test_integer_pixel_boxes_of_any_dtype():
    # unsigned 16-bit boxes (as image tools store them): no wrap-around in differences or areas
    a = np.array([[0, 0, 300, 300], [0, 0, 10, 10]], dtype=np.uint16)
    b = np.array([[0, 0, 300, 300], [20, 0, 10, 10]], dtype=np.uint16)  # areas above 2¹⁶
    expected = [[1.0, 100 / 90000], [100 / 90000, 0.0]]
    np.testing.assert_array_equal(iou_matrix(a, b), expected)
    np.testing.assert_array_equal(iou_matrix(a, b.astype(float)), expected)
    np.testing.assert_array_equal(iou_matrix(a.astype(float), b), expected)


def test_iou_of_an_empty_side():
    for a, b, shape in (([], [BOX], (0, 1)), ([BOX, BOX], [], (2, 0)), ([], [], (0, 0))):
        got = iou_matrix(a, b)
        assert got.shape == shape and got.dtype == float


# ------------------------------------------------------------------------------ matching

def test_a_pair_exactly_at_the_threshold_matches():
    r = match_boxes([BOX], ["car"], [HALF], ["car"])
    assert r.tp == 1 and r.ious.tolist() == [0.5]
    assert match_boxes([BOX], ["car"], [HALF], ["car"], ComparisonParams(iou_threshold=0.5001)).tp == 0
    assert agreement._assign(np.array([[0.5]]), 0.5)[0].tolist() == [0]


def test_the_assignment_maximises_total_iou_not_the_number_of_pairs():
    # one pair of 0.9 beats two pairs of 0.3 each (0.6 in all)
    rows, cols = agreement._assign(np.array([[0.9, 0.3], [0.3, 0.1]]), 0.25)
    assert rows.tolist() == [0] and cols.tolist() == [0]


@pytest.mark.parametrize("match_classes", [True, False])
def test_one_side_empty(match_classes):
    params = ComparisonParams(match_classes=match_classes)
    r = match_boxes([], [], [BOX, [50, 50, 5, 5]], ["car", "car"], params)
    assert r.unmatched_b.tolist() == [0, 1] and r.unmatched_a.tolist() == []
    for got in (r.matches, r.linked):
        assert got.shape == (0, 2) and got.dtype.kind == "i"
    assert r.ious.shape == (0,) and r.confusions == []
    r = match_boxes([BOX], ["car"], [], [], params)
    assert r.unmatched_a.tolist() == [0] and r.unmatched_b.tolist() == [] and r.matches.shape == (0, 2)


def test_unmatched_boxes_on_both_sides():
    r = match_boxes([BOX, [40, 40, 5, 5]], ["car", "car"], [[90, 90, 5, 5], [0, 0, 10, 9], [60, 0, 4, 4]],
                    ["car", "car", "car"])
    assert r.matches.tolist() == [[0, 1]]
    assert r.unmatched_a.tolist() == [1] and r.unmatched_b.tolist() == [0, 2]
    assert (r.n_a, r.n_b) == (2, 3)


def test_a_confusion_is_linked_but_not_matched():
    r = match_boxes([BOX], ["car"], [BOX], ["truck"])
    assert r.matches.shape == (0, 2) and r.matches.dtype.kind == "i" and r.linked.tolist() == [[0, 0]]
    assert r.confusions == [("car", "truck")] and r.unmatched_b.tolist() == [0]


# ------------------------------------------------------------------------------ groups, units, reliability

def test_pair_links_every_pair_once_ignoring_classes_at_the_projects_threshold():
    annotations = [(np.array([BOX]), ["car"]), (np.array([HALF]), ["truck"]), (np.array([[0, 0, 10, 6]]), ["car"])]
    links = pair_links(annotations, ComparisonParams())
    assert sorted(links) == [(0, 1), (0, 2), (1, 2)]
    assert links[(0, 1)].tolist() == [[0, 0]]  # a car and a truck on the same object: linked
    strict = pair_links(annotations, ComparisonParams(iou_threshold=0.55))
    assert strict[(0, 1)].tolist() == [] and strict[(0, 2)].tolist() == [[0, 0]]  # 0.6 still links


def test_group_boxes_joins_links_transitively_in_first_box_order():
    groups = group_boxes([2, 1, 2], {(0, 1): np.array([[1, 0]]), (1, 2): [[0, 1]], (0, 2): np.empty((0, 2), int)})
    assert groups == [[(0, 0)], [(0, 1), (1, 0), (2, 1)], [(2, 0)]]
    assert group_boxes([0, 0], {}) == []


def test_unit_values_code_missing_boxes_as_absent_by_default():
    groups = [[(0, 0), (1, 0)], [(1, 1)], [(0, 1), (0, 2)]]
    classes = [["car", "bus", "van"], ["truck", "car"]]
    assert unit_values(groups, classes, 2) == [["car", "truck"], [ABSENT, "car"], ["bus", ABSENT]]
    assert unit_values(groups, classes, 2, missing_as_absent=False) == [["car", "truck"], [None, "car"], ["bus", None]]


def test_reliability_matrix_codes():
    data = reliability_matrix([["car", ABSENT, None], ["truck", "car", "car"]])
    assert data.dtype == float and data.shape == (3, 2)
    np.testing.assert_array_equal(data, [[1, 2], [0, 1], [np.nan, 1]])
    empty = reliability_matrix([])
    assert empty.shape == (0, 0) and empty.dtype == float


def test_box_reliability_when_nobody_drew_anything():
    got = box_reliability([(np.empty((0, 4)), []), (np.empty((0, 4)), []), (np.empty((0, 4)), [])])
    assert got.shape == (3, 0) and got.dtype == float
    assert alpha(got) is None


def test_alpha_needs_two_values_and_a_unit_coded_twice():
    assert alpha(np.empty((2, 0))) is None
    assert alpha(np.empty((0, 0))) is None
    assert alpha([[1.0, np.nan], [np.nan, 2.0]]) is None  # two values, but no unit coded twice
    assert alpha([[1.0, 1.0], [1.0, 1.0]]) is None  # one value only
    assert alpha([[1.0, 2.0], [1.0, 2.0]]) == 1.0


def test_tag_values():
    assert (tag_value(None), tag_value(True), tag_value(False)) == ("set", "changed", "unchanged")


# ------------------------------------------------------------------------------ one frame

def test_frame_agreement_uses_the_projects_threshold_and_reports_everything():
    a = labels(1, [BOX], ["car"], {"crowd": "set"}, attributes=[{"speed": 2}])
    b = labels(2, [[0, 0, 10, 6]], ["car"], {}, attributes=[{"speed": 4}])
    loose = frame_agreement([a, b])  # IoU 0.6 ≥ 0.5
    assert loose.box_score == 1.0 and loose.groups == [[(0, 0), (1, 0)]] and loose.units == [["car", "car"]]
    assert loose.attribute_units == {"car.speed": [[2.0, 4.0]]}
    strict = frame_agreement([a, b], ComparisonParams(iou_threshold=0.7))
    assert [(i, j, p.tp) for i, j, p in strict.pairs] == [(0, 1, 0)]
    assert strict.groups == [[(0, 0)], [(1, 0)]] and strict.units == [["car", ABSENT], [ABSENT, "car"]]
    assert strict.box_score == 0.0 and strict.attribute_units == {}
    assert strict.tag_units == {"crowd": ["set", ABSENT]} and strict.tag_score == 0.0 and strict.score == 0.0


def test_a_single_annotator_has_no_agreement_scores():
    alone = frame_agreement([labels(1, [BOX], ["car"], {"crowd": "set"})])
    assert alone.pairs == [] and alone.box_score is None and alone.tag_score is None and alone.score is None
    assert alone.units == [["car"]] and alone.tag_units == {"crowd": ["set"]}


def test_numeric_units_keep_numbers_given_by_two_or_more():
    a = labels(1, [BOX, [50, 50, 5, 5]], ["car", "person"],
               attributes=[{"speed": 3, "parked": True, "colour": "red"}, {"age": 30}])
    b = labels(2, [BOX, [50, 50, 5, 5]], ["car", "person"], attributes=[{"speed": 5.5, "parked": False}, {}])
    c = labels(3, [BOX], ["car"], attributes=[])  # gave no attributes at all
    groups = [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 1)]]
    # booleans and strings are not numbers; the person's age was given once only
    assert numeric_units([a, b, c], groups) == {"car.speed": [[3.0, 5.5, None]]}
    # one annotator with two boxes in an object: the first counts
    d = labels(4, [BOX, BOX], ["car", "car"], attributes=[{"speed": 1}, {"speed": 9}])
    assert numeric_units([d, b], [[(0, 0), (0, 1), (1, 0)]]) == {"car.speed": [[1.0, 5.5]]}
    # an object whose first box's annotator gave no attributes is skipped; later ones still count
    e = labels(5, [BOX, [50, 50, 5, 5]], ["car", "person"], attributes=[{}, {"age": 31}])
    assert numeric_units([c, e, a], [[(0, 0), (1, 0)], [(1, 1), (2, 1)]]) == {"person.age": [[None, 31.0, 30.0]]}
    # attributes for fewer boxes than were drawn
    f = labels(6, [BOX, [50, 50, 5, 5]], ["car", "person"], attributes=[{"age": 1}])
    assert numeric_units([f, a], [[(0, 1), (1, 1)]]) == {}


# ------------------------------------------------------------------------------ tracks

def frames(*rows):
    """(frame, track id, box) rows as track_scores' input."""
    out: dict = {}
    for frame, ident, box in rows:
        ids, boxes = out.get(frame, (np.empty(0, dtype=int), np.empty((0, 4))))
        out[frame] = (np.append(ids, ident), np.vstack([boxes, box]))
    return out


def test_tracks_that_coincide_in_one_frame_at_exactly_the_threshold():
    s = track_scores(frames((0, 1, BOX)), frames((0, 5, HALF)))
    assert (s.idtp, s.idfp, s.idfn, s.fp, s.fn, s.id_switches, s.num_gt) == (1, 0, 0, 0, 0, 0, 1)


def test_an_empty_side_of_tracks():
    s = track_scores(frames((0, 1, BOX), (1, 1, BOX)), {})
    assert (s.idtp, s.idfp, s.idfn, s.fp, s.fn) == (0, 0, 2, 0, 2)
    s = track_scores({}, frames((0, 1, BOX), (3, 2, BOX)))  # frames only the other annotator labeled
    assert (s.idtp, s.idfp, s.idfn, s.fp, s.fn, s.num_gt) == (0, 2, 0, 2, 0, 0)


def test_every_identity_switch_counts():
    gt = frames((0, 1, BOX), (1, 1, BOX), (2, 1, BOX), (3, 1, BOX))
    pred = frames((0, 7, BOX), (1, 8, BOX), (2, 9, BOX), (3, 7, BOX))
    s = track_scores(gt, pred)
    assert s.id_switches == 3 and (s.idtp, s.idfp, s.idfn) == (2, 2, 2)


def test_clear_mot_keeps_last_frames_pair_while_it_still_overlaps():
    # frame 1: pred 10 drifted (IoU 0.54) and pred 20 fits better (IoU 1), but the pair 1–10 still
    # holds, so there is no switch; gt 2 is new that frame and goes first (no pair to keep)
    gt = frames((0, 1, BOX), (1, 2, [100, 100, 10, 10]), (1, 1, BOX))
    pred = frames((0, 10, BOX), (1, 10, [3, 0, 10, 10]), (1, 20, BOX), (1, 30, [100, 100, 10, 10]))
    s = track_scores(gt, pred)
    assert (s.id_switches, s.fp, s.fn) == (0, 1, 0)
    assert (s.idtp, s.idfp, s.idfn) == (3, 1, 0)
    # the pair ends when it no longer overlaps: a switch
    gt = frames((0, 1, BOX), (1, 1, BOX))
    pred = frames((0, 10, BOX), (1, 10, [6, 0, 10, 10]), (1, 20, BOX))
    assert track_scores(gt, pred).id_switches == 1


def test_a_kept_pair_is_not_taken_twice():
    # gt 1 and gt 2 both last had pred 10 (gt 1 left, gt 2 took it over); in frame 3 pred 10 can
    # stay with only one of them: the first (gt 1) keeps it, gt 2 gets pred 20 (a switch)
    gt = frames((0, 1, BOX), (1, 2, BOX), (2, 1, BOX), (2, 2, BOX))
    pred = frames((0, 10, BOX), (1, 10, BOX), (2, 10, BOX), (2, 20, BOX))
    s = track_scores(gt, pred)
    assert (s.id_switches, s.fp, s.fn) == (1, 0, 0)


# ------------------------------------------------------------------------------ consensus

def test_majority_of_n():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_a_box_needs_exactly_the_quorum():
    a, b, c = (labels(i, [BOX], ["car"]) for i in (1, 2, 3))
    lonely = labels(4, [], [])
    result = frame_agreement([a, b, lonely, labels(5, [], [])])
    assert [f.support for f in fuse([a, b, lonely, labels(5, [], [])], result.groups, result.tag_units).boxes] == []
    result = frame_agreement([a, b, c, lonely])
    fused = fuse([a, b, c, lonely], result.groups, result.tag_units)
    assert [f.support for f in fused.boxes] == [3] and fused.dropped == 0


def test_every_dropped_group_counts_and_later_groups_are_still_fused():
    a = labels(1, [[0, 0, 5, 5], [100, 0, 5, 5], [50, 50, 10, 10]], ["car", "car", "bus"])
    b = labels(2, [[50, 50, 10, 10]], ["bus"])
    c = labels(3, [[200, 0, 5, 5], [50, 50, 10, 10]], ["van", "bus"])
    result = frame_agreement([a, b, c])
    fused = fuse([a, b, c], result.groups, result.tag_units)
    assert fused.dropped == 3 and [f.label for f in fused.boxes] == ["bus"]


def test_a_clear_majority_class_is_no_tie():
    a, b, c = labels(1, [BOX], ["car"]), labels(2, [BOX], ["truck"]), labels(3, [BOX], ["truck"])
    result = frame_agreement([a, b, c])
    (box,) = fuse([a, b, c], result.groups, result.tag_units).boxes
    assert (box.label, box.tie, box.support) == ("truck", False, 3)


def test_fused_boxes_without_attributes_or_tracks():
    a, b = labels(1, [BOX], ["car"]), labels(2, [[2, 0, 10, 10]], ["car"])
    result = frame_agreement([a, b])
    (box,) = fuse([a, b], result.groups, result.tag_units).boxes
    assert (box.x, box.y, box.w, box.h, box.attributes, box.track_id) == (1.0, 0.0, 10.0, 10.0, {}, None)
    # tracks given by some only: the earliest annotator's that is given
    a, b = labels(1, [BOX], ["car"], tracks=[None]), labels(2, [BOX], ["car"], tracks=[8])
    assert fuse([a, b], result.groups, result.tag_units).boxes[0].track_id == 8


def test_attribute_values_that_are_objects_vote_whatever_their_key_order():
    a = labels(1, [BOX], ["car"], attributes=[{"plate": {"country": "UA", "text": "AA1234"}}])
    b = labels(2, [BOX], ["car"], attributes=[{"plate": {"text": "AA1234", "country": "UA"}}])
    c = labels(3, [BOX], ["car"], attributes=[{"plate": {"country": "PL", "text": "X"}}])
    result = frame_agreement([a, b, c])
    (box,) = fuse([a, b, c], result.groups, result.tag_units).boxes
    assert box.attributes == {"plate": {"country": "UA", "text": "AA1234"}}


def test_a_tag_needs_a_strict_majority():
    two = [labels(1, [], [], {"crowd": "set"}), labels(2, [], [], {})]
    result = frame_agreement(two)
    assert fuse(two, result.groups, result.tag_units).tags == {}  # one of two is not a majority
    four = two + [labels(3, [], [], {"crowd": "set"}), labels(4, [], [], {})]
    result = frame_agreement(four)
    assert fuse(four, result.groups, result.tag_units).tags == {}  # two of four neither
    three = two + [labels(3, [], [], {"crowd": "set"})]
    result = frame_agreement(three)
    assert fuse(three, result.groups, result.tag_units).tags == {"crowd": "set"}


def test_a_tag_nobody_set_does_not_stop_the_others():
    people = [labels(1, [], []), labels(2, [], [])]
    fused = fuse(people, [], {"a": [ABSENT, ABSENT], "b": ["changed", "changed"]})
    assert fused.tags == {"b": "changed"}
