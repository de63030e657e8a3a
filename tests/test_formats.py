"""The formats drone trainers use (YOLO, YOLO-OBB, VisDrone DET and VID, DOTA) and oriented boxes.

Each export is read back by a reader trainers use where one installs here (datumaro's `yolo`
reader in its Ultralytics layout, datumaro's `dota`; VisDrone and YOLO-OBB have no reader here,
so pandas reads the VisDrone columns and the OBB corners are checked against OpenCV's
minAreaRect), and each round-trips through aerie's own import: the same boxes, within float
tolerance. Bad files are refused with the file and line, and nothing is written."""
import io
import math
import zipfile

import numpy as np
import pytest

from labeling.exchange import exports, imports
from labeling.models import Annotation, AnnotationBox, Dataset, Export, Membership, Project
from labeling.quality import agreement
from labeling.work import oriented, payloads
from labeling.work.submissions import SubmissionError
from ontology import services as ontology_services
from ontology.models import LabelClass
from tests.labels import export_bytes, extract, labeled_project, members, store_labels

SHIPS = {("cam-a", 4): [{"class": "ship", "x": 200, "y": 150, "w": 120, "h": 40, "angle": 30}],
         ("cam-b", 1): [{"class": "ship", "x": 100, "y": 100, "w": 60.5, "h": 20, "angle": -75.5, "occluded": True}]}


@pytest.fixture
def oriented_project(db, users):
    version = ontology_services.create_ontology("Aerial ontology")
    ontology_services.add_class(version, key="person", name="Person", kind=LabelClass.BOX, shortcut="1",
                                attributes=[{"key": "posture", "type": "enum", "options": ["standing", "lying"]}])
    ontology_services.add_class(version, key="car", name="Car", kind=LabelClass.BOX, shortcut="2")
    ontology_services.add_class(version, key="truck", name="Truck", kind=LabelClass.BOX, shortcut="3")
    ontology_services.add_class(version, key="ship", name="Ship", kind=LabelClass.OBOX, shortcut="4")
    ontology_services.add_class(version, key="crowd", name="Crowd", kind=LabelClass.TAG, shortcut="c")
    project = Project.objects.create(name="Aerial", dataset=Dataset.objects.create(name="Aerial footage"),
                                     ontology_version=ontology_services.publish(version))
    for key in ("admin", "annotator", "qa", "trainer"):
        Membership.objects.create(project=project, user=users[key])
    return project


@pytest.fixture
def labeled(oriented_project):
    """labeled_project plus two ships: on cam-a frame 4 (approved empty there) and cam-b frame 1."""
    out = labeled_project(oriented_project, with_images=True)
    for (sequence, index), ships in SHIPS.items():
        frame = out["sequences"][sequence][index]
        current = current_boxes(oriented_project).get(frame.pk, [])
        store_labels(oriented_project, frame, {"boxes": [_payload(b) for b in current] + ships})
    out["boxes"] += 2
    return out


def _payload(box: AnnotationBox) -> dict:
    out = {"class": box.label_class.key, "x": box.x, "y": box.y, "w": box.w, "h": box.h, "track_id": box.track_id,
           "attributes": box.attributes, "occluded": box.occluded}
    if box.angle is not None:
        out["angle"] = box.angle
    return out


def current_boxes(project, annotation_ids=None) -> dict[int, list[AnnotationBox]]:
    """frame id → its boxes: of the given annotations, else of the approved heads."""
    if annotation_ids is None:
        heads = Annotation.objects.filter(project=project, annotator=None, status=Annotation.APPROVED,
                                          superseded_by__isnull=True)
    else:
        heads = Annotation.objects.filter(pk__in=annotation_ids)
    out: dict[int, list] = {}
    for box in AnnotationBox.objects.filter(annotation__in=heads).select_related("label_class", "annotation"):
        out.setdefault(box.annotation.frame_id, []).append(box)
    return out


def made(project, user, **kwargs) -> Export:
    export = exports.create(project, user, **kwargs)
    export = exports.run(export.pk)
    assert export.status == Export.DONE, export.message
    return export


def shape(box: AnnotationBox, *, axis_aligned=False):
    """(class, x, y, w, h, angle) of a stored box; axis_aligned: an oriented box's enclosing box
    (read back into an oriented class, that is an oriented box at angle 0)."""
    if axis_aligned and box.angle is not None:
        return (box.label_class.key, *oriented.enclosing(box.x, box.y, box.w, box.h, box.angle), 0.0)
    return (box.label_class.key, box.x, box.y, box.w, box.h, box.angle)


