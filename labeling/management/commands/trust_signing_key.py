from django.core.management.base import BaseCommand, CommandError

from labeling.access import key_custody, keyring


class Command(BaseCommand):
    help = ("Trust another installation's Ed25519 public key (base64 of the raw 32 bytes) for model weights it "
            "signed: recorded in the keyring as trusted-external (AERIE_TRUSTED_MODEL_KEYS does the same).")

    def add_arguments(self, parser):
        parser.add_argument("public_key", help="base64 of the raw 32-byte Ed25519 public key")
        parser.add_argument("--note", default="", help="whose key it is")

    def handle(self, *args, public_key, note, **options):
        try:
            row, seal = key_custody.trust(public_key, note=note)
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"trusted key {row.key_id} (trusted-external); audit chain sealed at link {seal.seq} "
                          f"with key {seal.key_id}")
