"""Retention and legal holds (labeling.custody): a dataset's policy deletes raw frames and then
derived renditions when they are due, a hold on the dataset or a sequence suspends it, a file
shared by two datasets goes only when neither needs it, each deleted file leaves a tombstone that
verify_manifest reports, the audit chain still verifies, and labels and derived frames are still
served once the raw frames are gone. On local disk and on S3-compatible storage."""
from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from labeling.access import raw
from labeling.audit import chain
from labeling.custody import holds, retention
from labeling.exchange import exports
from labeling.footage import blobstore, dataset_versions, datasets, ingest
from labeling.models import AuditEvent, Dataset, Frame, RetentionRun, Sequence, Tombstone
from labeling.redaction import derived, edits, regions, served
from tests import media, s3server
from tests.conftest import api_client
from tests.labels import export_bytes, members, store_labels

pytestmark = pytest.mark.django_db

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def ingest_images(dataset, name, colours=COLOURS) -> Sequence:
    archive = media.zip_bytes({f"{i}.png": media.png_bytes(color=c) for i, c in enumerate(colours)})
    job = ingest.run_job(ingest.create_job(dataset, media.upload(archive, f"{name}.zip"), sequence_name=name).pk)
    assert job.status == "done", job.message
    return Sequence.objects.get(pk=job.sequence_id)


def render_derived(sequence) -> None:
    """Every frame's derived rendition, as the redaction job or a first view makes it."""
    for frame in Frame.objects.filter(sequence=sequence).select_related("sequence__dataset"):
        served.ensure(frame)


def age(sequence, days: int) -> None:
    Sequence.objects.filter(pk=sequence.pk).update(created_at=timezone.now() - timedelta(days=days))


def set_policy(dataset, user, raw_days=None, derived_days=None) -> None:
    dataset.raw_retention_days, dataset.derived_retention_days = raw_days, derived_days
    datasets.save_dataset(dataset, user)


def run_retention(dataset=None) -> RetentionRun:
    made = retention.start(dataset, reason="test")
    assert made is not None
    return retention.run(made.pk)


def raw_files(sequence) -> set[str]:
    out = set()
    for frame in Frame.objects.filter(sequence=sequence):
        out |= {frame.image_name, frame.thumbnail_name, frame.preview_name}
    return out


def derived_files(sequence) -> set[str]:
    return {derived.derived_blob_name(f) for f in Frame.objects.filter(sequence=sequence)}


def stored(names) -> set[str]:
    return {n for n in names if default_storage.exists(n)}


def fresh(sequence) -> Sequence:
    return Sequence.objects.select_related("dataset").get(pk=sequence.pk)


@pytest.fixture
def footage(project, users):
    """The project's dataset: two sequences of three frames, each with derived renditions and
    approved labels, ingested 45 days ago; raw frames kept 30 days, derived 365."""
    dataset = project.dataset
    old = ingest_images(dataset, "old")
    other = ingest_images(dataset, "other", [(90, 90, 10), (10, 90, 90), (90, 10, 90)])
    for seq in (old, other):
        render_derived(seq)
        age(seq, 45)
    for frame in Frame.objects.filter(sequence=old):
        store_labels(project, frame, {"boxes": [{"class": "car", "x": 2, "y": 3, "w": 20, "h": 10}]})
    set_policy(dataset, users["admin"], raw_days=30, derived_days=365)
    return {"dataset": dataset, "old": old, "other": other}


def test_preview_counts_what_would_go_and_changes_nothing(footage, users):
    before_files = stored(raw_files(footage["old"]) | raw_files(footage["other"]))
    report = retention.preview(footage["dataset"], user=users["admin"])
    assert report["raw"]["sequences"] == 2 and report["raw"]["frames"] == 6
    assert report["raw"]["files"] == len(before_files) and report["raw"]["files"] >= 18  # frame, thumbnail, preview
    assert report["raw"]["bytes"] == sum(default_storage.size(n) for n in before_files)
    assert report["derived"]["files"] == 0
    assert stored(before_files) == before_files  # nothing deleted
    assert not Tombstone.objects.exists() and not RetentionRun.objects.exists()
    assert not Sequence.objects.filter(raw_expired_at__isnull=False).exists()
    event = AuditEvent.objects.get(verb="retention.preview")
    assert event.actor == users["admin"] and event.data["raw"]["files"] == report["raw"]["files"]
    out = StringIO()
    call_command("retention", "--preview", "--dataset", footage["dataset"].name, stdout=out)
    assert f"raw: {report['raw']['files']} file(s)" in out.getvalue() and "nothing deleted" in out.getvalue()
    assert stored(before_files) == before_files


