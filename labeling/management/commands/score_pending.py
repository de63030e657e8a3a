"""Run the quality checks that no message delivered: agreement for every frame that has all its
submissions but no score yet, and the gold check of every submission on a gold frame that was
never checked (the outbox normally sends them within a fraction of a second; celery beat's
housekeeping catches up 500 of each a minute; this does all at once, e.g. after a broker outage).
Idempotent."""
from django.core.management.base import BaseCommand

from labeling.quality import frame_scoring, segment_scoring


class Command(BaseCommand):
    help = "Score frames whose agreement was never computed, and run missed gold checks (e.g. after a broker outage)."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="only this project id")

    def handle(self, *args, project=None, **options):
        done = frame_scoring.catch_up(limit=None, project_id=project)
        self.stdout.write(f"scored {done['frames_caught_up']} frame(s); {done['frames_below_threshold']} below the "
                          f"threshold went to review; {done['gold_checks_caught_up']} gold check(s), "
                          f"{done['gold_checks_failed']} failed")
        segments = segment_scoring.catch_up(limit=None, project_id=project)
        self.stdout.write(f"scored {segments['segments_caught_up']} segment(s); "
                          f"{segments['segments_below_threshold']} below the threshold went to review")
