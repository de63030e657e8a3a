"""The demo's drone footage: a clip with KLV flight telemetry and a 16-bit thermal sequence, made
from the demo clips by fixtures/drone.py (provenance in fixtures/FOOTAGE.md), in a dataset and a
frame project of their own, so that the labeling page shows the flight readout and the thermal
palettes."""
from __future__ import annotations

from fixtures import drone
from labeling.demo import basics
from labeling.footage import datasets
from labeling.models import Dataset, Project

DATASET = "Drone footage (demo)"
PROJECT = "Demo: drone footage"
# fixture name, sequence name, stride
CLIPS = [("flight", "flight-klv", 3), ("thermal", "thermal", 1)]


def ensure(admin, version, *, run_inline: bool = True) -> list[str]:
    """Ingest what is missing and make the project (its members: every demo user)."""
    dataset = Dataset.objects.filter(name=DATASET).first() or datasets.save_dataset(Dataset(
        name=DATASET, description="A campus clip muxed with MISB ST 0601 KLV telemetry, and street footage turned "
                                  "into synthetic 16-bit thermal counts (fixtures/FOOTAGE.md)."), admin)
    notes = basics.ingest_clips(dataset, [(drone.path, fixture, name, stride) for fixture, name, stride in CLIPS],
                                admin, run_inline=run_inline)
    basics.ensure_project(PROJECT, dataset, version, admin, overlap=1,
                   description="Drone footage: boxes on a clip with flight telemetry and on thermal frames.")
    return notes


def project() -> Project | None:
    return Project.objects.filter(name=PROJECT).first()