def test_a_run_deletes_raw_frames_keeps_derived_and_leaves_tombstones(footage):
    old = footage["old"]
    raw_names, derived_names = stored(raw_files(old)), stored(derived_files(old))
    sizes = {n: default_storage.size(n) for n in raw_names}
    made = run_retention()
    assert made.status == "done" and made.blobs_deleted >= len(raw_names)
    assert not stored(raw_names)  # frames, thumbnails, blurred previews: gone
    assert stored(derived_names) == derived_names  # derived renditions stay (kept 365 days)
    stones = {t.name: t for t in Tombstone.objects.filter(sequence=old)}
    assert set(stones) == raw_names
    frame = Frame.objects.filter(sequence=old).first()
    stone = stones[frame.image_name]
    assert (stone.sha256, stone.size, stone.kind, stone.policy_days, stone.run_id) == (
        frame.sha256, sizes[frame.image_name], "raw", 30, made.pk)
    old = fresh(old)
    assert old.raw_expired_at and old.raw_purged_at and old.derived_expired_at is None
    again = run_retention()  # idempotent: nothing left to delete
    assert again.blobs_deleted == 0 and Tombstone.objects.filter(run=again).count() == 0
    done = AuditEvent.objects.get(verb="retention.run.done", object_id=str(made.pk))
    digest = hashlib.sha256("".join(f"{t.name} {t.sha256} {t.size}\n" for t in sorted(
        Tombstone.objects.filter(run=made), key=lambda t: t.name)).encode()).hexdigest()
    assert done.data["tombstones_sha256"] == digest and done.data["files"] == made.blobs_deleted
    assert AuditEvent.objects.filter(verb="retention.expire.raw", object_id=str(old.pk)).count() == 1


