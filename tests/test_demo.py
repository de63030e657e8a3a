"""The demo on its first start: `load_demo` (real footage, the stand-in annotators' history through
the queue and the submission path, agreement run as it runs for people) leaves a review queue,
a quality dashboard and a models page with real content, a segment project that hands out
segments, and changes nothing when it runs again. The demo is loaded once for this module
(committed, as `make run` does, so that the quality checks fire on commit) and the database is
flushed after it."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from labeling.models import (
    Annotation,
    AuditEvent,
    FrameAgreement,
    GoldCheck,
    ModelVersion,
    PairAgreement,
    Project,
    QueueItem,
    ReviewItem,
    Sequence,
)
from labeling.work import queue
from tests.conftest import api_client, signing_key_paths

STANDINS = ["standin_careful", "standin_hasty"]


def _vtest_or_skip():
    from fixtures import footage

    try:
        footage.path("vtest")
    except Exception as exc:  # noqa: BLE001 - no apt here: the demo then has no pedestrians to label
        pytest.skip(f"the demo history labels the campus clip, which is not available here: {exc}")


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo loaded into the test database, committed; the notes load printed."""
    _vtest_or_skip()
    base = tmp_path_factory.mktemp("demo")
    media = base / "media"
    key_file, key_dir = signing_key_paths(tmp_path_factory)
    files = override_settings(
        MEDIA_ROOT=media, AERIE_UPLOAD_DIR=base / "uploads",
        AERIE_SIGNING_KEY_FILE=key_file, AERIE_SIGNING_KEY_DIR=key_dir,
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                              "OPTIONS": {"location": str(media)}},
                  "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}})
    files.enable()
    from config.celery import app
    from labeling import demo as demo_mod

    app.conf.task_always_eager = True  # nothing leaves for a broker; the history makes its checks inline itself
    try:
        with django_db_blocker.unblock():
            loaded = {"notes": demo_mod.load(), "project": Project.objects.get(name=demo_mod.PROJECT),
                      "segments": Project.objects.get(name=demo_mod.SEGMENT_PROJECT)}
        yield loaded
    finally:
        with django_db_blocker.unblock():
            # ids are not reused (per-process caches keyed by id, such as classes_of, stay right)
            call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
            connections.close_all()
        from labeling.access import cache

        cache.clear()
        app.conf.task_always_eager = False
        files.disable()


@pytest.fixture
def isolated_media():
    """The demo's files stay where the demo put them (overrides conftest's per-test folder)."""


def _user(name):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name)


@pytest.mark.django_db
def test_the_stand_ins_labeled_through_the_queue_and_agreement_ran(demo):
    project = demo["project"]
    human = Annotation.objects.filter(project=project, source=Annotation.HUMAN)
    assert sorted(set(human.values_list("annotator__username", flat=True))) == STANDINS
    assert not human.filter(assignment__isnull=True).exists()  # each one on a lease of the queue
    for name in STANDINS:
        assert human.filter(annotator__username=name).count() == 36
    approved = Annotation.objects.filter(project=project, status=Annotation.APPROVED, source=Annotation.CONSENSUS)
    assert 20 <= approved.count() <= 32
    open_items = ReviewItem.objects.filter(project=project, status=ReviewItem.OPEN)
    assert 5 <= open_items.count() <= 15
    assert set(open_items.values_list("reason", flat=True)) <= {ReviewItem.DISAGREEMENT, ReviewItem.GOLD}
    # every frame both finished was scored when the second submission committed: none was left over
    assert not any("after the fact" in note for note in demo["notes"])
    assert GoldCheck.objects.filter(project=project).count() >= 2
    # the stand-ins drew people on the campus footage (the detector found some)
    assert Annotation.objects.filter(project=project, source=Annotation.HUMAN, boxes__isnull=False).distinct().count() > 25


