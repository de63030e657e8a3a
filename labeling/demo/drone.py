"""The demo's drone footage: a clip with KLV flight telemetry and a 16-bit thermal sequence, made
from the demo clips by fixtures/drone.py (provenance in fixtures/FOOTAGE.md), in a dataset and a
frame project of their own, so that the labeling page shows the flight readout and the thermal
palettes."""
from __future__ import annotations

from django.core.files import File
from django.db import transaction

from fixtures import drone
from labeling.footage import datasets, ingest
from labeling.models import Dataset, IngestJob, Project, Sequence

DATASET = "Drone footage (demo)"
PROJECT = "Demo: drone footage"
# fixture name, sequence name, stride
CLIPS = [("flight", "flight-klv", 3), ("thermal", "thermal", 1)]


def ensure(admin, version, ensure_project, *, run_inline: bool = True) -> list[str]:
    """Ingest what is missing and make the project (its members: every demo user)."""
    dataset = Dataset.objects.filter(name=DATASET).first() or datasets.save_dataset(Dataset(
        name=DATASET, description="A campus clip muxed with MISB ST 0601 KLV telemetry, and street footage turned "
                                  "into synthetic 16-bit thermal counts (fixtures/FOOTAGE.md)."), admin)
    notes = []
    for fixture, name, stride in CLIPS:
        if Sequence.objects.filter(dataset=dataset, name=name).exists() or IngestJob.objects.filter(
                dataset=dataset, sequence_name=name).exclude(status=IngestJob.FAILED).exists():
            continue
        try:
            path = drone.path(fixture)
        except Exception as exc:  # noqa: BLE001 - the demo goes on without a file it cannot make
            notes.append(f"{fixture}: not available ({exc})")
            continue
        with open(path, "rb") as fh, transaction.atomic():
            job = ingest.create_job(dataset, File(fh, name=path.name), sequence_name=name, stride=stride, user=admin,
                                    enqueue=not run_inline)
        if run_inline:
            job = ingest.run_job(job.pk)
        notes.append(f"{fixture}: ingest job {job.pk} {'ran' if run_inline else 'queued'} as sequence '{name}'"
                     + (f" ({job.message})" if run_inline and job.message else ""))
    ensure_project(PROJECT, dataset, version, admin, overlap=1,
                   description="Drone footage: boxes on a clip with flight telemetry and on thermal frames.")
    return notes


def project() -> Project | None:
    return Project.objects.filter(name=PROJECT).first()