def test_tombstones_are_append_only(footage):
    run_retention()
    stone = Tombstone.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Tombstone.objects.filter(pk=stone.pk).update(size=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Tombstone.objects.filter(pk=stone.pk).delete()


def test_labels_and_derived_frames_are_served_after_raw_deletion(footage, project, users):
    old = footage["old"]
    frame = Frame.objects.filter(sequence=old).order_by("index").first()
    holder, annotator = users["trainer"], users["annotator"]
    raw.grant(footage["dataset"], holder, users["admin"], "compares raw and derived",
              timezone.now() + timedelta(days=3))
    raw_bytes = blobstore.open_blob(frame.image_name).read()
    assert api_client(holder).get(f"/frames/{frame.pk}/original").getvalue() == raw_bytes  # before: raw
    run_retention()
    with blobstore.open_blob(derived.derived_blob_name(frame)) as fh:
        derived_bytes = fh.read()
    for person in (holder, annotator):
        client = api_client(person)
        got = client.get(f"/frames/{frame.pk}/original")
        assert got.status_code == 200 and got.getvalue() == derived_bytes  # a raw holder too: derived
        assert client.get(f"/frames/{frame.pk}/thumbnail").status_code == 200
        assert client.get(f"/frames/{frame.pk}/preview").status_code == 200
    # raw asked for explicitly: 410 with the reason, nothing recorded
    refused = api_client(holder).post(f"/api/projects/{project.pk}/exports/", {
        "format": "coco", "include_images": True, "image_kind": "raw"}, format="json")
    assert refused.status_code == 410
    assert "deleted under the retention policy of dataset 'Test footage'" in refused.json()["detail"]
    # labels and derived frames still export
    export = exports.run(exports.create(project, users["trainer"], format="coco", include_images=True).pk)
    files = members(export_bytes(export))
    doc = next(__import__("json").loads(v) for k, v in files.items() if k.endswith(".json") and b'"annotations"' in v)
    assert len([a for a in doc["annotations"]]) == 3
    images = {hashlib.sha256(v).hexdigest() for k, v in files.items() if k.endswith(".jpg")}
    assert hashlib.sha256(derived_bytes).hexdigest() in images
    # a rendition cannot be re-made without raw: a clear refusal, nothing written
    with pytest.raises(regions.RegionError, match="deleted under the retention policy"):
        edits.add_manual(frame, 1, 1, 5, 5, "a face the detector missed", users["qa"])
    assert not frame.redaction_regions.exists()


def test_derived_renditions_go_later_and_then_the_frame_answers_gone(footage, users):
    dataset, old = footage["dataset"], footage["old"]
    set_policy(dataset, users["admin"], raw_days=10, derived_days=40)
    client = api_client(users["annotator"])
    frame = Frame.objects.filter(sequence=old).first()
    assert client.get(f"/frames/{frame.pk}/thumbnail").status_code == 200  # makes its derived thumbnail
    thumb = served.thumbnail_name(Frame.objects.select_related("sequence__dataset").get(pk=frame.pk))
    names = stored(derived_files(old) | derived_files(footage["other"]) | {thumb})
    assert thumb in names
    made = run_retention()
    assert made.counts["derived_files"] == len(names)
    assert not stored(names) and not stored(raw_files(old))
    assert set(Tombstone.objects.filter(kind="derived").values_list("name", flat=True)) == names
    got = client.get(f"/frames/{frame.pk}/original")
    assert got.status_code == 410 and b"deleted under the retention policy" in got.content
    assert fresh(old).derived_purged_at is not None


def test_a_dataset_hold_suspends_every_deletion_until_lifted(footage, users):
    dataset, old = footage["dataset"], footage["old"]
    names = stored(raw_files(old))
    hold = holds.place(dataset, users["admin"], "litigation 2026-17")
    preview = retention.preview(dataset)
    assert preview["raw"]["files"] == 0 and set(preview["held"]) == {str(old), str(footage["other"])}
    made = run_retention()
    assert made.blobs_deleted == 0 and made.counts["raw_held"] == 2
    assert stored(names) == names and not Tombstone.objects.exists()
    assert fresh(old).raw_expired_at is None
    with pytest.raises(holds.HoldError):
        holds.lift(hold, users["admin"], "  ")  # a reason is required; the hold stays
    holds.lift(hold, users["admin"], "case closed")
    with pytest.raises(holds.HoldError, match="already lifted"):
        holds.lift(hold, users["admin"], "again")
    lifted = AuditEvent.objects.get(verb="retention.hold.lift")
    assert lifted.actor == users["admin"] and lifted.data["reason"] == "case closed"
    assert lifted.dataset_id == dataset.pk
    run_retention()
    assert not stored(names)


def test_a_sequence_hold_keeps_that_sequence_only(footage, users):
    old, other = footage["old"], footage["other"]
    held_names, free_names = stored(raw_files(old)), stored(raw_files(other))
    holds.place(old, users["admin"], "evidence for incident 42")
    made = run_retention()
    assert made.counts["raw_held"] == 1 and made.counts["raw_done"] == 1
    assert stored(held_names) == held_names and not stored(free_names)
    assert fresh(old).raw_expired_at is None and fresh(other).raw_purged_at is not None


def test_a_frame_shared_by_two_datasets_goes_when_neither_needs_it(footage, users):
    """Content addressing: the same frame in two datasets is one file; dataset B keeps raw forever,
    so A's retention deletes A's other frames and keeps the shared one."""
    a_seq = footage["old"]
    shared = Frame.objects.filter(sequence=a_seq).order_by("index").first()
    b = Dataset.objects.create(name="Partner footage")
    b_seq = ingest_images(b, "copy", [COLOURS[0]])
    assert Frame.objects.get(sequence=b_seq).sha256 == shared.sha256
    render_derived(b_seq)
    made = run_retention()
    assert default_storage.exists(shared.image_name)
    assert made.counts["raw_shared_kept"] >= 3  # its frame, thumbnail and preview
    assert not Tombstone.objects.filter(name=shared.image_name).exists()
    others = [f for f in Frame.objects.filter(sequence=a_seq) if f.pk != shared.pk]
    assert not stored({f.image_name for f in others})
    # B held, then B's policy expires it: still kept while the hold lasts
    set_policy(b, users["admin"], raw_days=1, derived_days=400)
    age(b_seq, 5)
    hold = holds.place(b, users["admin"], "audit of the partner")
    run_retention()
    assert default_storage.exists(shared.image_name)
    holds.lift(hold, users["admin"], "audit over")
    run_retention()
    assert not default_storage.exists(shared.image_name)
    stone = Tombstone.objects.get(name=shared.image_name)
    assert stone.dataset == b and stone.policy_days == 1


def test_verify_manifest_reports_deleted_files_and_still_passes(footage, users):
    version = dataset_versions.create_version(footage["dataset"], user=users["trainer"])
    run_retention()
    out = StringIO()
    call_command("verify_manifest", str(version.pk), stdout=out)  # exits 0: no CommandError
    text = out.getvalue()
    assert "OK (6 frames checked, 6 deleted under retention)" in text
    assert "missing:" not in text
    assert text.count("deleted under retention policy of dataset 'Test footage' (raw frames kept 30 days) on "
                      f"{timezone.now():%Y-%m-%d} by retention run") == 6


def test_a_file_deleted_without_a_tombstone_is_still_missing(footage, users):
    version = dataset_versions.create_version(footage["dataset"], user=users["trainer"])
    frame = Frame.objects.filter(sequence=footage["other"]).order_by("index").first()
    blobstore.delete(frame.image_name)
    with pytest.raises(CommandError):
        call_command("verify_manifest", str(version.pk), stdout=StringIO())
    report = dataset_versions.verify_version(version)
    assert report.missing == [f"other#0 ({frame.image_name})"] and not report.deleted


def test_the_audit_chain_verifies_after_a_run(footage, users):
    retention.preview(None, user=users["admin"])
    run_retention()
    chain.link_pending()
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip().endswith("OK")
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"retention.preview", "retention.run.start", "retention.expire.raw", "retention.run.done"} <= verbs


