"""Train the demo's first model on the stand-ins' approved history and make it current (once)."""
from django.core.management.base import BaseCommand, CommandError

from labeling.demo import first_model
from labeling.sampling.training import TrainingError


class Command(BaseCommand):
    help = "Train the demo's first detector on its approved frames and make it current. Does nothing once one exists."

    def add_arguments(self, parser):
        parser.add_argument("--epochs", type=int, help="training epochs (default: the training defaults)")
        parser.add_argument("--image-size", type=int, help="longest image side for training")

    def handle(self, *args, epochs=None, image_size=None, **options):
        try:
            model, note = first_model.train(epochs=epochs, image_size=image_size)
        except TrainingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(note)
        if model is None and "training run" in note:
            raise CommandError(note)
