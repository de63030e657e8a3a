from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs):
    from .roles import ensure_roles

    ensure_roles()


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self):
        from . import auth  # noqa: F401 - connects the permission-cache invalidation

        post_migrate.connect(_ensure_roles, sender=self)
