"""Per-process caches of who may do what, so that the hot paths (next frame, submit) do not ask
the database for a person's groups, permissions, token and project on every request (the
authentication backends that read through it are in labeling.access.backends).

Entries live a few seconds (AERIE_PERMISSION_CACHE_SECONDS) and are dropped at once in this
process when group memberships or group permissions change; other processes see a change
within the TTL."""
from __future__ import annotations

import random
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

_cache: dict[tuple, tuple[float, object]] = {}


def _expiry(now: float) -> float:
    """Entries live between half the TTL and the TTL: entries filled together (every annotator
    at start-up) do not all expire in the same instant and come back as one burst of queries."""
    return now + settings.AERIE_PERMISSION_CACHE_SECONDS * random.uniform(0.5, 1.0)


def cached(kind: str, key, compute):
    now = time.monotonic()
    hit = _cache.get((kind, key))
    if hit and hit[0] > now:
        return hit[1]
    value = compute()
    _cache[(kind, key)] = (_expiry(now), value)
    return value


def forget(kind: str, key) -> None:
    """Drop one entry (this process) after a change that makes it stale."""
    _cache.pop((kind, key), None)


def clear(*_, **__) -> None:
    _cache.clear()


User = get_user_model()
m2m_changed.connect(clear, sender=User.groups.through, dispatch_uid="aerie-auth-groups")
m2m_changed.connect(clear, sender=User.user_permissions.through, dispatch_uid="aerie-auth-user-perms")
m2m_changed.connect(clear, sender=Group.permissions.through, dispatch_uid="aerie-auth-group-perms")


@receiver([post_save, post_delete], sender=User, dispatch_uid="aerie-auth-user-saved")
def _user_changed(sender, **kwargs):
    clear()


def _connect_project_signals():
    from labeling.models import Membership, Project

    for model in (Membership, Project):
        post_save.connect(clear, sender=model, dispatch_uid=f"aerie-auth-{model.__name__}-saved")
        post_delete.connect(clear, sender=model, dispatch_uid=f"aerie-auth-{model.__name__}-deleted")


_connect_project_signals()


@receiver(post_delete, sender=Token, dispatch_uid="aerie-auth-token-deleted")
def _token_deleted(sender, **kwargs):
    clear()
