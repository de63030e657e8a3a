from django.core.management.base import BaseCommand, CommandError

from labeling.footage.dataset_versions import verify_version
from labeling.models import DatasetVersion, DerivedDatasetVersion


class Command(BaseCommand):
    help = ("Verify dataset versions against their signed manifests: signature, and every frame file; "
            "raw versions first, then derived (redacted) versions.")

    def add_arguments(self, parser):
        parser.add_argument("version_ids", nargs="*", type=int, help="DatasetVersion ids (default: all)")
        parser.add_argument("--dataset", help="only versions of this dataset (name)")
        parser.add_argument("--derived", nargs="*", type=int, metavar="ID",
                            help="DerivedDatasetVersion ids (default: all, unless raw version ids are given)")

    def handle(self, *args, version_ids, dataset, derived, **options):
        from labeling.redaction.versions import verify_derived

        versions = DatasetVersion.objects.select_related("dataset").order_by("dataset__name", "number")
        derived_versions = DerivedDatasetVersion.objects.select_related("dataset", "raw_version").order_by(
            "dataset__name", "number")
        if version_ids:
            versions = versions.filter(pk__in=version_ids)
            found = set(versions.values_list("pk", flat=True))
            missing = sorted(set(version_ids) - found)
            if missing:
                raise CommandError(f"no dataset version with id {missing[0]}")
        if derived:
            derived_versions = derived_versions.filter(pk__in=derived)
            missing = sorted(set(derived) - set(derived_versions.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"no derived dataset version with id {missing[0]}")
        if derived is not None and not version_ids:
            versions = versions.none()  # only the derived versions asked for
        if version_ids and derived is None:
            derived_versions = derived_versions.none()
        if dataset:
            versions = versions.filter(dataset__name=dataset)
            derived_versions = derived_versions.filter(dataset__name=dataset)
        if not versions.exists() and not derived_versions.exists():
            raise CommandError("no dataset versions to verify")
        failed = 0
        for version in versions:
            report = verify_version(version)
            for line in report.lines():
                self.stdout.write(line)
            failed += not report.ok
        for version in derived_versions:
            report = verify_derived(version)
            for line in report.lines():
                self.stdout.write(line)
            failed += not report.ok
        if failed:
            raise CommandError(f"{failed} dataset version(s) failed verification")
