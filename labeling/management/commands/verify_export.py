import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import BaseCommand, CommandError

from labeling.exchange.exports import verify_archive
from labeling.models import Export
from labeling.provenance import bills


def _recorded_time(manifest_sha256: str):
    """When this installation finished the export (its own record of the signing time)."""
    return Export.objects.filter(manifest_sha256=manifest_sha256).values_list("finished_at", flat=True).first()


class Command(BaseCommand):
    help = ("Verify export archives: the manifest's Ed25519 signature (which key signed, and its state), every "
            "file's sha256, and the SBOM of the software that made it.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="export zip files")
        parser.add_argument("--public-key", help="base64 raw Ed25519 public key of the installation that made "
                                                   "it (default: the key of this keyring the manifest names)")

    def handle(self, *args, files, public_key, **options):
        key = None
        if public_key:
            try:
                key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
            except ValueError as exc:
                raise CommandError(f"--public-key: not a raw Ed25519 key ({exc})") from None
        failed = 0
        for path in files:
            try:
                with open(path, "rb") as fh:
                    report = verify_archive(fh, key, recorded_time=_recorded_time)
            except OSError as exc:
                raise CommandError(f"{path}: {exc}") from None
            if report.manifest and not report.problems:
                report.notes.append(bills.describe(report.manifest.get("sbom_sha256")))
            for n, line in enumerate(report.lines()):
                self.stdout.write(f"{path}: {line}" if n == 0 else line)
            failed += not report.ok
        if failed:
            raise CommandError(f"{failed} export archive(s) failed verification")
