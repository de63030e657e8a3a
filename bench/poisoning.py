"""A simulated poisoning, through the database and the real quality code: 3 annotators label
BENCH_POISON_FRAMES frames (default 2000) of known truth (1-4 boxes of car/truck per frame) from
the queue; two are honest (a few pixels of jitter, ~2 % random class swaps), one also turns 20 %
of cars into trucks. Each submission goes through `submissions.submit`; the frame's agreement
and consensus run as the app runs them after the third submission (Celery tasks, here eager).
Then `governance.drift` looks for (annotator, A→B) pairs far above the others' rate, and the QA
lead quarantines the flagged annotator's work (every frame back to the queue: two of three left).

Prints:
  BENCH poison_frames                 frames labelled
  BENCH poison_detected               1 when the only flag is the poisoner's car→truck
  BENCH poison_false_flags            flags on any other (annotator, pair) (goal 0)
  BENCH poison_poisoner_rate          the poisoner's car→truck rate against consensus
  BENCH poison_baseline_rate          the others' pooled rate (the test's baseline)
  BENCH poison_label_cpu_s            process CPU: labelling + agreement (not the database server's)
  BENCH poison_drift_cpu_s            process CPU: the drift report (loading + matching + test)
  BENCH poison_drift_wall_s           wall clock of the same (labelled: swings with the machine's load)
  BENCH poison_quarantine_cpu_s       process CPU: quarantining the flagged annotator's work
  BENCH poison_quarantine_frames      frames the quarantine touched
"""
from __future__ import annotations

from _setup import django_environment, emit  # first: it fixes the import path

import os  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

import psutil  # noqa: E402

FRAMES = int(os.environ.get("BENCH_POISON_FRAMES", "2000"))


def cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def setup(n_frames: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from labeling.access.roles import ensure_roles
    from labeling.models import Dataset, Frame, Membership, Project, Sequence
    from labeling.work import queue
    from ontology import services
    from ontology.models import LabelClass

    ensure_roles()
    version = services.create_ontology("Bench poisoning")
    for key in ("car", "truck"):
        services.add_class(version, key=key, name=key.title(), kind=LabelClass.BOX)
    version = services.publish(version)
    project = Project.objects.create(name="Bench poisoning", dataset=Dataset.objects.create(name="Bench"),
                                     ontology_version=version, overlap=3)
    people = []
    for name, role in (("honest1", "annotator"), ("honest2", "annotator"), ("poisoner", "annotator"),
                       ("lead", "qa_lead")):
        user = get_user_model().objects.create_user(name)
        user.groups.add(Group.objects.get(name=role))
        Membership.objects.create(project=project, user=user)
        people.append(user)
    seq = Sequence.objects.create(dataset=project.dataset, name="bench", kind=Sequence.VIDEO, status=Sequence.READY,
                                  source_name="bench.mp4", source_sha256="0" * 64, source_size=1, width=640,
                                  height=480, frame_count=n_frames)
    Frame.objects.bulk_create(Frame(sequence=seq, index=i, source_index=i, sha256=f"{seq.pk:08d}{i:056d}",
                                    width=640, height=480) for i in range(n_frames))
    queue.sync_queue(project)
    return project, people[:3], people[3]


def main() -> None:
    with django_environment():
        from django.utils import timezone

        from config.celery import app
        from labeling.governance import drift, quarantine, simulate

        app.conf.task_always_eager = True  # the agreement tasks run inline, as a worker would run them
        project, annotators, lead = setup(FRAMES)
        poisoner = annotators[2]
        start = cpu()
        done = simulate.label_through_queue(project, annotators, poisoner, FRAMES)
        label_cpu = cpu() - start

        start, wall = cpu(), time.perf_counter()
        report = drift.project_drift(project)["consensus"]
        drift_cpu, drift_wall = cpu() - start, time.perf_counter() - wall
        flags = [(report.annotators[f.annotator], f.truth, f.given) for f in report.flags]
        target = (poisoner.pk, "car", "truck")
        emit("poison_frames", done["submitted"] // 3)
        emit("poison_detected", int(flags == [target]))
        emit("poison_false_flags", sum(f != target for f in flags))
        hit = next((f for f in report.flags if report.annotators[f.annotator] == poisoner.pk), None)
        if hit:
            emit("poison_poisoner_rate", hit.rate)
            emit("poison_baseline_rate", hit.baseline)
        emit("poison_label_cpu_s", label_cpu)
        emit("poison_drift_cpu_s", drift_cpu)
        emit("poison_drift_wall_s", drift_wall)

        start = cpu()
        now = timezone.now()
        q = quarantine.quarantine(project, poisoner, now - timedelta(days=1), now + timedelta(minutes=1),
                                  "bench: flagged car→truck", lead)
        emit("poison_quarantine_cpu_s", cpu() - start)
        emit("poison_quarantine_frames", len(quarantine.affected_frames(q)))


if __name__ == "__main__":
    main()
