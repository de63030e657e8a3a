"""Each project's protection policy, and whether a project has sensitive frames at all (the
queue keeps its one-statement path for projects that have none)."""
from __future__ import annotations

from django.conf import settings
from django.db import connection

from labeling.access import cache
from labeling.models import Project, ProtectionPolicy


def policy_for(project: Project | int) -> ProtectionPolicy:
    """The project's saved policy, or the defaults (unsaved) if it has none. Cached per process
    for a few seconds (labeling.access.cache), like permissions: it is read on every lease."""
    project_id = project if isinstance(project, int) else project.pk

    def load():
        return ProtectionPolicy.objects.filter(project_id=project_id).first() or ProtectionPolicy(
            project_id=project_id)

    return cache.cached("protection-policy", project_id, load)


def save_policy(policy: ProtectionPolicy, user=None) -> ProtectionPolicy:
    from labeling import audit

    policy.full_clean()
    policy.save()
    cache.forget("protection-policy", policy.project_id)
    audit.record(user, "protection.policy", policy, {
        f.name: getattr(policy, f.attname) for f in ProtectionPolicy._meta.concrete_fields
        if f.name not in ("project", "updated_at")})
    return policy


def blur_radius(project: Project | int | None) -> float:
    """The blur of sensitive previews: the project's, else the installation's default."""
    default = float(settings.AERIE_PREVIEW_BLUR_RADIUS)
    if project is None:
        return default
    radius = policy_for(project).blur_radius
    return float(radius) if radius else default


def consent_version() -> str:
    """The version of the protection notice a person opts in to; a new version asks again."""
    return settings.AERIE_PROTECTION_POLICY_VERSION


def has_sensitive(project_id: int) -> bool:
    """Does the project's dataset hold any sensitive frame? Asked on every lease: cached per
    process for a few seconds and answered by a partial index (frame_sensitive_idx)."""
    def ask():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT EXISTS (SELECT 1 FROM labeling_frame f
                               JOIN labeling_sequence s ON s.id = f.sequence_id
                               JOIN labeling_project p ON p.dataset_id = s.dataset_id
                               WHERE p.id = %s AND f.sensitive)
                """,
                [project_id],
            )
            return cur.fetchone()[0]

    return cache.cached("has-sensitive", project_id, ask)


def forget_sensitive(project_ids) -> None:
    for project_id in project_ids:
        cache.forget("has-sensitive", project_id)
