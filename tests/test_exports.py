"""Exports are judged by the tools trainers use: pycocotools and datumaro read the COCO archive,
datumaro, TrackEval and motmetrics read the MOT archive; the same snapshot gives the same bytes;
the manifest is signed and a changed file is caught."""
import io
import json
import zipfile

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labeling.access import signing
from labeling.exchange import exports
from labeling.models import Annotation, AuditEvent, Export
from ontology import services as ontology_services
from tests.labels import export_bytes, extract, labeled_project, members, store_labels

COCO_JSON = "annotations/instances_default.json"


def made(project, user, **kwargs) -> Export:
    export = exports.create(project, user, **kwargs)
    return exports.run(export.pk)


@pytest.fixture
def labeled(project):
    return labeled_project(project)


def test_coco_export_loads_in_pycocotools_and_scores_ap_1_against_itself(project, users, labeled, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    export = made(project, users["trainer"], format="coco")
    assert export.status == Export.DONE, export.message
    assert (export.frames, export.boxes, export.tracks) == (labeled["frames"], labeled["boxes"], 3)
    files = members(export_bytes(export))
    path = tmp_path / "instances.json"
    path.write_bytes(files[COCO_JSON])
    gt = COCO(str(path))
    assert len(gt.getImgIds()) == 8 and len(gt.getAnnIds()) == 11
    assert min(gt.getAnnIds()) == 1 and min(gt.getImgIds()) == 1
    assert [c["name"] for c in gt.loadCats(gt.getCatIds())] == ["person", "car", "truck"]
    first = gt.loadImgs(1)[0]
    assert (first["file_name"], first["sequence"], first["frame_index"], first["width"]) == ("cam-a/000000.jpg",
                                                                                            "cam-a", 0, 640)
    crowd = next(i for i in gt.dataset["images"] if i["sequence"] == "cam-b" and i["frame_index"] == 0)
    assert crowd["attributes"] == {"crowd": True}
    person = gt.loadAnns(gt.getAnnIds(imgIds=[1]))[0]
    assert person["bbox"] == [10.5, 30.0, 40.0, 90.25] and person["area"] == 40 * 90.25
    assert person["attributes"] == {"posture": "standing", "track_id": person["track_id"]}
    tracks = {a["track_id"] for a in gt.dataset["annotations"] if "track_id" in a}
    assert len(tracks) == 3 and min(tracks) == 1
    results = [{**{k: a[k] for k in ("image_id", "category_id", "bbox")}, "score": 1.0} for a in gt.dataset["annotations"]]
    evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0) and evaluation.stats[1] == pytest.approx(1.0)


def test_datumaro_detects_and_imports_both_exports_with_the_same_counts(project, users, tmp_path):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset
    from datumaro.components.environment import Environment

    labeled_project(project, with_images=True)
    coco_dir, mot_dir = tmp_path / "coco", tmp_path / "mot"
    coco = made(project, users["trainer"], format="coco", include_images=True)
    extract(export_bytes(coco), coco_dir)
    assert "coco_instances" in Environment().detect_dataset(str(coco_dir)) or \
        "coco" in Environment().detect_dataset(str(coco_dir))
    dataset = Dataset.import_from(str(coco_dir), "coco_instances")
    bboxes = [a for item in dataset for a in item.annotations if a.type == AnnotationType.bbox]
    assert (len(dataset), len(bboxes)) == (coco.frames, coco.boxes)
    assert len({a.attributes["track_id"] for a in bboxes if "track_id" in a.attributes}) == coco.tracks
    assert {item.media.size for item in dataset} == {(480, 640), (240, 320)}

    mot = made(project, users["trainer"], format="mot")
    extract(export_bytes(mot), mot_dir)
    for sequence, frames, boxes, tracks, classes in (("cam-a", 6, 8, 3, {"person", "car", "truck"}),
                                                     ("cam-b", 3, 3, 1, {"car"})):
        seq_dir = mot_dir / sequence
        assert "mot_seq" in Environment().detect_dataset(str(seq_dir))
        dataset = Dataset.import_from(str(seq_dir), "mot_seq")
        bboxes = [a for item in dataset for a in item.annotations if a.type == AnnotationType.bbox]
        assert (len(dataset), len(bboxes)) == (frames, boxes)
        assert len({a.attributes["track_id"] for a in bboxes}) == tracks
        labels = dataset.categories()[AnnotationType.label]
        assert {labels[b.label].name for b in bboxes} == classes
    assert (mot.boxes, mot.tracks) == (11, 4)