def assert_same_boxes(before: dict, after: dict, *, axis_aligned=False, tol=1e-5):
    assert sorted(before) == sorted(after)
    for frame_id, boxes in before.items():
        want = sorted(shape(b, axis_aligned=axis_aligned) for b in boxes)
        got = sorted(shape(b) for b in after[frame_id])
        assert [w[0] for w in want] == [g[0] for g in got], frame_id
        for w, g in zip(want, got):
            assert np.allclose(w[1:5], g[1:5], atol=tol), (w, g)
            assert (w[5] is None) == (g[5] is None) and (w[5] is None or abs(w[5] - g[5]) < 1e-4), (w, g)


def round_trip(project, users, export, fmt=None) -> dict:
    report = imports.run(project, users["qa"], format=fmt or export.format, data=export_bytes(export),
                         filename=f"{export.format}.zip", mode="prelabel")
    return current_boxes(project, report.annotations)


# ---------------------------------------------------------------------------------------------- YOLO


def test_yolo_export_is_read_by_datumaro_in_the_ultralytics_layout_and_round_trips(oriented_project, users,
                                                                                   labeled, tmp_path):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset as DmDataset

    export = made(oriented_project, users["trainer"], format="yolo", include_images=True)
    files = members(export_bytes(export))
    assert files["data.yaml"].decode().count("\n  ") == 4 and "names:" in files["data.yaml"].decode()
    labels = sorted(n for n in files if n.startswith("labels/default/"))
    assert len(labels) == labeled["frames"] and "labels/default/cam-a_000000.txt" in labels
    extract(export_bytes(export), tmp_path)
    dataset = DmDataset.import_from(str(tmp_path), "yolo")
    boxes = [(item.id, a) for item in dataset for a in item.annotations if a.type == AnnotationType.bbox]
    assert (len(dataset), len(boxes)) == (labeled["frames"], labeled["boxes"])
    names = dataset.categories()[AnnotationType.label]
    person = next(a for item_id, a in boxes if item_id.endswith("cam-a_000000"))
    assert names[person.label].name == "person"
    assert np.allclose(person.get_bbox(), [10.5, 30, 40, 90.25], atol=1e-5)
    ship = next(a for item_id, a in boxes if item_id.endswith("cam-a_000004"))
    assert names[ship.label].name == "ship"  # written as its enclosing box
    # datumaro keeps its boxes' points at 2 decimals
    assert np.allclose(ship.get_bbox(), oriented.enclosing(200, 150, 120, 40, 30), atol=0.01)

    before = current_boxes(oriented_project)
    assert_same_boxes(before, round_trip(oriented_project, users, export), axis_aligned=True)


def test_yolo_obb_corners_are_the_turned_rectangle_and_round_trip_with_their_angle(oriented_project, users, labeled):
    import cv2

    export = made(oriented_project, users["trainer"], format="yolo_obb")
    files = members(export_bytes(export))
    line = files["labels/default/cam-a_000004.txt"].decode().split()
    assert len(line) == 9 and line[0] == "3"  # ship: the fourth box class, 0-based
    pts = np.array([float(v) for v in line[1:]]).reshape(4, 2) * [640, 480]
    (cx, cy), (w, h), _ = cv2.minAreaRect(pts.astype(np.float32))
    assert (cx, cy) == pytest.approx((260, 170), abs=1e-3) and sorted((w, h)) == pytest.approx([40, 120], abs=1e-3)
    person = files["labels/default/cam-a_000000.txt"].decode().split()
    assert np.allclose(np.array(person[1:], dtype=float).reshape(4, 2) * [640, 480],
                       [[10.5, 30], [50.5, 30], [50.5, 120.25], [10.5, 120.25]], atol=1e-5)
    assert_same_boxes(current_boxes(oriented_project), round_trip(oriented_project, users, export))


# ---------------------------------------------------------------------------------------------- VisDrone


