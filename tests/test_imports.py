"""Imports of COCO and MOT files: what other tools write is accepted, what is wrong is refused
with the file, line or annotation id named, and a refused file changes nothing."""
import io
import json
import zipfile
from collections import defaultdict

import pytest
from pycocotools import mask as mask_utils

from labeling.exchange import exports, imports
from labeling.models import Annotation, AuditEvent, Frame, GoldFrame
from tests.conftest import make_frames
from tests.labels import export_bytes, labeled_project, members


@pytest.fixture
def frames(project):
    """cam-a: 4 frames 640×480 from an image upload (with their file names); cam-b: 3 frames 320×240."""
    a = make_frames(project, 4, sequence_name="cam-a", width=640, height=480)
    for frame in a:
        Frame.objects.filter(pk=frame.pk).update(source_name=f"shots/img_{frame.index}.jpg")
    b = make_frames(project, 3, sequence_name="cam-b", width=320, height=240)
    return {"cam-a": a, "cam-b": b}


def coco_doc(**changes):
    doc = {
        "images": [{"id": 0, "file_name": "C:\\export\\images\\shots/img_0.jpg", "width": 640, "height": 480},
                   {"id": 1, "file_name": "shots/img_1.jpg", "width": 640, "height": 480}],
        "categories": [{"id": 0, "name": "_background_"}, {"id": 1, "name": "Person"}, {"id": 2, "name": "car"}],
        "annotations": [
            {"id": 0, "image_id": 0, "category_id": 1, "bbox": [10, 20, 30, 40], "area": 1200, "iscrowd": 0,
             "attributes": {"occluded": False, "posture": "standing", "track_id": 0}},
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [12.5, 20, 30, 40], "area": 5, "iscrowd": 0,
             "attributes": {"track_id": 0}},
            {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 0,
             "segmentation": [[100, 100, 150, 100, 150, 130, 100, 130]], "area": 1500},
        ],
    }
    doc.update(changes)
    return doc


def as_bytes(doc) -> bytes:
    return json.dumps(doc).encode()


def boxes_by_frame(annotator_id=None, **filters):
    out = defaultdict(list)
    for annotation in Annotation.objects.filter(annotator_id=annotator_id, superseded_by__isnull=True, **filters):
        for b in annotation.boxes.select_related("label_class").order_by("pk"):
            out[(annotation.frame.sequence.name, annotation.frame.index)].append(
                (b.label_class.key, b.x, b.y, b.w, b.h, b.track_id))
    return dict(out)


def test_a_coco_file_from_the_wild_is_accepted(project, users, frames):
    report = imports.run(project, users["qa"], format="coco", data=as_bytes(coco_doc()), filename="cvat.json",
                         mode="annotator", annotator=users["annotator"])
    assert (report.frames, report.boxes, report.tracks) == (2, 3, 1)
    notes = " ".join(report.notes)
    assert "background category ignored" in notes and "boxes made from segmentation (1: annotation id 2)" in notes
    assert "area recomputed" in notes and "annotation id 1" in notes and "occluded" in notes
    stored = boxes_by_frame(users["annotator"].pk)
    x, y, w, h = mask_utils.toBbox(mask_utils.merge(mask_utils.frPyObjects([[100, 100, 150, 100, 150, 130, 100, 130]],
                                                                            480, 640)))
    assert stored == {("cam-a", 0): [("person", 10.0, 20.0, 30.0, 40.0, 1)],
                      ("cam-a", 1): [("person", 12.5, 20.0, 30.0, 40.0, 1), ("car", x, y, w, h, None)]}
    annotation = Annotation.objects.get(annotator=users["annotator"], frame=frames["cam-a"][0])
    assert annotation.source == Annotation.IMPORT and annotation.status == Annotation.SUBMITTED
    assert annotation.boxes.get().attributes == {"posture": "standing"}
    assert AuditEvent.objects.filter(verb="import.coco", actor=users["qa"]).count() == 1


