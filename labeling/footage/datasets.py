"""Datasets are created and changed here, whoever asks (the API, the Django admin, the demo): the
audit event, and the sensitivity flag when a dataset becomes sensitive, live in one place."""
from __future__ import annotations

from django.db import transaction

from labeling import audit
from labeling.models import Dataset
from labeling.protection import flags


def save_dataset(dataset: Dataset, user, *, note: str = "marked sensitive") -> Dataset:
    """Save a new or changed dataset (its fields set by the caller). A dataset that becomes
    sensitive (created so, or changed to it) makes its frames sensitive, with a flag that says who
    and why; un-marking a dataset never un-flags frames."""
    creating = dataset.pk is None
    with transaction.atomic():
        was_sensitive = not creating and Dataset.objects.filter(pk=dataset.pk, sensitive=True).exists()
        if creating and dataset.created_by_id is None and getattr(user, "is_authenticated", False):
            dataset.created_by = user
        dataset.save()
        audit.record(user, "dataset.create" if creating else "dataset.update", dataset,
                     {"name": dataset.name, "sensitive": dataset.sensitive,
                      "raw_retention_days": dataset.raw_retention_days,
                      "derived_retention_days": dataset.derived_retention_days})
        if dataset.sensitive and not was_sensitive:
            flags.mark_dataset(dataset, user, note)
    return dataset
