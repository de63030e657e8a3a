import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.access import keyring
from labeling.provenance import bills


class Command(BaseCommand):
    help = ("Write the CycloneDX SBOM (JSON) of the running installation: installed Python packages, aerie's "
            "version and git commit, the PostgreSQL server. It is kept (content-addressed, sha256 recorded) and "
            "signed with the active key; the detached signature goes beside it as <out>.sig. With --verify, "
            "check an SBOM file against its signature instead.")

    def add_arguments(self, parser):
        parser.add_argument("--out", default="aerie-sbom.cdx.json", help="where to write it (default: %(default)s)")
        parser.add_argument("--sha256", help="write the kept SBOM with this sha256 (the one an export's manifest or "
                                             "a model's lineage names) instead of the running software's")
        parser.add_argument("--verify", metavar="SBOM", help="check this SBOM file against SBOM.sig")
        parser.add_argument("--signature", metavar="SIG", help="with --verify: the signature file (default SBOM.sig)")

    def handle(self, *args, out, sha256, verify, signature, **options):
        if verify:
            return self._verify(Path(verify), Path(signature) if signature else None)
        try:
            row = bills.kept(sha256) if sha256 else bills.current()
            sig = bills.write(row, Path(out))
        except (keyring.KeyringError, bills.SbomError, OSError) as exc:
            raise CommandError(str(exc)) from None
        commit = f" commit {row.git_commit}" if row.git_commit else ""
        self.stdout.write(f"SBOM {row.sha256} ({row.packages} packages; aerie {row.aerie_version}{commit}; "
                          f"PostgreSQL {row.postgres_version})")
        self.stdout.write(f"written to {out}, signature (key {row.key_id}) to {sig}")

    def _verify(self, path: Path, sig_path: Path | None):
        sig_path = sig_path or path.with_name(path.name + ".sig")
        try:
            data = path.read_bytes()
            doc = json.loads(sig_path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{exc}") from None
        result = bills.check(data, doc)
        self.stdout.write(f"{path}: {'OK' if result.ok else 'FAILED'} (sha256 {result.sha256}"
                          f"{', kept by this installation' if result.stored else ''})")
        if result.signed_by:
            self.stdout.write(f"  {result.signed_by}")
        for problem in result.problems:
            self.stdout.write(f"  problem: {problem}")
        if not result.ok:
            raise CommandError(f"{path} failed verification")