def test_rle_segmentation_compressed_and_uncompressed_becomes_boxes(project, users, frames):
    mask = __import__("numpy").zeros((240, 320), dtype="uint8", order="F")
    mask[10:30, 40:100] = 1
    compressed = mask_utils.encode(mask)
    compressed["counts"] = compressed["counts"].decode()
    counts, value, run = [], 0, 0  # column-major runs, starting with zeros
    for pixel in mask.flatten(order="F"):
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    doc = {"images": [{"id": 5, "file_name": "cam-b/000000.jpg", "width": 320, "height": 240}],
           "categories": [{"id": 3, "name": "truck"}],
           "annotations": [{"id": 1, "image_id": 5, "category_id": 3, "segmentation": compressed, "iscrowd": 1},
                           {"id": 2, "image_id": 5, "category_id": 3, "iscrowd": 0,
                            "segmentation": {"counts": counts, "size": [240, 320]}}]}
    imports.run(project, users["qa"], format="coco", data=as_bytes(doc), filename="rle.json", mode="prelabel")
    model = Annotation.objects.get(source=Annotation.MODEL)
    assert model.annotator.username == "aerie-model" and not model.annotator.is_active
    assert [(b.x, b.y, b.w, b.h) for b in model.boxes.order_by("pk")] == [(40.0, 10.0, 60.0, 20.0)] * 2


BAD_COCO = [
    ("unknown category",
     lambda d: d["categories"].append({"id": 9, "name": "dog"}) or d["annotations"].append(
         {"id": 7, "image_id": 0, "category_id": 9, "bbox": [1, 1, 2, 2]}),
     "bad.json annotation id 7: category 9 ('dog') is not a box class of Test ontology v1"),
    ("box outside the image", lambda d: d["annotations"][0].update(bbox=[630, 20, 30, 40]),
     "bad.json annotation id 0: bbox [630, 20, 30, 40] lies outside the 640×480 image"),
    ("non-numeric bbox", lambda d: d["annotations"][1].update(bbox=[1, "2", 3, 4]),
     "bad.json annotation id 1: bbox must be [x, y, width, height] numbers"),
    ("duplicate annotation ids", lambda d: d["annotations"][2].update(id=1),
     "bad.json annotation id 1: annotation id 1 is used twice"),
    ("duplicate image ids", lambda d: d["images"].append({"id": 1, "file_name": "shots/img_2.jpg"}),
     "bad.json image id 1 ('shots/img_2.jpg'): image id 1 is used twice"),
    ("missing image", lambda d: d["images"][1].update(file_name="elsewhere/other.jpg"),
     "bad.json image id 1 ('elsewhere/other.jpg'): no frame of this dataset has this file name"),
    ("image of another size", lambda d: d["images"][0].update(width=1920, height=1080),
     "is 1920×1080 in the file, but the frame is 640×480"),
    ("annotation of an image not listed", lambda d: d["annotations"][0].update(image_id=42),
     "bad.json annotation id 0: image_id 42 is not in images"),
    ("negative width", lambda d: d["annotations"][0].update(bbox=[1, 1, -3, 4]),
     "bad.json annotation id 0: bbox width and height must be positive"),
    ("attribute value not in the ontology", lambda d: d["annotations"][0]["attributes"].update(posture="flying"),
     "bad.json annotation id 0.attributes.posture"),
    ("two boxes of one track on a frame", lambda d: d["annotations"].append(
        {"id": 8, "image_id": 0, "category_id": 2, "bbox": [300, 300, 5, 5], "track_id": 0}),
     "bad.json annotation id 8.track_id: track 1 already has a box on this frame"),
    ("missing annotations list", lambda d: d.pop("annotations"), "bad.json: 'annotations' is missing or not a list"),
]


@pytest.mark.parametrize("case, change, message", BAD_COCO, ids=[c[0] for c in BAD_COCO])
def test_bad_coco_files_are_refused_and_change_nothing(project, users, frames, case, change, message):
    doc = coco_doc()
    change(doc)
    before = (Annotation.objects.count(), AuditEvent.objects.count())
    with pytest.raises(imports.ImportRefused) as refused:
        imports.run(project, users["qa"], format="coco", data=as_bytes(doc), filename="bad.json", mode="gold")
    assert any(message in e for e in refused.value.errors), refused.value.errors
    assert (Annotation.objects.count(), AuditEvent.objects.count()) == before and not GoldFrame.objects.exists()


def test_not_json_is_refused_with_the_position(project, users, frames):
    with pytest.raises(imports.ImportRefused, match=r"bad.json: not JSON \(line 1, column 2"):
        imports.run(project, users["qa"], format="coco", data=b"{oops", filename="bad.json", mode="prelabel")


