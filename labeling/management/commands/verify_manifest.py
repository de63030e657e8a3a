from django.core.management.base import BaseCommand, CommandError

from labeling.footage.dataset_versions import verify_version
from labeling.models import DatasetVersion


class Command(BaseCommand):
    help = "Verify dataset versions against their signed manifests: signature, and every frame file."

    def add_arguments(self, parser):
        parser.add_argument("version_ids", nargs="*", type=int, help="DatasetVersion ids (default: all)")
        parser.add_argument("--dataset", help="only versions of this dataset (name)")

    def handle(self, *args, version_ids, dataset, **options):
        versions = DatasetVersion.objects.select_related("dataset").order_by("dataset__name", "number")
        if version_ids:
            versions = versions.filter(pk__in=version_ids)
            found = set(versions.values_list("pk", flat=True))
            missing = sorted(set(version_ids) - found)
            if missing:
                raise CommandError(f"no dataset version with id {missing[0]}")
        if dataset:
            versions = versions.filter(dataset__name=dataset)
        if not versions.exists():
            raise CommandError("no dataset versions to verify")
        failed = 0
        for version in versions:
            report = verify_version(version)
            for line in report.lines():
                self.stdout.write(line)
            failed += not report.ok
        if failed:
            raise CommandError(f"{failed} dataset version(s) failed verification")