def test_visdrone_det_export_columns_categories_and_round_trip(oriented_project, users, labeled):
    import pandas as pd

    export = made(oriented_project, users["trainer"], format="visdrone")
    files = members(export_bytes(export))
    categories = dict(line.split(" ", 1) for line in files["categories.txt"].decode().splitlines())
    assert (categories["4"], categories["6"], categories["12"], categories["13"]) == ("car", "truck", "person", "ship")
    frame = pd.read_csv(io.BytesIO(files["annotations/cam-a_000002.txt"]), header=None)
    assert frame.shape == (3, 8)
    assert sorted(frame[5]) == [4, 6, 12] and set(frame[4]) == {1}
    truck = frame[frame[5] == 6].iloc[0]
    assert list(truck[:4]) == [500, 380, 139.5, 99.75]
    ship = pd.read_csv(io.BytesIO(files["annotations/cam-b_000001.txt"]), header=None)
    assert list(ship[ship[5] == 13].iloc[0][7:]) == [1]  # occlusion from the occluded flag

    imported = round_trip(oriented_project, users, export)
    assert_same_boxes(current_boxes(oriented_project), imported, axis_aligned=True)
    assert [b.occluded for boxes in imported.values() for b in boxes if b.label_class.key == "ship"].count(True) == 1


def test_visdrone_vid_export_has_one_file_per_sequence_with_targets_and_round_trips(oriented_project, users, labeled):
    import pandas as pd

    export = made(oriented_project, users["trainer"], format="visdrone_vid")
    files = members(export_bytes(export))
    cam_a = pd.read_csv(io.BytesIO(files["annotations/cam-a.txt"]), header=None)
    assert cam_a.shape == (9, 10)
    person = cam_a[cam_a[7] == 12]
    assert list(person[0]) == [1, 2, 3, 4] and len(set(person[1])) == 1  # one target on frames 1–4
    assert export.tracks == 4 + 2  # targets: cam-a person, car, truck, ship; cam-b car, ship (untracked: one each)
    imported = round_trip(oriented_project, users, export)
    before = {f: b for f, b in current_boxes(oriented_project).items() if b}  # VID has no empty frames
    assert_same_boxes(before, imported, axis_aligned=True)
    tracks = {(b.annotation.frame_id, b.track_id) for boxes in imported.values() for b in boxes}
    assert all(t for _, t in tracks)


# ---------------------------------------------------------------------------------------------- DOTA


def test_dota_export_is_read_by_datumaro_with_rotated_boxes_and_round_trips(oriented_project, users, labeled,
                                                                           tmp_path):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset as DmDataset

    export = made(oriented_project, users["trainer"], format="dota", include_images=True)
    files = members(export_bytes(export))
    text = files["default/labelTxt/cam-a_000004.txt"].decode().splitlines()
    assert text[:2] == ["imagesource:aerie", "gsd:null"]
    extract(export_bytes(export), tmp_path)
    dataset = DmDataset.import_from(str(tmp_path), "dota")
    rotated = [(item.id, a) for item in dataset for a in item.annotations if a.type == AnnotationType.rotated_bbox]
    assert (len(dataset), len(rotated)) == (labeled["frames"], labeled["boxes"])
    names = dataset.categories()[AnnotationType.label]
    ship = next(a for item_id, a in rotated if item_id == "cam-a_000004" and names[a.label].name == "ship")
    assert (ship.cx, ship.cy, ship.w, ship.h) == pytest.approx((260, 170, 120, 40), abs=1e-4)
    assert ship.r % 180 == pytest.approx(30, abs=1e-3)  # datumaro's angle: the same turn, clockwise
    assert_same_boxes(current_boxes(oriented_project), round_trip(oriented_project, users, export))


def test_dota_corners_run_clockwise_from_the_unrotated_top_left(oriented_project, users, labeled):
    export = made(oriented_project, users["trainer"], format="dota")
    files = members(export_bytes(export))
    ship = next(line.split() for line in files["default/labelTxt/cam-a_000004.txt"].decode().splitlines()
                if line.endswith("ship 0"))
    pts = np.array(ship[:8], dtype=float).reshape(4, 2)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert pts[0] == pytest.approx([260 - 60 * c + 20 * s, 170 - 60 * s - 20 * c], abs=1e-5)
    x, y = pts[:, 0], pts[:, 1]
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0  # positive in y-down axes: clockwise on screen
    person = files["default/labelTxt/cam-a_000000.txt"].decode().splitlines()[2].split()
    assert person == ["10.5", "30", "50.5", "30", "50.5", "120.25", "10.5", "120.25", "person", "0"]


# ---------------------------------------------------------------------------------------------- bad input


