from django.core.management.base import BaseCommand, CommandError

from labeling.access import keyring


def _at(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S %Z}" if value else "-"


class Command(BaseCommand):
    help = ("List the signing keyring: every key with its state (active, retired, revoked, trusted-external), "
            "dates, whether this machine holds its private key, and its public key (base64).")

    def handle(self, *args, **options):
        try:
            keyring.ensure()
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("key id            state             origin    created                  activated"
                          "                retired                  revoked                  private key here  public key")
        for row in keyring.SigningKey.objects.order_by("created_at", "id"):
            here = "yes" if row.origin == row.OWN and keyring.private_key_for(row.key_id) else "no"
            self.stdout.write(f"{row.key_id:<17} {row.state:<17} {row.origin:<9} {_at(row.created_at):<24} "
                              f"{_at(row.activated_at):<24} {_at(row.retired_at):<24} {_at(row.revoked_at):<24} "
                              f"{here:<17} {row.public_key}"
                              + (f"  revoked: {row.revoked_reason}" if row.revoked_reason else ""))
