from django.core.management.base import BaseCommand

from labeling import demo


class Command(BaseCommand):
    help = "Load the demo: users for each role, an ontology, real footage, a project. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="ingest in this process instead of via Celery")

    def handle(self, *args, inline, **options):
        for note in demo.load(run_inline=inline):
            self.stdout.write(note)
        self.stdout.write("Demo logins (password for all: %s):" % demo.PASSWORD)
        for username, role, _ in demo.USERS:
            self.stdout.write(f"  {username:<11} {role}")
