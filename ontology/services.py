"""Writes to the ontology: each goes through one function that validates, runs in a transaction
and announces itself (ontology.signals), which the audit trail records in that transaction."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .attributes import validate_schema
from .models import (
    ImmutableError,
    LabelClass,
    Ontology,
    OntologyMigration,
    OntologyVersion,
)
from .signals import announce


class OntologyError(ValueError):
    pass


@transaction.atomic
def create_ontology(name: str, *, description: str = "", user=None) -> OntologyVersion:
    """A new ontology with an empty draft version 1."""
    ontology = Ontology.objects.create(name=name, description=description)
    version = OntologyVersion.objects.create(ontology=ontology, number=1)
    announce(user, "ontology.create", version, {"name": name})
    return version


def add_class(version: OntologyVersion, *, key: str, name: str, kind: str = LabelClass.BOX, color: str = "#3b82f6",
              shortcut: str = "", sensitive: bool = False, attributes=None, order: int | None = None,
              redact: bool = False) -> LabelClass:
    if version.is_published:
        raise ImmutableError(f"{version} is published; derive a new version to change its classes")
    if kind not in dict(LabelClass.KIND_CHOICES):
        raise OntologyError(f"kind must be one of {[k for k, _ in LabelClass.KIND_CHOICES]}")
    label = LabelClass(
        version=version, key=key, name=name, kind=kind, color=color, shortcut=shortcut, sensitive=sensitive, redact=redact,
        attributes=validate_schema(attributes or []),
        order=order if order is not None else version.classes.count(),
    )
    label.full_clean()
    label.save()
    return label


@transaction.atomic
def publish(version: OntologyVersion, *, user=None) -> OntologyVersion:
    """Freeze a draft version. From now on neither the ORM nor SQL can change it."""
    version = OntologyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise OntologyError(f"{version} is already published")
    if not version.classes.exists():
        raise OntologyError(f"{version} has no label classes; add at least one before publishing")
    OntologyVersion.objects.filter(pk=version.pk).update(
        status=OntologyVersion.PUBLISHED, published_at=timezone.now(), published_by=user
    )
    version.refresh_from_db()
    announce(user, "ontology.publish", version, {"classes": list(version.classes.values_list("key", flat=True))})
    return version


@transaction.atomic
def derive(version: OntologyVersion, *, user=None, notes: str = "") -> OntologyVersion:
    """A new draft version with a copy of a published version's classes."""
    if not version.is_published:
        raise OntologyError("only a published version can be derived from")
    ontology = Ontology.objects.select_for_update(no_key=True).get(pk=version.ontology_id)
    number = (ontology.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = OntologyVersion.objects.create(ontology=ontology, number=number, derived_from=version, notes=notes)
    LabelClass.objects.bulk_create(
        LabelClass(version=draft, key=c.key, name=c.name, color=c.color, shortcut=c.shortcut, kind=c.kind,
                   sensitive=c.sensitive, redact=c.redact, attributes=c.attributes, order=c.order)
        for c in version.classes.all()
    )
    announce(user, "ontology.derive", draft, {"from": version.pk})
    return draft


def validate_mapping(from_version: OntologyVersion, to_version: OntologyVersion, mapping) -> dict:
    """Check an old→new class mapping. Every class of the old version must be named (a new key
    or null to drop) and map to a class of the same kind: nothing is dropped by omission."""
    if from_version.pk == to_version.pk:
        raise OntologyError("a migration goes between two different versions")
    if from_version.ontology_id != to_version.ontology_id:
        raise OntologyError("both versions must belong to the same ontology")
    if not (from_version.is_published and to_version.is_published):
        raise OntologyError("both versions must be published before annotations move between them")
    if not isinstance(mapping, dict):
        raise OntologyError("mapping must be an object {old_key: new_key or null}")
    old = {c.key: c for c in from_version.classes.all()}
    new = {c.key: c for c in to_version.classes.all()}
    unknown = set(mapping) - set(old)
    if unknown:
        raise OntologyError(f"mapping.{sorted(unknown)[0]} is not a class of {from_version}")
    missing = set(old) - set(mapping)
    if missing:
        raise OntologyError(f"mapping has no entry for '{sorted(missing)[0]}': map it or set it to null to drop it")
    for old_key, new_key in mapping.items():
        if new_key is None:
            continue
        if new_key not in new:
            raise OntologyError(f"mapping.{old_key}: '{new_key}' is not a class of {to_version}")
        if new[new_key].kind != old[old_key].kind:
            raise OntologyError(
                f"mapping.{old_key}: kind {old[old_key].kind} cannot become {new[new_key].kind} ('{new_key}')"
            )
    return mapping


@transaction.atomic
def create_migration(from_version, to_version, mapping, *, user=None) -> OntologyMigration:
    mapping = validate_mapping(from_version, to_version, mapping)
    migration = OntologyMigration.objects.create(
        from_version=from_version, to_version=to_version, mapping=mapping, created_by=user
    )
    announce(user, "ontology.migration.create", migration, {"mapping": mapping})
    return migration


def change_class(label: LabelClass, **changes) -> LabelClass:
    """Change a class of a draft version (a published version's classes never change)."""
    check_draft(label.version)
    for name, value in changes.items():
        setattr(label, name, value)
    label.attributes = validate_schema(label.attributes or [])
    check_draft(label.version)  # the class may have been moved to another version: that one too
    label.save()
    return label


def remove_class(label: LabelClass) -> None:
    """Remove a class from a draft version."""
    check_draft(label.version)
    label.delete()


def check_draft(version: OntologyVersion) -> None:
    if version.is_published:
        raise ImmutableError(f"{version} is published; derive a new version to change its classes")
