from django.core.management.base import BaseCommand, CommandError

from labeling.custody import retention
from labeling.models import Dataset


class Command(BaseCommand):
    help = ("Apply the datasets' retention policies: --preview says what would be deleted (nothing is); --run "
            "deletes the files that are due, keeping a tombstone of each. Legal holds suspend deletion.")

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--preview", action="store_true", help="count what a run would delete now")
        mode.add_argument("--run", action="store_true", help="delete what is due (here, not in a worker)")
        parser.add_argument("--dataset", help="only this dataset (name)")

    def handle(self, *args, preview, run, dataset, **options):
        target = None
        if dataset:
            target = Dataset.objects.filter(name=dataset).first()
            if target is None:
                raise CommandError(f"no dataset named {dataset!r}")
        if preview:
            report = retention.preview(target)
            scope = f"dataset '{target.name}'" if target else "every dataset"
            self.stdout.write(f"retention preview ({scope}): nothing deleted")
            for kind in retention.KINDS:
                r = report[kind]
                self.stdout.write(f"  {kind}: {r['files']} file(s), {r['bytes']:,} bytes of {r['frames']} frame(s) in "
                                  f"{r['sequences']} sequence(s); {r['shared_kept']} file(s) kept (still needed "
                                  f"by another dataset)")
            for label in report["held"]:
                self.stdout.write(f"  held: {label} (a legal hold suspends its deletion)")
            for label in report["waiting_for_derived"]:
                self.stdout.write(f"  waiting: {label} (raw frames go once every frame has a derived rendition)")
            return
        made = retention.start(target, reason="command")
        if made is None:
            raise CommandError("another retention run is going; try again when it has finished")
        made = retention.run(made.pk)
        self.stdout.write(f"retention run {made.pk}: {made.status}; {made.message}")
