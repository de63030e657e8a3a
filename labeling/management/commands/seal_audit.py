from django.core.management.base import BaseCommand

from labeling.audit import chain


class Command(BaseCommand):
    help = "Sign the audit chain's head with this installation's Ed25519 key (celery beat does it periodically)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="sign again even if the head is already sealed")

    def handle(self, *args, force, **options):
        made = chain.seal(force=force)
        if made is None:
            self.stdout.write("the audit chain is empty: nothing to seal")
        else:
            self.stdout.write(f"link {made.seq} {made.hash} sealed at {made.at:%Y-%m-%d %H:%M:%S} "
                              f"with key {made.key_id}")