def _zip(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buf.getvalue()


@pytest.mark.parametrize("fmt, entries, message", [
    ("yolo", {"data.yaml": "names: [person, boat]\n", "labels/x/cam-a_000000.txt": "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n"},
     "labels/x/cam-a_000000.txt line 2: class 'boat' is not a box class"),
    ("yolo", {"data.yaml": "names: [person]\n", "labels/cam-a_000001.txt": "0 0.5 0.5 1.5 0.1\n"},
     "labels/cam-a_000001.txt line 1: coordinates must be normalised"),
    ("yolo", {"labels/cam-a_000001.txt": "0 0.5 0.5 0.1 0.1\n"}, "no data.yaml in the zip"),
    ("yolo", {"data.yaml": "names: [person]\n", "labels/nowhere_000001.txt": "0 0.5 0.5 0.1 0.1\n"},
     "labels/nowhere_000001.txt: no frame of this dataset is named 'nowhere_000001'"),
    ("dota", {"default/labelTxt/cam-a_000000.txt": "imagesource:x\n1 1 5 1 5 5 person 0\n"},
     "labelTxt/cam-a_000000.txt line 2: 8 fields"),
    ("dota", {"labelTxt/cam-a_000000.txt": "630 10 660 10 660 40 630 40 ship 0\n"},
     "labelTxt/cam-a_000000.txt line 1: a corner of the turned box lies outside"),
    ("visdrone", {"annotations/cam-a_000000.txt": "1,2,3,4,1,99,0,0\n"},
     "annotations/cam-a_000000.txt line 1: object_category 99 has no name"),
    ("visdrone", {"annotations/cam-a.txt": "9,1,1,2,3,4,1,4,0,0\n"}, "line 1: frame 9 is not in sequence 'cam-a'"),
    ("visdrone", {"annotations/cam-a.txt": "1,1,1,2,3,4,1,4,0,0\n1,1,5,2,3,4,1,4,0,0\n"},
     "line 2: target 1 already has a box on frame 1"),
])
def test_bad_files_are_refused_with_file_and_line_and_write_nothing(oriented_project, users, labeled, fmt, entries,
                                                                    message):
    count = Annotation.objects.count()
    with pytest.raises(imports.ImportRefused) as refused:
        imports.run(oriented_project, users["qa"], format=fmt, data=_zip(entries), filename="bad.zip", mode="prelabel")
    assert any(message in e for e in refused.value.errors), refused.value.errors
    assert Annotation.objects.count() == count


def test_raw_scope_is_coco_or_mot_only(oriented_project, users, labeled):
    with pytest.raises(exports.ExportError, match="raw export"):
        exports.create(oriented_project, users["admin"], format="yolo", scope="raw")


# ---------------------------------------------------------------------------------------------- oriented boxes


def test_payload_takes_an_angle_only_for_oriented_classes_and_normalises_it(oriented_project):
    from tests.conftest import make_frames

    frame = make_frames(oriented_project, 1, width=640, height=480)[0]
    classes = payloads.classes_of(oriented_project.ontology_version_id)
    with pytest.raises(SubmissionError, match=r"boxes\[0\]\.angle: 'car' is an axis-aligned box class"):
        payloads.validate({"boxes": [{"class": "car", "x": 1, "y": 1, "w": 5, "h": 5, "angle": 10}]}, classes, frame)
    boxes, _ = payloads.validate({"boxes": [{"class": "ship", "x": 100, "y": 100, "w": 50, "h": 10, "angle": 120},
                                            {"class": "ship", "x": 100, "y": 200, "w": 50, "h": 10}]}, classes, frame)
    assert [b.angle for b in boxes] == [-60, 0]
    assert payloads.validate({"boxes": [{"class": "car", "x": 1, "y": 1, "w": 5, "h": 5}]}, classes,
                             frame)[0][0].angle is None
    with pytest.raises(SubmissionError, match="a corner of the turned box lies outside"):
        payloads.validate({"boxes": [{"class": "ship", "x": 600, "y": 10, "w": 39, "h": 10, "angle": 45}]}, classes,
                          frame)
    # a turned box near the edge whose unrotated rectangle reaches past it is fine, and is stored
    boxes, _ = payloads.validate({"boxes": [{"class": "ship", "x": -10, "y": 100, "w": 40, "h": 4, "angle": 80}]},
                                 classes, frame)
    store_labels(oriented_project, frame, {"boxes": [boxes[0].as_dict()]})
    assert AnnotationBox.objects.get(annotation__frame=frame).angle == 80


def test_agreement_matches_oriented_boxes_by_rotated_iou():
    import shapely

    a = np.array([[100, 100, 120, 20, 45.0]])
    b = np.array([[100, 100, 120, 20, 45.0], [100, 100, 120, 20, -45.0], [0, 0, 10, 10, 0.0]])
    iou = agreement.iou_matrix(a, b)
    poly = lambda r: shapely.Polygon(oriented.corners(*r))  # noqa: E731
    expected = [poly(a[0]).intersection(poly(r)).area / poly(a[0]).union(poly(r)).area for r in b]
    assert iou[0] == pytest.approx(expected, abs=1e-3) and iou[0, 1] < 0.5 < iou[0, 0]
    # the axis-aligned IoU of the unrotated rectangles would call the crossed pair identical
    assert agreement.iou_matrix(a[:, :4], b[1:2, :4])[0, 0] == 1.0
    result = agreement.match_boxes(a, ["ship"], b, ["ship", "ship", "car"])
    assert result.matches.tolist() == [[0, 0]] and result.mean_iou == pytest.approx(1.0, abs=1e-3)
    # plain boxes (4 columns) against oriented ones (5) do not crash, and angle 0 is the plain IoU
    plain = agreement.iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10, 0.0]]))
    assert plain[0, 0] == pytest.approx(1 / 3)


