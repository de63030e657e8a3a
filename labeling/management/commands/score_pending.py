"""Run the quality checks that no message delivered: agreement for every frame that has all its
submissions but no score yet, and the gold check of every submission on a gold frame that was
never checked (the outbox normally sends them within a fraction of a second; celery beat's
housekeeping catches up 500 of each a minute; this does all at once, e.g. after a broker outage).
Idempotent."""
from django.core.management.base import BaseCommand

from labeling import gold, quality


class Command(BaseCommand):
    help = "Score frames whose agreement was never computed, and run missed gold checks (e.g. after a broker outage)."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="only this project id")

    def handle(self, *args, project=None, **options):
        pending = quality.pending_frames(project)
        below = 0
        for project_id, frame_id in pending:
            result = quality.evaluate_frame(project_id, frame_id)
            below += bool(result and not result.passed)
        checks = gold.pending_checks(project)
        failed = 0
        for annotation_id in checks:
            result = gold.check(annotation_id)
            failed += bool(result and not result.passed)
        self.stdout.write(f"scored {len(pending)} frame(s); {below} below the threshold went to review; "
                          f"{len(checks)} gold check(s), {failed} failed")
