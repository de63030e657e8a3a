from django.core.management.base import BaseCommand, CommandError

from labeling.audit import chain


class Command(BaseCommand):
    help = ("Walk the audit hash chain: every link follows the previous one and matches its event, every event "
            "is chained, and every signed head (seal) verifies and matches the chain. Reports the first broken link.")

    def add_arguments(self, parser):
        parser.add_argument("--seal", action="store_true", help="sign the current head afterwards (if it verified)")

    def handle(self, *args, seal, **options):
        report = chain.verify()
        self.stdout.write(f"audit chain: {report.links} link(s) verified, head {report.head_seq} "
                          f"{report.head_hash[:16]}…; {report.seals} seal(s) verified"
                          + (f", the last at link {report.last_sealed_seq}" if report.last_sealed_seq else ""))
        for described in report.signers.values():
            self.stdout.write(f"seals signed by {described}")
        for warning in report.warnings:
            self.stdout.write(f"WARNING: {warning}")
        if not report.ok:
            if report.broken_at is not None:
                self.stdout.write(f"FIRST BROKEN LINK: {report.broken_at}")
            for problem in report.problems:
                self.stdout.write(f"BROKEN: {problem}")
            raise CommandError(f"the audit trail failed verification ({len(report.problems)} problem(s))")
        if seal:
            made = chain.seal()
            if made is not None:
                self.stdout.write(f"sealed link {made.seq} ({made.hash[:16]}…) with key {made.key_id}")
        self.stdout.write("OK")