def _iou_distances(boxes):
    """motmetrics' IoU distance (1 − IoU, NaN below IoU 0.5) of boxes against themselves; its
    own iou_matrix calls np.asfarray, which numpy 2 removed."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    w = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None)
    h = np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
    area = boxes[:, 2] * boxes[:, 3]
    iou = w * h / (area[:, None] + area - w * h)
    return np.where(iou >= 0.5, 1 - iou, np.nan)


def _mot_frames(path):
    """gt.txt as {frame: (ids, boxes)}."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return {int(f): (rows[rows[:, 0] == f][:, 1].astype(int), rows[rows[:, 0] == f][:, 2:6])
            for f in np.unique(rows[:, 0])}


def test_mot_export_scores_100_percent_against_itself_in_trackeval_and_motmetrics(project, users, labeled, tmp_path):
    import motmetrics as mm
    import trackeval

    export = made(project, users["trainer"], format="mot")
    extract(export_bytes(export), tmp_path / "mot")
    files = members(export_bytes(export))
    assert files["cam-a/gt/gt.txt"].decode().splitlines()[:3] == [
        "1,1,10.5,30,40,90.25,1,1,1", "2,1,30.5,30,40,90.25,1,1,1", "2,2,300,201,120.125,60,1,2,1"]
    assert files["cam-a/gt/labels.txt"] == b"person\ncar\ntruck\n"
    assert "seqLength=6" in files["cam-a/seqinfo.ini"].decode()
    for sequence in ("cam-a", "cam-b"):
        frames = _mot_frames(tmp_path / "mot" / sequence / "gt" / "gt.txt")
        acc = mm.MOTAccumulator(auto_id=True)
        for ids, boxes in frames.values():
            acc.update(ids, ids, _iou_distances(boxes))
        summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="self")
        assert summary["mota"]["self"] == 1.0 and summary["idf1"]["self"] == 1.0

    scores = trackeval_self_scores(tmp_path / "mot", ["cam-a", "cam-b"], tmp_path / "trackers")
    assert scores == {"MOTA": 1.0, "IDF1": 1.0, "IDSW": 0}


