import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from labeling.access import key_custody, keyring


def _time(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--at: {text!r} is not an ISO time such as 2026-03-01T12:00:00+00:00") from None
    return at if timezone.is_aware(at) else at.replace(tzinfo=dt.timezone.utc)


class Command(BaseCommand):
    help = ("Revoke a signing key from a time on: signatures it made at or after that time fail verification "
            "(untrusted); older ones still verify, reported as 'signed by a key revoked later'. The active key "
            "is rotated out first (rotate_signing_key). Audited; the audit chain is sealed with the active key.")

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="the key's id (or a prefix of 6 characters or more)")
        parser.add_argument("--at", help="ISO time from which its signatures are untrusted (UTC when no zone is "
                                         "given; default: now)")
        parser.add_argument("--reason", required=True, help="why (printed with every signature the key made)")

    def handle(self, *args, key_id, at, reason, **options):
        when = _time(at) if at else timezone.now()
        try:
            row, seal = key_custody.revoke(key_id, at=when, reason=reason)
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"revoked key {row.key_id} from {row.revoked_at.isoformat()}: {row.revoked_reason}")
        self.stdout.write(f"audit chain sealed at link {seal.seq} with key {seal.key_id}")
