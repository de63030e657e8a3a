"""One project with one of everything, for the permission matrix: the people (one per role, a
second annotator, and an outsider who holds every non-admin role but is a member of another
project only) and an object behind every URL (frames with image files, a sensitive frame, work
by two annotators, an open lease, a review item, a gold frame, a finished export, a model
version, training and scoring runs, a dataset version, an ingest job, a reveal, an ontology
draft with a migration). Built once per test module inside a transaction that is rolled back."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import override_settings

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from labeling.footage import blobstore, ingest, dataset_versions
from labeling.exchange import exports
from labeling.quality import gold, review_items
from labeling.work import queue, submissions
from labeling.models import Dataset, Exposure, Frame, Membership, Project, ReviewItem
from labeling.protection import state as protection_state
from ontology import services as ontology_services
from ontology.models import LabelClass
from tests import media
from tests.conftest import make_frames, signing_key_paths
from tests.labels import labeled_project

PASSWORD = "correct-horse-battery"
ROLES = ("anonymous", "annotator", "qa", "trainer", "admin", "outsider")


@dataclass
class World:
    users: dict = field(default_factory=dict)  # role -> user (anonymous -> None)
    peer: object = None  # a second annotator of the project
    ids: dict = field(default_factory=dict)  # what each URL kwarg points at


def _user(username, *groups, **extra):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def build() -> World:
    from labeling.access.roles import ensure_roles
    from labeling.sampling import registry

    ensure_roles()
    w = World()
    w.users = {
        "anonymous": None,
        "annotator": _user("pm-ann", "annotator"),
        "qa": _user("pm-qa", "qa_lead"),
        "trainer": _user("pm-trainer", "trainer"),
        "admin": _user("pm-admin", "admin", is_staff=True),
        # every role but admin, in another project only: whatever they get from a role, they must
        # not get for this project (404: its existence does not leak)
        "outsider": _user("pm-outsider", "annotator", "qa_lead", "trainer"),
    }
    w.peer = _user("pm-peer", "annotator")

    version = ontology_services.create_ontology("Matrix ontology")
    ontology_services.add_class(version, key="person", name="Person", kind=LabelClass.BOX, shortcut="1",
                                attributes=[{"key": "posture", "type": "enum", "options": ["standing", "lying"]}])
    ontology_services.add_class(version, key="car", name="Car", kind=LabelClass.BOX, shortcut="2")
    ontology_services.add_class(version, key="truck", name="Truck", kind=LabelClass.BOX, shortcut="3")
    ontology_services.add_class(version, key="crowd", name="Crowd", kind=LabelClass.TAG, shortcut="c")
    version = ontology_services.publish(version)
    draft = ontology_services.derive(version)
    migration = ontology_services.create_migration(
        version, ontology_services.publish(ontology_services.derive(version)),
        {c.key: c.key for c in version.classes.all()})

    dataset = Dataset.objects.create(name="Matrix footage")
    project = Project.objects.create(name="Matrix project", dataset=dataset, ontology_version=version, overlap=2)
    for role in ("annotator", "qa", "trainer", "admin"):
        Membership.objects.create(project=project, user=w.users[role])
    Membership.objects.create(project=project, user=w.peer)
    other_version = ontology_services.create_ontology("Other ontology")
    ontology_services.add_class(other_version, key="boat", name="Boat", kind=LabelClass.BOX)
    other = Project.objects.create(name="Matrix other project", dataset=Dataset.objects.create(name="Other footage"),
                                   ontology_version=ontology_services.publish(other_version))
    Membership.objects.create(project=other, user=w.users["outsider"])

    # a real ingest (files, an ingest job), approved labels (for the export), open frames
    job = ingest.run_job(ingest.create_job(dataset, media.upload(media.png_bytes(), "still.png"),
                                           sequence_name="still").pk)
    labeled = labeled_project(project, with_images=True)
    frames = make_frames(project, 4, sequence_name="open", sensitive={3})
    for frame in Frame.objects.filter(sequence__dataset=dataset):
        png = media.png_bytes(frame.width, frame.height)
        for name in (frame.image_name, frame.thumbnail_name, frame.preview_name):
            blobstore.put(name, png)

    # the second annotator labels two frames; the annotator labels the first of them and then
    # holds a lease on the second: the peer's work is there, the annotator's is not yet
    payload = {"boxes": [{"class": "person", "x": 10, "y": 10, "w": 20, "h": 40, "track_id": 1,
                          "attributes": {"posture": "standing"}}]}
    peer_work = []
    for _ in range(2):
        peer_lease = queue.next_assignment(project, w.peer)
        peer_work.append(submissions.submit(peer_lease, w.peer, payload).annotation)
    ann = w.users["annotator"]
    own_work = submissions.submit(queue.next_assignment(project, ann), ann, payload).annotation
    own_lease = queue.next_assignment(project, ann)
    peer_frames = {a.frame_id: a for a in peer_work}
    assert own_work.frame_id in peer_frames and own_lease.frame_id in peer_frames, "queue order changed"
    peer_work = peer_frames[own_lease.frame_id]

    item = review_items.open_item(project, peer_work.frame, ReviewItem.DISAGREEMENT, severity=0.3,
                            annotators=[w.peer.pk], classes=["person"])
    gold_frame = labeled["sequences"]["cam-b"][2]
    gold.mark(project, gold_frame, w.users["qa"], payload={"boxes": [], "tags": []})

    export = exports.run(exports.create(project, w.users["admin"], format="coco").pk)
    dataset_version = dataset_versions.create_version(dataset, user=w.users["admin"])
    from labeling.exchange import shares
    from labeling.redaction import runs as redaction_runs
    from labeling.redaction import versions as derived_versions

    run = redaction_runs.start_run(dataset, reason="world")
    for chunk in redaction_runs.pending_chunks(run.pk):
        redaction_runs.process_chunk(chunk, "world")
    derived_version = derived_versions.create_derived_version(dataset_version, user=w.users["admin"])
    share, _ = shares.create(derived_version, w.users["admin"], expires_at=timezone.now() + timezone.timedelta(days=2),
                             note="partner lab")

    weights = io.BytesIO()
    import torch
    torch.save(registry.build("mobilenet_v3_small", 1).state_dict(), weights)
    model = registry.register(project, weights.getvalue(), architecture="mobilenet_v3_small", class_map=["crowd"],
                              signature=registry.sign(weights.getvalue(), "mobilenet_v3_small", ["crowd"]),
                              user=w.users["trainer"])

    sensitive = frames[3]
    protection_state.set_consent(w.users["annotator"], True, None)
    exposure = Exposure.objects.create(user_id=ann.pk, project=project, frame=sensitive, kind=Exposure.REVEAL,
                                       started_at=timezone.now())

    from datetime import timedelta

    from labeling.access import raw as raw_access
    raw_grant = raw_access.grant(dataset, w.users["qa"], w.users["admin"], "checks redaction",
                                 timezone.now() + timedelta(days=7))

    from labeling.models import RedactionRegion
    region = RedactionRegion.objects.create(frame_id=peer_work.frame_id, x=1, y=1, w=4, h=4,
                                            source=RedactionRegion.PERSON, created_by=w.users["qa"], reason="matrix")

    # an event of this project only: a QA lead of another project must not find it in the trail
    from labeling import audit
    project_event = audit.record(w.peer, "annotation.submit", None, {"frame": peer_work.frame_id}, project=project)

    # --- model evaluation: a frozen evaluation set ---
    from labeling.governance import evaluation_sets
    evaluation_set = evaluation_sets.freeze(project, "world", {"frame_ids": [labeled["sequences"]["cam-a"][0].pk]},
                                            user=w.users["trainer"])
    # --- end model evaluation ---
    # model governance: a proposal to deploy the model (by the trainer who uploaded it) and an
    # incident filed by the QA lead
    from labeling.governance import incidents, promotion
    promo = promotion.propose(model, w.users["trainer"], "matrix")
    incident = incidents.file(project, model, w.users["qa"], "missed_object", "matrix", frame=peer_work.frame)
    # a quarantine (an hour long, long ago: nothing of the world is in it)
    from datetime import datetime, timezone as tz

    from labeling.governance import quarantine
    quarantined = quarantine.quarantine(project, w.peer, datetime(2001, 1, 1, tzinfo=tz.utc),
                                        datetime(2001, 1, 1, 1, tzinfo=tz.utc), "matrix", w.users["qa"])

    # retention: a legal hold on the sequence, and a finished retention run of the dataset
    from labeling.custody import holds as legal_holds
    from labeling.custody import retention
    legal_hold = legal_holds.place(job.sequence, w.users["admin"], "matrix")
    retention_run = retention.run(retention.start(dataset, reason="matrix").pk)

    w.ids = {
        "legal_hold": legal_hold.pk, "retention_run": retention_run.pk,
        "audit_event": project_event.pk, "project": project.pk, "other_project": other.pk, "dataset": dataset.pk, "other_dataset": other.dataset_id,
        "sequence": job.sequence_id, "frame": peer_work.frame_id, "sensitive_frame": sensitive.pk,
        "ingestjob": job.pk, "assignment": own_lease.pk, "peer_assignment": peer_work.assignment_id,
        "annotation": own_work.pk, "peer_annotation": peer_work.pk, "review_item": item.pk,
        "gold_frame": gold_frame.pk, "export": export.pk, "model": model.pk, "dataset_version": dataset_version.pk,
        "ontology": version.ontology_id, "ontology_version": version.pk, "draft_version": draft.pk,
        "label_class": draft.classes.order_by("pk").first().pk, "migration": migration.pk,
        "membership": Membership.objects.get(project=project, user=w.peer).pk, "reveal": exposure.pk,
        "peer": w.peer.pk, "raw_grant": raw_grant.pk, "derived_version": derived_version.pk, "share": share.pk, "redaction_region": region.pk,
        "promotion": promo.pk, "incident": incident.pk, "quarantine": quarantined.pk,
        "evaluation_set": evaluation_set.pk,
    }
    assert export.status == "done", export.message
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built inside a transaction that is rolled back after this module."""
    base = tmp_path_factory.mktemp("permission-world")
    media = base / "media"
    key_file, key_dir = signing_key_paths(tmp_path_factory)
    files = override_settings(
        MEDIA_ROOT=media, AERIE_UPLOAD_DIR=base / "uploads",
        AERIE_SIGNING_KEY_FILE=key_file, AERIE_SIGNING_KEY_DIR=key_dir,
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                              "OPTIONS": {"location": str(media)}},
                  "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    files.enable()
    from config.celery import app

    app.conf.task_always_eager = True
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = build()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            files.disable()
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)
    from labeling.access import cache

    cache.clear()
    files.disable()


@pytest.fixture
def isolated_media():
    """The world's files stay where the world put them (overrides conftest's per-test folder)."""
