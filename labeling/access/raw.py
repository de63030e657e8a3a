"""Raw access: who may receive a dataset's raw frames. An admin grants it to a named person for
one dataset, with a reason and an expiry, and may revoke it; each grant, revocation and use is an
audit event. Without a live grant, every image aerie serves that person (pages, thumbnails,
previews, the API, exports) is the derived rendition (labeling.redaction).

`holds` is asked for every image served, so it is cached per process for a few seconds
(labeling.access.cache); a grant or revocation drops the entry in this process at once, others
see it within AERIE_PERMISSION_CACHE_SECONDS."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.audit import reasons
from labeling.access import cache, roles
from labeling.models import Dataset, RawAccessGrant

MAX_DAYS = 366  # a grant is for a task, not forever: renew it with a new reason
MAX_REASON = 2000


class GrantError(reasons.FieldError):
    """The request is refused, naming the field; nothing changed."""


def _reason(value, field: str = "reason") -> str:
    return reasons.required(value, GrantError, field, MAX_REASON)


def may_grant(user) -> bool:
    return roles.role_of(user) == roles.ADMIN


def grant(dataset: Dataset, person, by, reason, expires_at: datetime) -> RawAccessGrant:
    """Grant `person` raw access to `dataset` until `expires_at` (in the future, within MAX_DAYS)."""
    reason = _reason(reason)
    now = timezone.now()
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise GrantError("expires_at", "a date and time with a time zone")
    if expires_at <= now:
        raise GrantError("expires_at", "must be in the future")
    if expires_at > now + timedelta(days=MAX_DAYS):
        raise GrantError("expires_at", f"at most {MAX_DAYS} days from now")
    if not get_user_model().objects.filter(pk=getattr(person, "pk", None), is_active=True).exists():
        raise GrantError("user", "an active account")
    with transaction.atomic():
        made = RawAccessGrant.objects.create(dataset=dataset, user=person, granted_by=by, reason=reason,
                                             expires_at=expires_at)
        audit.record(by, "raw.grant", made, {"dataset": dataset.pk, "user": person.pk, "reason": reason,
                                             "expires_at": expires_at.isoformat()})
    cache.forget("raw", (person.pk, dataset.pk))
    return made


def revoke(made: RawAccessGrant, by, reason) -> RawAccessGrant:
    reason = _reason(reason)
    with transaction.atomic():
        made = RawAccessGrant.objects.select_for_update().get(pk=made.pk)
        if made.revoked_at is not None:
            raise GrantError("grant", "already revoked")
        made.revoked_at, made.revoked_by, made.revoke_reason = timezone.now(), by, reason
        made.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit.record(by, "raw.revoke", made, {"dataset": made.dataset_id, "user": made.user_id, "reason": reason})
    cache.forget("raw", (made.user_id, made.dataset_id))
    return made


def live(user_id: int, dataset_id: int):
    return RawAccessGrant.objects.filter(user_id=user_id, dataset_id=dataset_id, revoked_at__isnull=True,
                                         expires_at__gt=timezone.now())


def holds(user, dataset_id: int) -> bool:
    """Does `user` hold raw access to the dataset now? (Cached a few seconds per process; an
    expiry inside that window is honoured by keeping the grant's expiry in the cache.)"""
    if not getattr(user, "is_authenticated", False):
        return False
    until = cache.cached("raw", (user.pk, dataset_id),
                         lambda: live(user.pk, dataset_id).order_by("-expires_at").values_list(
                             "expires_at", flat=True).first())
    return until is not None and until > timezone.now()


def used(user, dataset_id: int, what: str, obj) -> None:
    """Record one use of raw access (a raw export, a raw original served)."""
    audit.record(user, "raw.use", obj, {"dataset": dataset_id, "what": what})
