"""Compute agreement for every frame that has all its submissions but no score yet (the Celery
task normally does this the moment the last submission lands; this catches up after a broker
outage). Idempotent."""
from django.core.management.base import BaseCommand

from labeling import quality


class Command(BaseCommand):
    help = "Score frames whose agreement was never computed (e.g. after a broker outage)."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="only this project id")

    def handle(self, *args, project=None, **options):
        pending = quality.pending_frames(project)
        below = 0
        for project_id, frame_id in pending:
            result = quality.evaluate_frame(project_id, frame_id)
            below += bool(result and not result.passed)
        self.stdout.write(f"scored {len(pending)} frame(s); {below} below the threshold went to review")