def test_consensus_of_oriented_boxes_keeps_a_mean_angle(oriented_project):
    from labeling.quality.consensus import fuse

    labels = [agreement.Labels(annotator=i, boxes=np.array([[100, 100, 60, 20, angle]]), classes=["ship"])
              for i, angle in enumerate((88.0, -88.0, 90.0))]
    result = agreement.frame_agreement(labels, agreement.ComparisonParams())
    fused = fuse(labels, result.groups, result.tag_units)
    assert len(fused.boxes) == 1 and fused.boxes[0].angle == pytest.approx(90.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------- the editor


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_rotate_handle_turns_an_oriented_box_and_the_turn_is_submitted(live_server, login, users,
                                                                          oriented_project):
    from playwright.sync_api import expect

    from labeling.footage import ingest
    from tests import media
    from tests.conftest import ARTIFACTS
    from tests.test_labeling_page import drag, to_screen

    archive = media.zip_bytes({f"f{i}.png": media.png_bytes(320, 240, color=(40 * i, 90, 140)) for i in range(2)})
    job = ingest.run_job(ingest.create_job(oriented_project.dataset, media.upload(archive, "cam.zip"),
                                           sequence_name="cam").pk)
    assert job.status == "done"
    page = login(users["annotator"])
    page.get_by_role("link", name="Start labeling").click()
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 0")
    page.keyboard.press("4")  # ship: an oriented class
    drag(page, (60, 80), (180, 120))  # 120 × 40, centre (120, 100)
    box = page.locator("#boxes g.box")
    expect(box).to_have_attribute("data-angle", "0")
    knob = page.locator("#boxes circle.rotate").bounding_box()
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    # towards 30° clockwise of straight up from the centre
    target = (120 + 60 * math.sin(math.radians(30)), 100 - 60 * math.cos(math.radians(30)))
    page.mouse.move(*to_screen(page, *target), steps=8)
    page.mouse.up()
    angle = float(box.get_attribute("data-angle"))
    assert angle == pytest.approx(30, abs=1.5)
    page.keyboard.press("]")  # one degree more
    expect(box).to_have_attribute("data-angle", str(round(angle + 1, 2)).removesuffix(".0"))
    # the drawn rectangle is the turned one: its screen box is the enclosing box of the turn
    drawn = page.locator("#boxes rect[data-class=ship]").bounding_box()
    scale = page.locator("#stage").bounding_box()["width"] / 320
    enc = oriented.enclosing(60, 80, 120, 40, angle + 1)
    assert drawn["width"] / min(scale, page.locator("#stage").bounding_box()["height"] / 240) == \
        pytest.approx(enc[2], abs=3)
    page.screenshot(path=str(ARTIFACTS / "oriented-box-editor.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#frame-title")).to_contain_text("cam · frame 1")
    saved = AnnotationBox.objects.get(annotation__frame__index=0)
    assert saved.label_class.key == "ship" and saved.angle == pytest.approx(angle + 1, abs=0.01)
    assert (saved.x + saved.w / 2, saved.y + saved.h / 2, saved.w, saved.h) == pytest.approx((120, 100, 120, 40),
                                                                                             abs=1.5)
