"""The labeling app. `ready` is where its parts are connected: signal receivers, and the queue's
policies (the queue, lower down, knows none of them by name)."""
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
        from labeling.footage import checks  # registers the data key check (encryption at rest)
        from labeling.protection.gate import ProtectionGate, unengaged_sensitive
        from labeling.quality import frame_scoring, gold
        from labeling.work import policies
        from labeling.work.submissions import annotation_submitted

        # a completing submission gets its agreement computed (labeling.quality.frame_scoring)
        annotation_submitted.connect(frame_scoring.on_submitted, dispatch_uid="aerie-quality")
        # the queue's rules: gold frames mixed in, annotator protection (labeling.work.policies)
        policies.register(gold.GoldPolicy())
        policies.register(ProtectionGate())
        policies.sensitive_check = unengaged_sensitive

        post_migrate.connect(_ensure_roles, sender=self)
        checks.log_at_start()  # raw footage stored in the clear is said once per process