def test_raw_waits_for_derived_renditions(project, users):
    dataset = project.dataset
    seq = ingest_images(dataset, "fresh")
    age(seq, 45)
    set_policy(dataset, users["admin"], raw_days=30)
    names = stored(raw_files(seq))
    assert retention.preview(dataset)["waiting_for_derived"] == [str(seq)]
    made = run_retention()
    assert made.counts["raw_waiting"] == 1 and stored(names) == names
    assert fresh(seq).raw_expired_at is None
    render_derived(seq)
    run_retention()
    assert not stored(names)


def test_a_run_that_fails_midway_resumes_and_deletes_each_file_once(footage, monkeypatch):
    names = stored(raw_files(footage["old"]) | raw_files(footage["other"]))
    real, calls = blobstore.delete, []

    def flaky(name):
        calls.append(name)
        if len(calls) == 4:
            raise OSError("storage went away")
        real(name)

    monkeypatch.setattr(blobstore, "delete", flaky)
    made = retention.start(reason="test")
    with pytest.raises(OSError):
        retention.run(made.pk)
    assert RetentionRun.objects.get(pk=made.pk).status == "running"
    assert stored(names)  # some left
    monkeypatch.setattr(blobstore, "delete", real)
    again = retention.run(made.pk)  # the task's retry
    assert again.status == "done" and not stored(names)
    stones = list(Tombstone.objects.filter(run=made).values_list("name", flat=True))
    assert sorted(stones) == sorted(set(stones)) and set(stones) == names


def test_bad_input_is_refused_and_changes_nothing(footage, users):
    dataset = footage["dataset"]
    dataset.raw_retention_days, dataset.derived_retention_days = None, 30  # derived shorter than raw
    with pytest.raises(Exception, match="derived"):
        dataset.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(raw_retention_days=90, derived_retention_days=30)
    with pytest.raises(holds.HoldError, match="reason"):
        holds.place(dataset, users["admin"], "")
    assert not dataset.legal_holds.exists()
    with pytest.raises(CommandError, match="no dataset named"):
        call_command("retention", "--run", "--dataset", "nope")
    assert not RetentionRun.objects.exists()
    first = retention.start(reason="test")
    assert retention.start(reason="test") is None  # one run at a time
    with pytest.raises(CommandError, match="another retention run"):
        call_command("retention", "--run")
    retention.run(first.pk)


