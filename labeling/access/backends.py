"""Authentication that reads through the per-process caches (labeling.access.cache): Django's
model backend, which also refuses a locked-out sign-in before any password check, and DRF's token
authentication."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from rest_framework.authentication import TokenAuthentication

from labeling.access import signin_guard
from labeling.access.cache import cached


class CachedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        """Refuse, before any password check, while this username or address is locked out
        (labeling.access.signin_guard); Django then reports a failed sign-in."""
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        until = signin_guard.locked_until(request, name)
        if until is not None:
            raise signin_guard.LockedOut(until)
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        return cached("perms", user_obj.pk, lambda: super(CachedModelBackend, self).get_all_permissions(user_obj))


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with the token → user lookup cached like permissions: a
    labeling client sends a request every few seconds, each would otherwise cost a query.
    Deleting a token or deactivating a user drops the cache in this process at once."""

    def authenticate_credentials(self, key):
        return cached("token", key, lambda: super(CachedTokenAuthentication, self).authenticate_credentials(key))
