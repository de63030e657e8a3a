"""Audit events nobody calls record() for: sign-ins (session or API token), sign-outs, failed
sign-ins and lockouts (Django's auth signals), every change made in Django's admin (its
LogEntry, which knows who did it), e.g. users, roles and policies, and the ontology's writes
(ontology.signals: the ontology app sits below labeling and does not import it)."""
from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db.models.signals import post_save
from django.dispatch import receiver

from labeling.access import signin_guard
from labeling.audit import record
from ontology.signals import changed as ontology_changed

_ADMIN_VERBS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


@receiver(user_logged_in, dispatch_uid="aerie-audit-login")
def _logged_in(sender, request, user, **kwargs):
    signin_guard.succeeded(request, user.get_username())
    record(user, "auth.login", user, {"ip": signin_guard.client_ip(request), "via": getattr(request, "aerie_via",
                                                                                       "session")})


@receiver(user_logged_out, dispatch_uid="aerie-audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(user, "auth.logout", user, {"ip": signin_guard.client_ip(request)})


@receiver(user_login_failed, dispatch_uid="aerie-audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")[:150]
    if signin_guard.locked_until(request, username):
        return  # refused before any password check: counted when the lock began, not again
    ip = signin_guard.client_ip(request)
    locked = signin_guard.failed(request, username)
    record(None, "auth.login_failed", None, {"username": username, "ip": ip})
    for key in locked:
        record(None, "auth.lockout", None, {"key": key.split(":", 1)[0], "username": username, "ip": ip})


@receiver(post_save, sender=LogEntry, dispatch_uid="aerie-audit-admin")
def _admin_change(sender, instance: LogEntry, created, **kwargs):
    if not created:
        return
    content_type = instance.content_type
    record(instance.user, _ADMIN_VERBS.get(instance.action_flag, "admin.change"), None,
           {"object": instance.object_repr, "change": instance.get_change_message()[:2000]},
           object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
           object_id=instance.object_id or "")


@receiver(ontology_changed, dispatch_uid="aerie-audit-ontology")
def _ontology_changed(sender, actor, verb, obj, data, **kwargs):
    """Ontologies created, versions published and derived, migrations defined."""
    record(actor, verb, obj, data)