@pytest.mark.django_db
def test_the_stand_ins_agree_somewhere_and_disagree_elsewhere(demo):
    project = demo["project"]
    scores = list(FrameAgreement.objects.filter(project=project).values_list("passed", flat=True))
    assert scores.count(True) >= 20 and scores.count(False) >= 5
    pairs = PairAgreement.objects.filter(project=project)
    assert pairs.filter(f1=1.0).exists() and pairs.filter(f1__lt=0.7).exists()
    assert pairs.exclude(confusions=[]).exists()  # the hasty one calls a person a bicycle now and then
    # the two differ in their habits: the hasty one misses more people
    careful = sum(len(a.boxes.all()) for a in Annotation.objects.filter(annotator__username="standin_careful"))
    hasty = sum(len(a.boxes.all()) for a in Annotation.objects.filter(annotator__username="standin_hasty"))
    assert hasty < careful


@pytest.mark.django_db
def test_the_pages_show_the_history_to_the_qa_lead(demo):
    project = demo["project"]
    qa = api_client(_user("qa"))
    items = list(ReviewItem.objects.filter(project=project, status=ReviewItem.OPEN).values_list("pk", flat=True))
    review = qa.get(f"/projects/{project.pk}/review/")
    assert review.status_code == 200
    body = review.content.decode()
    assert all(f"/review/{pk}/" in body for pk in items)
    detail = qa.get(f"/projects/{project.pk}/review/{items[0]}/")
    assert detail.status_code == 200 and "standin_" in detail.content.decode()
    quality = qa.get(f"/projects/{project.pk}/quality/")
    assert quality.status_code == 200
    assert "standin_careful" in quality.content.decode() and "standin_hasty" in quality.content.decode()
    figures = qa.get(f"/api/projects/{project.pk}/quality/").json()
    assert figures["pairs"]["names"] == STANDINS
    trainer = api_client(_user("trainer"))
    approved = Annotation.objects.filter(project=project, status=Annotation.APPROVED).values("frame").distinct().count()
    models = trainer.get(f"/projects/{project.pk}/models/")
    assert models.status_code == 200 and f"{approved} frames have approved labels" in models.content.decode()


@pytest.mark.django_db
def test_the_segment_project_hands_out_a_segment(demo):
    segments = demo["segments"]
    assert segments.work_unit == Project.SEGMENT and segments.segment_length == 100
    ready = Sequence.objects.filter(dataset=segments.dataset, status=Sequence.READY).count()
    assert QueueItem.objects.filter(project=segments, segment__isnull=False).count() >= ready
    assignment = queue.next_assignment(segments, _user("annotator1"))
    assert assignment is not None
    item = QueueItem.objects.get(pk=assignment.item_id)
    assert item.segment_id is not None and item.segment.last_index - item.segment.first_index + 1 <= 100


@pytest.mark.django_db
def test_loading_again_changes_nothing(demo):
    from django.contrib.auth import get_user_model

    from labeling import demo as demo_mod

    tables = [get_user_model(), Project, Sequence, QueueItem, Annotation, ReviewItem, FrameAgreement, GoldCheck,
              AuditEvent]

    def counts():
        return {model.__name__: model.objects.count() for model in tables}

    before = counts()
    assert demo_mod.load() == []
    assert counts() == before


@pytest.mark.django_db
def test_the_first_model_trains_on_the_history_and_becomes_current(demo):
    from labeling.demo import first_model

    project = demo["project"]
    model, note = first_model.train(epochs=1, image_size=96)
    assert model is not None, note
    model.refresh_from_db()
    assert model.is_current and model.kind == ModelVersion.DETECTOR and model.project == project
    assert model.lineage["approved_snapshot"]["frames"] >= 20
    again, note = first_model.train(epochs=1, image_size=96)
    assert again == model and "nothing trained" in note
    page = api_client(_user("trainer")).get(f"/projects/{project.pk}/models/").content.decode()
    assert model.sha256[:12] in page


@pytest.mark.django_db
def test_the_drone_footage_has_telemetry_and_thermal_frames(demo):
    from labeling.demo import drone

    project = drone.project()
    assert project is not None and project.overlap == 1
    flight = Sequence.objects.get(dataset=project.dataset, name="flight-klv")
    assert flight.telemetry_source == "klv" and flight.telemetry_frames == flight.frame_count > 0
    thermal = Sequence.objects.get(dataset=project.dataset, name="thermal")
    assert thermal.bits == 16 and thermal.frame_count > 0
    assert QueueItem.objects.filter(project=project).count() == flight.frame_count + thermal.frame_count
    assert any("flight: ingest job" in note and "KLV telemetry on" in note for note in demo["notes"])
