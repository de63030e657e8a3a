from django.core.management.base import BaseCommand, CommandError

from labeling.access import key_custody, keyring


class Command(BaseCommand):
    help = ("Make a new active Ed25519 signing key; the active key becomes retired (what it signed keeps "
            "verifying). The new private key is written to AERIE_SIGNING_KEY_DIR as <key id>.pem (mode 0600): "
            "every machine that signs (web servers, workers) needs it there. The change is audited and the "
            "audit chain sealed with the new key.")

    def add_arguments(self, parser):
        parser.add_argument("--private-key", metavar="PEM",
                            help="use this Ed25519 private key (made and copied to every machine beforehand) "
                                 "instead of making one")
        parser.add_argument("--note", default="", help="why (kept with the key and in the audit event)")

    def handle(self, *args, private_key, note, **options):
        try:
            new, old, seal = key_custody.rotate(private_key_file=private_key, note=note)
        except (keyring.KeyringError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"retired key {old.key_id} (made {old.created_at:%Y-%m-%d %H:%M:%S %Z})")
        self.stdout.write(f"active key {new.key_id}: private key {keyring.key_path(new.key_id)}")
        self.stdout.write(f"audit chain sealed at link {seal.seq} with key {seal.key_id}")
        self.stdout.write(f"Copy {new.key_id}.pem into AERIE_SIGNING_KEY_DIR on every machine that signs, unless "
                          "that directory is shared storage.")
