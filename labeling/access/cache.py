"""Per-process caches of who may do what, so that the hot paths (next frame, submit) do not ask
the database for a person's groups, permissions, token and project on every request.

Entries live a few seconds (AERIE_PERMISSION_CACHE_SECONDS) and are dropped at once in this
process when group memberships or group permissions change; other processes see a change
within the TTL."""
from __future__ import annotations

import random
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import TokenAuthentication
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
    _tokens.clear()


class CachedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """Refuse, before any password check, while this username or address is locked out
        (labeling.loginguard); Django then reports a failed sign-in."""
        from labeling.access import signin_guard

        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        until = signin_guard.locked_until(request, name)
        if until is not None:
            raise signin_guard.LockedOut(until)
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        return cached("perms", user_obj.pk, lambda: super(CachedModelBackend, self).get_all_permissions(user_obj))


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


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with the token → user lookup cached like permissions: a
    labeling client sends a request every few seconds, each would otherwise cost a query.
    Deleting a token or deactivating a user drops the cache in this process at once."""

    def authenticate_credentials(self, key):
        now = time.monotonic()
        hit = _tokens.get(key)
        if hit and hit[0] > now:
            return hit[1]
        result = super().authenticate_credentials(key)
        _tokens[key] = (_expiry(now), result)
        return result


_tokens: dict[str, tuple[float, tuple]] = {}


@receiver(post_delete, sender=Token, dispatch_uid="aerie-auth-token-deleted")
def _token_deleted(sender, **kwargs):
    _tokens.clear()
