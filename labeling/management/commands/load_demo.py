import time

from django.core.management.base import BaseCommand

from labeling import demo


class Command(BaseCommand):
    help = ("Load the demo: users for each role, an ontology, real footage, a frame and a segment project, and a "
            "labeled history from stand-in annotators. Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true",
                            help="ingest in this process (the default now; kept for old scripts)")
        parser.add_argument("--queue-ingest", action="store_true",
                            help="send the footage to a Celery worker instead (the history waits for a later load)")
        parser.add_argument("--no-history", action="store_true", help="leave out the stand-ins' labeled history")

    def handle(self, *args, inline, queue_ingest, no_history, **options):
        started = time.monotonic()
        for note in demo.load(run_inline=not queue_ingest, with_history=not no_history):
            self.stdout.write(note)
        self.stdout.write(f"demo loaded in {time.monotonic() - started:.1f} s")
        self.stdout.write("Demo logins (password for all: %s):" % demo.PASSWORD)
        for username, role, _ in demo.USERS:
            self.stdout.write(f"  {username:<11} {role}")
