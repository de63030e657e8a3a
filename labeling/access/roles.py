"""Roles are Django groups with model permissions; visibility follows project membership.

Admins (the 'admin' group, or Django superusers) manage datasets, ontologies, projects and
users and can see every project. Everyone else sees only the projects they are members of,
and the datasets, sequences and frames of those projects."""
from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

ANNOTATOR = "annotator"
QA_LEAD = "qa_lead"
TRAINER = "trainer"
ADMIN = "admin"
ROLES = [ANNOTATOR, QA_LEAD, TRAINER, ADMIN]
ROLE_LABELS = {ANNOTATOR: "Annotator", QA_LEAD: "QA lead", TRAINER: "Trainer", ADMIN: "Admin"}

_VIEW = [
    "labeling.view_dataset", "labeling.view_sequence", "labeling.view_frame", "labeling.view_project",
    "ontology.view_ontology", "ontology.view_ontologyversion", "ontology.view_labelclass",
]
_MANAGE_MODELS = {
    "labeling": ["dataset", "sequence", "ingestjob", "datasetversion", "project", "membership", "legalhold"],
    "ontology": ["ontology", "ontologyversion", "labelclass", "ontologymigration"],
}

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ANNOTATOR: _VIEW + ["labeling.add_annotation", "labeling.view_annotation"],
    QA_LEAD: _VIEW + ["labeling.add_annotation", "labeling.view_annotation", "labeling.view_ingestjob",
                      "labeling.view_auditevent", "labeling.view_reviewitem", "labeling.change_reviewitem",
                      "labeling.add_goldframe"],
    TRAINER: _VIEW + ["labeling.view_annotation", "labeling.view_datasetversion", "labeling.view_ingestjob",
                      "labeling.add_datasetversion", "labeling.view_modelversion", "labeling.add_modelversion",
                      "labeling.change_modelversion",
                      "labeling.add_export", "labeling.view_export"],
    ADMIN: _VIEW + ["labeling.view_annotation", "labeling.view_auditevent", "labeling.view_reviewitem",
                    "labeling.change_reviewitem", "labeling.add_goldframe", "labeling.view_modelversion",
                    "labeling.add_modelversion", "labeling.change_modelversion", "labeling.approve_modelversion",
                    "labeling.add_export", "labeling.view_export", "labeling.view_retentionrun",
                    "labeling.view_tombstone", "labeling.view_signingkey", "labeling.view_softwarebill"] + [
        f"{app}.{action}_{model}"
        for app, models in _MANAGE_MODELS.items()
        for model in models
        for action in ("add", "change", "view")
    ] + ["ontology.delete_labelclass", "labeling.delete_membership"],
}


def ensure_roles() -> None:
    """Create the four role groups with their permissions (idempotent)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in sorted(set(perms)):
            app_label, codename = perm.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    from labeling.access.cache import cached

    names = cached("groups", user.pk, lambda: {g.name for g in user.groups.all()})
    for role in (ADMIN, TRAINER, QA_LEAD, ANNOTATOR):
        if role in names:
            return role
    return None


def is_admin(user) -> bool:
    return role_of(user) == ADMIN


def can_review(user) -> bool:
    """QA leads and admins work the review queue, mark gold frames and see quality figures."""
    return getattr(user, "is_authenticated", False) and user.has_perm("labeling.change_reviewitem")


def can_manage_models(user) -> bool:
    """Trainers and admins register models and choose the current one."""
    return getattr(user, "is_authenticated", False) and user.has_perm("labeling.add_modelversion")


def can_export(user) -> bool:
    """Trainers and admins export annotations (and download exports)."""
    return getattr(user, "is_authenticated", False) and user.has_perm("labeling.add_export")


def can_import(user) -> bool:
    """Admins and QA leads import annotations made elsewhere (pre-labels, gold, an annotator's work).
    Trainers never change annotations, so they do not import."""
    return can_review(user)


def visible_projects(user) -> QuerySet:
    from labeling.models import Project

    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    if is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def visible_project(user, project_id):
    """One project if this person may see it, from the per-process cache (see labeling.access.cache)."""
    from labeling.access.cache import cached

    try:
        key = (user.pk, int(project_id))
    except (TypeError, ValueError):
        return None
    return cached("project", key, lambda: visible_projects(user).filter(pk=key[1]).first())


def visible_datasets(user) -> QuerySet:
    from labeling.models import Dataset

    if is_admin(user):
        return Dataset.objects.all()
    return Dataset.objects.filter(projects__in=visible_projects(user)).distinct()


def visible_ontology_versions(user) -> QuerySet:
    from ontology.models import OntologyVersion

    if is_admin(user):
        return OntologyVersion.objects.all()
    return OntologyVersion.objects.filter(
        Q(ontology__versions__projects__in=visible_projects(user))
    ).distinct()