def trackeval_self_scores(gt_folder, sequences, trackers_folder) -> dict:
    """TrackEval's own MOTChallenge reader on the exported folders (unchanged), with each
    sequence's gt.txt submitted as the tracker's output (in the submission format: conf, then -1
    for the world coordinates). Class-agnostic (no MOT17 pedestrian-only preprocessing): every
    box of every class counts."""
    import trackeval

    data = trackers_folder / "self" / "data"
    data.mkdir(parents=True)
    for sequence in sequences:
        lines = (gt_folder / sequence / "gt" / "gt.txt").read_text().splitlines()
        (data / f"{sequence}.txt").write_text("".join(",".join(line.split(",")[:7]) + ",-1,-1,-1\n" for line in lines))
    evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                                     "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                                     "PLOT_CURVES": False, "LOG_ON_ERROR": None})
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(gt_folder), "TRACKERS_FOLDER": str(trackers_folder), "SKIP_SPLIT_FOL": True,
        "SEQ_INFO": {s: None for s in sequences}, "TRACKERS_TO_EVAL": ["self"], "PRINT_CONFIG": False,
        "BENCHMARK": "MOT17", "DO_PREPROC": False})
    metrics = [trackeval.metrics.CLEAR({"PRINT_CONFIG": False}), trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    results, messages = evaluator.evaluate([dataset], metrics)
    combined = results["MotChallenge2DBox"]["self"]["COMBINED_SEQ"]["pedestrian"]
    return {"MOTA": combined["CLEAR"]["MOTA"], "IDF1": combined["Identity"]["IDF1"], "IDSW": combined["CLEAR"]["IDSW"]}


def test_the_same_snapshot_gives_identical_files(project, users, labeled):
    first = exports.create(project, users["trainer"], format="coco")
    # written after the job was created: not in its snapshot, so the bytes do not change
    frame = labeled["sequences"]["cam-a"][5]
    store_labels(project, frame, {"boxes": [{"class": "car", "x": 1, "y": 1, "w": 5, "h": 5}]})
    first = exports.run(first.pk)
    second = made(project, users["trainer"], format="coco")
    one, two = members(export_bytes(first)), members(export_bytes(second))
    assert one[COCO_JSON] != two[COCO_JSON]  # the second snapshot has the new frame
    assert json.loads(two[COCO_JSON])["images"][5]["frame_index"] == 5
    again = exports.run(exports.create(project, users["trainer"], format="coco").pk)
    three = members(export_bytes(again))
    assert three[COCO_JSON] == two[COCO_JSON]
    for fmt in ("mot",):
        a, b = (members(export_bytes(made(project, users["trainer"], format=fmt))) for _ in range(2))
        data = sorted(n for n in a if not n.startswith("manifest."))
        assert data == sorted(n for n in b if not n.startswith("manifest.")) and len(data) == 6
        assert all(a[n] == b[n] for n in data)
    retried = exports.run(second.pk)  # a finished job is left alone
    assert retried.sha256 == second.sha256


def test_the_manifest_is_signed_and_a_changed_file_is_caught(project, users, labeled, settings, tmp_path):
    export = made(project, users["trainer"], format="mot")
    data = export_bytes(export)
    report = exports.verify_archive(io.BytesIO(data))
    assert report.ok, report.lines()
    manifest = report.manifest
    assert manifest["ontology"] == "Test ontology" and manifest["ontology_version"] == 1
    assert manifest["aerie_version"] == settings.AERIE_VERSION and manifest["created_at"]
    assert manifest["dataset_version"] is None and manifest["scope"] == "approved"
    assert {f["path"] for f in manifest["files"]} == {n for n in members(data) if not n.startswith("manifest.")}
    files = members(data)

    def rezip(changes: dict) -> io.BytesIO:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, content in {**files, **changes}.items():
                if content is not None:
                    archive.writestr(name, content)
        out.seek(0)
        return out

    tampered = exports.verify_archive(rezip({"cam-a/gt/gt.txt": files["cam-a/gt/gt.txt"].replace(b"10.5", b"11.5")}))
    assert not tampered.ok and tampered.signature_ok and tampered.changed == ["cam-a/gt/gt.txt"]
    forged = json.loads(files["manifest.json"])
    forged["files"][0]["sha256"] = "0" * 64
    assert not exports.verify_archive(rezip({"manifest.json": json.dumps(forged).encode()})).signature_ok
    assert exports.verify_archive(rezip({"cam-b/gt/extra.txt": b"x"})).extra == ["cam-b/gt/extra.txt"]
    assert exports.verify_archive(rezip({"cam-b/seqinfo.ini": None})).missing == ["cam-b/seqinfo.ini"]
    another_installation = Ed25519PrivateKey.generate().public_key()
    assert not exports.verify_archive(io.BytesIO(data), another_installation).signature_ok
    assert exports.verify_archive(io.BytesIO(data), signing.public_key()).signature_ok


def test_an_export_refuses_to_mix_ontology_versions(project, users, labeled):
    v2 = ontology_services.publish(ontology_services.derive(project.ontology_version))
    frame = labeled["sequences"]["cam-a"][5]
    head = store_labels(project, frame, {"boxes": []})
    # a revision on the new version, as an ontology migration writes it, supersedes the v1 head
    Annotation.objects.create(project=project, frame=frame, ontology_version=v2, revision=2, supersedes=head,
                              status=Annotation.APPROVED, source=Annotation.MIGRATION)
    with pytest.raises(exports.ExportError, match=r"2 ontology versions: Test ontology v1 \(8 annotations\), "
                                                  r"Test ontology v2 \(1 annotations\).*ontology migration"):
        exports.create(project, users["trainer"], format="coco")
    assert not Export.objects.exists()


def test_raw_scope_exports_every_annotators_current_work(project, users, labeled, make_user):
    frame = labeled["sequences"]["cam-b"][1]
    for user, x in ((users["annotator"], 5), (make_user("bea", "annotator"), 7)):
        store_labels(project, frame, {"boxes": [{"class": "person", "x": x, "y": 5, "w": 10, "h": 20, "track_id": 1}]},
                     status=Annotation.SUBMITTED, source=Annotation.HUMAN, annotator=user)
    export = made(project, users["trainer"], format="coco", scope="raw")
    coco = json.loads(members(export_bytes(export))[COCO_JSON])
    assert len(coco["images"]) == 1 and coco["images"][0]["annotator_tags"] == {"ann": {}, "bea": {}}
    assert [(a["annotator"], a["bbox"][0], a["track_id"]) for a in coco["annotations"]] == [("ann", 5.0, 1),
                                                                                           ("bea", 7.0, 2)]
    mot = members(export_bytes(made(project, users["trainer"], format="mot", scope="raw")))
    assert mot["cam-b__ann/gt/gt.txt"] == b"2,1,5,5,10,20,1,1,1\n"
    assert mot["cam-b__bea/gt/gt.txt"] == b"2,1,7,5,10,20,1,1,1\n"


def test_a_dataset_version_limits_the_export_to_its_sequences(project, users, labeled):
    from labeling.footage import dataset_versions
    from labeling.models import Sequence

    Sequence.objects.filter(name="cam-b").update(status=Sequence.INGESTING)
    with pytest.raises(Exception):
        dataset_versions.create_version(project.dataset)
    Sequence.objects.filter(name="cam-b").update(status=Sequence.FAILED)
    version = dataset_versions.create_version(project.dataset)
    Sequence.objects.filter(name="cam-b").update(status=Sequence.READY)
    export = made(project, users["trainer"], format="mot", dataset_version=version)
    names = members(export_bytes(export))
    assert "cam-a/gt/gt.txt" in names and not any(n.startswith("cam-b") for n in names)
    assert exports.verify_archive(io.BytesIO(export_bytes(export))).manifest["dataset_version"] == {
        "number": 1, "manifest_sha256": version.manifest_sha256}


def test_frame_images_travel_in_the_archive_when_asked(project, users):
    labeled_project(project, with_images=True)
    files = members(export_bytes(made(project, users["trainer"], format="mot", include_images=True)))
    # the derived renditions (JPEG) of the uploaded PNG frames: nobody gets raw frames by default
    assert files["cam-a/img1/000001.jpg"][:2] == b"\xff\xd8" and "cam-a/img1/000006.jpg" in files
    assert sum(n.startswith("cam-b/img1/") for n in files) == 3


def test_nothing_to_export_is_a_clear_refusal(project, users):
    with pytest.raises(exports.ExportError, match="no approved annotations"):
        exports.create(project, users["trainer"], format="coco")
    with pytest.raises(exports.ExportError, match="format: one of coco, mot, yolo, yolo_obb, visdrone, visdrone_vid, dota"):
        exports.create(project, users["trainer"], format="pascal_voc")
    assert not AuditEvent.objects.filter(verb="export.create").exists()


def test_verify_export_command(project, users, labeled, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "export.zip"
    path.write_bytes(export_bytes(made(project, users["trainer"], format="coco")))
    out = io.StringIO()
    call_command("verify_export", str(path), stdout=out)
    assert "OK" in out.getvalue()
    files = members(path.read_bytes())
    files[COCO_JSON] = files[COCO_JSON].replace(b'"iscrowd":0', b'"iscrowd":1', 1)
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(CommandError, match="1 export archive"):
        call_command("verify_export", str(tmp_path / "bad.zip"), stdout=io.StringIO())


def test_below_full_metadata_sequences_go_by_neutral_names_that_import_back(project, users):
    """At the default (coarse) metadata level an export is derived data: the sequence names the
    uploader typed (often a file name, a place or a date) never leave; `sequence-<id>` does, the
    same in COCO, MOT and the manifest, and aerie's importer reads it back to the same frames.
    Raw frames exported for a raw-access holder keep the names."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling.access import raw
    from labeling.exchange import imports
    from labeling.models import Sequence

    labeled_project(project, with_images=True, metadata_level="coarse")
    ids = dict(Sequence.objects.filter(dataset=project.dataset).values_list("name", "pk"))
    neutral = {name: f"sequence-{pk}" for name, pk in ids.items()}
    coco = export_bytes(made(project, users["trainer"], format="coco"))
    mot = export_bytes(made(project, users["trainer"], format="mot", include_images=True))
    for data in (coco, mot):
        files = members(data)
        assert not any(b"cam-a" in body or b"cam-b" in body for body in files.values())
        assert not any("cam-" in name for name in files)
        manifest = exports.verify_archive(io.BytesIO(data)).manifest
        assert manifest["sequences"] == [neutral["cam-a"], neutral["cam-b"]]
        assert manifest["metadata_level"] == "coarse"
    doc = json.loads(members(coco)[COCO_JSON])
    assert {i["sequence"] for i in doc["images"]} == set(neutral.values())
    assert f"{neutral['cam-a']}/000000.jpg" in {i["file_name"] for i in doc["images"]}
    assert f"{neutral['cam-b']}/img1/000003.jpg" in members(mot)
    report = imports.run(project, users["admin"], format="mot", data=mot, filename="mot.zip", mode="prelabel")
    assert (report.frames, report.boxes) == (7, 11), report.as_dict()  # MOT has no line for the empty frame
    raw.grant(project.dataset, users["trainer"], users["admin"], "trains on raw", timezone.now() + timedelta(days=1))
    kept = members(export_bytes(made(project, users["trainer"], format="mot", include_images=True,
                                     image_kind=Export.RAW_IMAGES)))
    assert "cam-a/gt/gt.txt" in kept and not any(n.startswith("sequence-") for n in kept)
