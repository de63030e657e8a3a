from django.core.management.base import BaseCommand, CommandError

from labeling.access import key_custody, keyring


class Command(BaseCommand):
    help = ("Stop trusting another installation's key for new signatures (what it signed before still verifies). "
            "This installation's own keys are retired by rotate_signing_key.")

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="the key's id (or a prefix of 6 characters or more)")

    def handle(self, *args, key_id, **options):
        try:
            row, seal = key_custody.retire(key_id)
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"retired key {row.key_id}; audit chain sealed at link {seal.seq} with key {seal.key_id}")
