"""The demo: users for each role, an ontology that suits the footage, real footage ingested into
a dataset, a frame project and a segment project, and a labeled history from stand-in annotators
(OpenCV's HOG people detector with two people's habits) so that the review queue and the quality
dashboard have content on the first start. Idempotent: running it again reuses what is there.

basics.py   users, ontology, dataset, projects, the sensitive range
standins.py the stand-in annotators (pure: detections in, boxes out)
history.py  the stand-ins at work through the queue and the submission path
first_model.py  training the first model on the approved history (`manage.py demo_first_model`)"""
from __future__ import annotations

from django.contrib.auth import get_user_model

from labeling.demo import drone, history
from labeling.demo.basics import (
    CLASSES,
    CLIPS,
    DATASET,
    DEMO_SENSITIVE,
    ONTOLOGY,
    PASSWORD,
    PROJECT,
    SEGMENT_PROJECT,
    USERS,
    _demo_sensitive,
    ensure_dataset,
    ensure_ontology,
    ensure_projects,
    ensure_users,
)

__all__ = ["CLASSES", "CLIPS", "DATASET", "DEMO_SENSITIVE", "ONTOLOGY", "PASSWORD", "PROJECT", "SEGMENT_PROJECT",
           "USERS", "_demo_sensitive", "ensure_dataset", "ensure_ontology", "ensure_users", "load"]


def load(*, run_inline: bool = True, with_history: bool = True) -> list[str]:
    """Load (or complete) the demo. `run_inline=False` sends the footage to a Celery worker
    instead of ingesting it here; the history then waits for a later load that finds frames."""
    ensure_users()
    User = get_user_model()
    admin = User.objects.get(username="admin")
    version = ensure_ontology()
    dataset, notes = ensure_dataset(admin, run_inline=run_inline)
    frames, _segments = ensure_projects(dataset, version, admin)
    if with_history:
        notes += history.make(frames, admin, User.objects.get(username="qa"))
    notes += _demo_sensitive(admin)
    notes += drone.ensure(admin, version, run_inline=run_inline)
    return notes
