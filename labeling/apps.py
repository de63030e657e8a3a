from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs):
    from labeling.access.roles import ensure_roles

    ensure_roles()


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self):
        from labeling.access import cache  # noqa: F401 - connects the permission-cache invalidation
        from labeling.audit import signals  # noqa: F401 - audits sign-ins and admin changes
        from labeling.quality import frame_scoring, gold
        from labeling.work import queue
        from labeling.work.submissions import annotation_submitted

        annotation_submitted.connect(frame_scoring.on_submitted, dispatch_uid="aerie-quality")
        from labeling.protection.gate import ProtectionGate, unengaged_sensitive

        if not any(isinstance(p, gold.GoldPolicy) for p in queue._policies):
            queue.register_policy(gold.GoldPolicy())
        if not any(isinstance(p, ProtectionGate) for p in queue._policies):
            queue.register_policy(ProtectionGate())
        queue.sensitive_check = unengaged_sensitive

        post_migrate.connect(_ensure_roles, sender=self)