def test_retention_on_s3_compatible_storage(s3_storage, project, users):
    dataset = project.dataset
    seq = ingest_images(dataset, "bucketed")
    render_derived(seq)
    age(seq, 45)
    set_policy(dataset, users["admin"], raw_days=30, derived_days=365)
    version = dataset_versions.create_version(dataset)
    raw_names, derived_names = raw_files(seq), derived_files(seq)
    in_bucket = s3server.keys(s3_storage)
    assert raw_names <= in_bucket and derived_names <= in_bucket
    assert retention.preview(dataset)["raw"]["files"] == len(raw_names)
    out = StringIO()
    call_command("retention", "--run", "--dataset", dataset.name, stdout=out)
    assert "done" in out.getvalue()
    in_bucket = s3server.keys(s3_storage)
    assert not raw_names & in_bucket and derived_names <= in_bucket
    assert Tombstone.objects.filter(sequence=seq).count() == len(raw_names)
    report = dataset_versions.verify_version(version)
    assert report.ok and len(report.deleted) == 3 and not report.missing
    frame = Frame.objects.filter(sequence=seq).first()
    got = api_client(users["annotator"]).get(f"/frames/{frame.pk}/original")
    assert got.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_beat_resumes_a_run_whose_worker_died_in_a_real_worker(footage, celery_worker_app):
    """celery beat's retention_sweep: a run whose heartbeat stopped is sent again and finishes in
    a worker; while the last run is recent, the sweep starts none."""
    names = stored(raw_files(footage["old"]))
    made = retention.start(reason="schedule")
    RetentionRun.objects.filter(pk=made.pk).update(heartbeat_at=timezone.now() - timedelta(hours=2))
    celery_worker_app.send_task("labeling.tasks.retention_sweep")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        made.refresh_from_db()
        if made.status != RetentionRun.RUNNING:
            break
        time.sleep(0.3)
    assert made.status == RetentionRun.DONE, made.message
    assert made.sequences_done == made.sequences_total == 2 and not stored(names)
    assert retention.sweep() == {} and RetentionRun.objects.count() == 1  # the last run is recent


def test_admins_set_policies_place_holds_preview_and_run_through_the_api(footage, users,
                                                                         django_capture_on_commit_callbacks):
    dataset, old = footage["dataset"], footage["old"]
    api = api_client(users["admin"])
    url = f"/api/datasets/{dataset.pk}/retention/"
    bad = api.put(url, {"raw_retention_days": 30, "derived_retention_days": 10}, format="json")
    assert bad.status_code == 400 and "derived_retention_days" in bad.json()
    assert Dataset.objects.get(pk=dataset.pk).derived_retention_days == 365  # unchanged
    assert api_client(users["qa"]).put(url, {"raw_retention_days": 1, "derived_retention_days": None},
                                       format="json").status_code == 403
    ok = api.put(url, {"raw_retention_days": 20, "derived_retention_days": 400}, format="json")
    assert ok.status_code == 200
    changed = AuditEvent.objects.filter(verb="dataset.update", dataset_id=dataset.pk).latest("pk")
    assert (changed.data["raw_retention_days"], changed.data["derived_retention_days"]) == (20, 400)
    placed = api.post(f"/api/sequences/{old.pk}/holds/", {"reason": "subpoena 7"}, format="json")
    assert placed.status_code == 201 and placed.json()["sequence"] == old.pk
    assert api.post(f"/api/datasets/{dataset.pk}/holds/", {}, format="json").status_code == 400
    preview = api.post(f"{url}preview/")
    assert preview.status_code == 200 and preview.json()["held"] == [str(old)]
    listed = api.get(url).json()
    assert [h["reason"] for h in listed["holds"]] == ["subpoena 7"]
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"{url}run/")
    assert started.status_code == 202
    run = api.get(f"/api/retention-runs/{started.json()['id']}/").json()
    assert run["status"] == "done" and run["counts"]["raw_held"] == 1 and run["files_deleted"] > 0
    assert stored(raw_files(old)) and not stored(raw_files(footage["other"]))
    lift = f"/api/holds/{placed.json()['id']}/lift/"
    assert api.post(lift, {"reason": "released"}, format="json").json()["lift_reason"] == "released"
    assert api.post(lift, {"reason": "again"}, format="json").status_code == 400