MOT16 = (b"1,1,10,20,30,40,1,1,1\n2,1,12.5,20,30,40,1,1,0.5\n2,2,-5,100,50,60,1,3,1\n"
         b"3,2,600,100,80,60,1,3,1\n3,3,0,0,10,10,0,8,1\n")


def mot_zip(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_mot16_and_mot15_files_are_accepted(project, users, frames):
    data = mot_zip({"MOT17/train/cam-a/gt/gt.txt": MOT16,
                    "MOT17/train/cam-a/seqinfo.ini": "[Sequence]\nname=cam-a\nseqLength=4\n"})
    report = imports.run(project, users["admin"], format="mot", data=data, filename="mot17.zip", mode="annotator",
                         annotator=users["annotator"], class_map={"pedestrian": "person", "car": "car",
                                                                  "distractor": None})
    assert (report.frames, report.boxes, report.tracks) == (3, 4, 2)
    notes = " ".join(report.notes)
    assert "rows marked ignore (conf 0) left out (1: mot17.zip:MOT17/train/cam-a/gt/gt.txt line 5)" in notes \
        or "rows marked ignore (conf 0) left out (1: MOT17/train/cam-a/gt/gt.txt line 5)" in notes
    assert "clipped" in notes and "line 3" in notes and "line 4" in notes
    assert boxes_by_frame(users["annotator"].pk) == {
        ("cam-a", 0): [("person", 10.0, 20.0, 30.0, 40.0, 1)],
        ("cam-a", 1): [("person", 12.5, 20.0, 30.0, 40.0, 1), ("car", 0.0, 100.0, 45.0, 60.0, 2)],
        ("cam-a", 2): [("car", 600.0, 100.0, 40.0, 60.0, 2)]}
    mot15 = b"1,4,1,2,3,4,1,-1,-1,-1\n3,4,2,2,3,4,1,-1,-1,-1\n"
    imports.run(project, users["admin"], format="mot", data=mot15, filename="gt.txt", mode="prelabel",
                sequence="cam-b", default_class="Person")
    assert boxes_by_frame(Annotation.objects.filter(source=Annotation.MODEL).first().annotator_id) == {
        ("cam-b", 0): [("person", 1.0, 2.0, 3.0, 4.0, 1)], ("cam-b", 2): [("person", 2.0, 2.0, 3.0, 4.0, 1)]}


BAD_MOT = [
    ("non-numeric field", b"1,1,10,20,30,40,1,1,1\n2,1,ten,20,30,40,1,1,1\n",
     "gt.txt line 2: column 3 (x) 'ten' is not a number"),
    ("frame outside the sequence", b"1,1,10,20,30,40,1,1,1\n9,1,10,20,30,40,1,1,1\n",
     "gt.txt line 2: frame 9 is not in sequence 'cam-a' (frames 1–4)"),
    ("duplicate track on a frame", b"1,1,10,20,30,40,1,1,1\n1,1,50,20,30,40,1,1,1\n",
     "gt.txt line 2: track 1 already has a box on frame 1 (line 1)"),
    ("unknown class", b"1,1,10,20,30,40,1,8,1\n",
     "gt.txt line 1: class 8 ('distractor') is not a box class of Test ontology v1; map it with class_map"),
    ("box outside the frame", b"1,1,700,20,30,40,1,1,1\n",
     "gt.txt line 1: the box lies entirely outside the 640×480 frame"),
    ("columns that change", b"1,1,10,20,30,40,1,1,1\n2,1,10,20,30,40\n",
     "gt.txt line 2: 6 columns where the file's first line has 9"),
    ("zero width", b"1,1,10,20,0,40,1,1,1\n", "gt.txt line 1: width and height must be positive"),
    ("no class column and no default", b"1,1,10,20,30,40,1,-1,-1,-1\n",
     "gt.txt line 1: the file has no class column: say which class its boxes are (default_class)"),
]


@pytest.mark.parametrize("case, data, message", BAD_MOT, ids=[c[0] for c in BAD_MOT])
def test_bad_mot_files_are_refused_and_change_nothing(project, users, frames, case, data, message):
    before = (Annotation.objects.count(), AuditEvent.objects.count())
    with pytest.raises(imports.ImportRefused) as refused:
        imports.run(project, users["admin"], format="mot", data=data, filename="gt.txt", mode="prelabel",
                    sequence="cam-a", class_map={"pedestrian": "person", "car": "car"})
    assert any(message in e for e in refused.value.errors), refused.value.errors
    assert (Annotation.objects.count(), AuditEvent.objects.count()) == before


def test_an_unknown_sequence_and_a_non_member_annotator_are_refused(project, users, frames):
    with pytest.raises(imports.ImportRefused, match="sequence 'cam-z' is not in this project's dataset"):
        imports.run(project, users["admin"], format="mot", data=mot_zip({"cam-z/gt/gt.txt": MOT16}),
                    filename="x.zip", mode="prelabel")
    with pytest.raises(imports.ImportRefused, match="olga is not a member of this project"):
        imports.run(project, users["admin"], format="coco", data=as_bytes(coco_doc()), filename="x.json",
                    mode="annotator", annotator=users["outsider"])
    assert not Annotation.objects.exists()


def test_gold_import_marks_the_frames_gold_with_the_imported_answer(project, users, frames):
    imports.run(project, users["qa"], format="coco", data=as_bytes(coco_doc()), filename="gold.json", mode="gold")
    golds = GoldFrame.objects.filter(project=project, active=True).select_related("answer")
    assert sorted(g.frame.index for g in golds) == [0, 1]
    assert all(g.answer.source == Annotation.IMPORT and g.answer.boxes.exists() for g in golds)


def _approved_boxes(project):
    return boxes_by_frame(None, project=project, status=Annotation.APPROVED)


def _tracks_as_groups(boxes: dict) -> dict:
    """Boxes with their track ids replaced by the set of frames each track covers (ids may be renumbered)."""
    spans = defaultdict(set)
    for (seq, index), rows in boxes.items():
        for row in rows:
            if row[5] is not None:
                spans[(seq, row[5])].add(index)
    return {key: sorted((r[:5], tuple(sorted(spans[(key[0], r[5])])) if r[5] else None) for r in rows)
            for key, rows in boxes.items()}


def test_round_trip_export_import_export_gives_the_same_boxes_and_bytes(project, users, make_user):
    labeled = labeled_project(project)
    approved = {k: v for k, v in _approved_boxes(project).items() if v}
    bea = make_user("bea", "annotator")
    project.members.add(bea)
    coco = exports.run(exports.create(project, users["trainer"], format="coco").pk)
    imports.run(project, users["admin"], format="coco", data=export_bytes(coco), filename="coco.zip",
                mode="annotator", annotator=users["annotator"])
    # exactly the same floats; track ids are renumbered 1… per sequence, the tracks are the same
    assert _tracks_as_groups(boxes_by_frame(users["annotator"].pk)) == _tracks_as_groups(approved)
    assert boxes_by_frame(users["annotator"].pk)[("cam-a", 1)] == approved[("cam-a", 1)]
    raw = exports.run(exports.create(project, users["trainer"], format="coco", scope="raw").pk)
    imports.run(project, users["admin"], format="coco", data=export_bytes(raw), filename="raw.zip",
                mode="annotator", annotator=bea)
    assert boxes_by_frame(bea.pk) == boxes_by_frame(users["annotator"].pk)
    mot = exports.run(exports.create(project, users["trainer"], format="mot").pk)
    imports.run(project, users["admin"], format="mot", data=export_bytes(mot), filename="mot.zip", mode="prelabel")
    model = Annotation.objects.filter(source=Annotation.MODEL).first().annotator_id
    # MOT gives an untracked box an id of its own: compare the boxes and which frames each track spans
    untracked = {k: [r[:5] + (None,) for r in v] for k, v in approved.items()}
    assert {k: [r[:5] for r in v] for k, v in boxes_by_frame(model).items()} == \
        {k: [r[:5] for r in v] for k, v in untracked.items()}
    tracked = _tracks_as_groups(boxes_by_frame(model))
    assert tracked[("cam-a", 2)] == _tracks_as_groups(approved)[("cam-a", 2)][:2] + [
        (("truck", 500.0, 380.0, 139.5, 99.75), (2,))]
    again = exports.run(exports.create(project, users["trainer"], format="mot", scope="raw").pk)
    # the model's copy exported raw is the approved MOT file, byte for byte
    assert members(export_bytes(again))["cam-a__aerie-model/gt/gt.txt"] == members(export_bytes(mot))["cam-a/gt/gt.txt"]
    assert labeled["boxes"] == sum(len(v) for v in approved.values())
