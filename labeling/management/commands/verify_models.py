from django.core.management.base import BaseCommand, CommandError

from labeling.models import ModelVersion
from labeling.sampling import registry


class Command(BaseCommand):
    help = ("Verify stored model versions: each weights file's sha256 and its signature, saying which key signed "
            "and that key's state as of the registration.")

    def add_arguments(self, parser):
        parser.add_argument("version_ids", nargs="*", type=int, help="ModelVersion ids (default: all)")

    def handle(self, *args, version_ids, **options):
        versions = ModelVersion.objects.order_by("pk")
        if version_ids:
            versions = versions.filter(pk__in=version_ids)
            missing = sorted(set(version_ids) - set(versions.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"no model version with id {missing[0]}")
        if not versions.exists():
            raise CommandError("no model versions to verify")
        failed = 0
        for version in versions:
            verdict = registry.verify_version(version)
            lineage = version.lineage or {}
            sbom, registered = lineage.get("sbom_sha256"), lineage.get("registered_with_sbom_sha256")
            self.stdout.write(f"model version {version.pk} ({version.architecture} {version.sha256[:12]}): "
                              f"{'OK' if verdict.ok else 'FAILED'}")
            self.stdout.write(f"  {verdict.describe()}")
            if sbom:
                self.stdout.write(f"  made by the software of SBOM {sbom}")
            elif registered:
                self.stdout.write(f"  registered with the software of SBOM {registered} (weights made elsewhere)")
            failed += not verdict.ok
        if failed:
            raise CommandError(f"{failed} model version(s) failed verification")