def test_holds_are_placed_and_lifted_in_the_django_admin(footage, users):
    from django.test import Client

    dataset, old = footage["dataset"], footage["old"]
    client = Client()
    client.force_login(users["admin"])
    both = client.post("/admin/labeling/legalhold/add/", {"dataset": dataset.pk, "sequence": old.pk, "reason": "x"})
    assert both.status_code == 200 and b"exactly one" in both.content
    assert not dataset.legal_holds.exists()
    made = client.post("/admin/labeling/legalhold/add/", {"dataset": dataset.pk, "sequence": "",
                                                          "reason": "regulator's request"})
    assert made.status_code == 302
    hold = dataset.legal_holds.get()
    assert hold.placed_by == users["admin"] and AuditEvent.objects.filter(verb="retention.hold.place").exists()
    assert b"regulator" in client.get(f"/admin/labeling/dataset/{dataset.pk}/change/").content  # its holds show
    no_reason = client.post(f"/admin/labeling/legalhold/{hold.pk}/change/", {"lift_reason": ""})
    assert no_reason.status_code == 200 and b"say why" in no_reason.content
    lifted = client.post(f"/admin/labeling/legalhold/{hold.pk}/change/", {"lift_reason": "request withdrawn"})
    assert lifted.status_code == 302
    hold.refresh_from_db()
    assert hold.lifted_at and hold.lifted_by == users["admin"] and hold.lift_reason == "request withdrawn"
    assert AuditEvent.objects.filter(verb="retention.hold.lift").count() == 1


def test_models_read_the_derived_rendition_once_raw_frames_are_gone(footage, project):
    """Scoring and training read a frame's image by name: the raw file until retention deletes
    it, then the current derived rendition (the only image left)."""
    from labeling.sampling import examples, scoring

    old, other = footage["old"], footage["other"]
    frames = list(Frame.objects.filter(sequence__in=[old, other]).order_by("pk"))
    assert {name for _, name in scoring._frames([f.pk for f in frames])} == {f.image_name for f in frames}
    holds.place(other, None, "kept for the model audit")
    run_retention()
    names = dict(scoring._frames([f.pk for f in frames]))
    for frame in frames:
        expected = derived.derived_blob_name(frame) if frame.sequence_id == old.pk else frame.image_name
        assert names[frame.pk] == expected and default_storage.exists(expected)
    found, _ = examples.approved_examples(project)
    assert {e.image_name for e in found} == {derived.derived_blob_name(f) for f in frames if f.sequence_id == old.pk}


def test_a_share_of_a_derived_version_says_which_frames_retention_deleted(footage, users, client):
    """A partner's link still opens after the derived renditions went: the signed manifest, and a
    list of the frames deleted under retention (with when and why) instead of their files."""
    import io
    import zipfile

    from labeling.exchange import shares
    from labeling.redaction import versions

    dataset = footage["dataset"]
    raw_version = dataset_versions.create_version(dataset, user=users["admin"])
    derived_version = versions.create_derived_version(raw_version, user=users["admin"])
    _, token = shares.create(derived_version, users["admin"], expires_at=timezone.now() + timedelta(days=3),
                             note="partner")
    set_policy(dataset, users["admin"], raw_days=10, derived_days=40)
    run_retention()
    response = client.get(f"/shares/{token}/")
    assert response.status_code == 200
    files = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert not [n for n in files.namelist() if n.startswith("frames/")]
    listed = files.read("frames-deleted-under-retention.txt").decode().splitlines()
    assert len(listed) == 6 and all("deleted under retention policy of dataset 'Test footage'" in line
                                    for line in listed)
    report = versions.verify_derived(derived_version)
    assert report.ok and len(report.deleted) == 6
