"""Sign-in throttling: failed sign-ins are counted per username and per client address, in the
database (shared by every web process, no cache service needed). A key at its limit is locked
for AERIE_LOGIN_LOCKOUT_S; while locked, sign-in is refused before any password is checked.

Usernames are counted as typed (lower-cased), whether or not such a user exists, and the
refusal reads the same for both, so the lock reveals nothing about who has an account. The
price, as with every per-account lockout, is that someone can lock a known username out for a
while; the per-address limit is the one that stops guessing across many usernames."""
from __future__ import annotations

import datetime as dt
import ipaddress
import random

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from labeling.models import LoginThrottle


class LockedOut(PermissionDenied):
    """Raised by the authentication backend: no password is checked while a key is locked."""

    def __init__(self, until: dt.datetime):
        super().__init__(refusal(until))
        self.until = until


def refusal(until: dt.datetime) -> str:
    minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
    return (f"Too many failed sign-in attempts for this username or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


def client_ip(request) -> str:
    """The client's address: the connection's own, or with AERIE_PROXY_HOPS proxies in front,
    the address the outermost trusted proxy saw (counted from the right of X-Forwarded-For, so
    a client cannot choose it by sending the header itself)."""
    if request is None:
        return ""
    meta = request.META
    address = meta.get("REMOTE_ADDR", "")
    hops = settings.AERIE_PROXY_HOPS
    if hops > 0:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def _keys(request, username) -> list[tuple[str, int]]:
    keys = []
    if username:
        keys.append((f"user:{str(username).strip().lower()[:150]}", settings.AERIE_LOGIN_MAX_FAILURES))
    ip = client_ip(request)
    if ip:
        keys.append((f"ip:{ip}", settings.AERIE_LOGIN_MAX_FAILURES_PER_IP))
    return keys


def locked_until(request, username) -> dt.datetime | None:
    """When the lock on this username or address ends, if either is locked now."""
    keys = [k for k, _ in _keys(request, username)]
    if not keys:
        return None
    now = timezone.now()
    ends = LoginThrottle.objects.filter(key__in=keys, locked_until__gt=now).values_list("locked_until", flat=True)
    return max(ends, default=None)


_FAIL = """
INSERT INTO labeling_loginthrottle AS t (key, failures, window_start, locked_until)
VALUES (%(key)s, 1, %(now)s, CASE WHEN 1 >= %(limit)s THEN %(until)s END)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.window_start < %(cutoff)s THEN 1 ELSE t.failures + 1 END,
    window_start = CASE WHEN t.window_start < %(cutoff)s THEN %(now)s ELSE t.window_start END,
    locked_until = CASE WHEN (CASE WHEN t.window_start < %(cutoff)s THEN 1 ELSE t.failures + 1 END) >= %(limit)s
                        THEN %(until)s ELSE t.locked_until END
RETURNING failures >= %(limit)s AND locked_until = %(until)s
"""


def failed(request, username) -> list[str]:
    """Count one failed sign-in; returns the keys that this failure locked."""
    now = timezone.now()
    params = {"now": now, "cutoff": now - dt.timedelta(seconds=settings.AERIE_LOGIN_WINDOW_S),
              "until": now + dt.timedelta(seconds=settings.AERIE_LOGIN_LOCKOUT_S)}
    newly_locked = []
    with connection.cursor() as cur:
        for key, limit in _keys(request, username):
            cur.execute(_FAIL, {**params, "key": key, "limit": limit})
            if cur.fetchone()[0]:
                newly_locked.append(key)
        if random.random() < 0.02:  # forget old entries now and then
            cur.execute("DELETE FROM labeling_loginthrottle WHERE window_start < %s "
                        "AND (locked_until IS NULL OR locked_until < %s)", [params["cutoff"], now])
    return newly_locked


def succeeded(request, username) -> None:
    """A successful sign-in clears its username's count (not its address's: one valid account
    must not reset the count of guesses at others from the same address)."""
    keys = [k for k, _ in _keys(None, username)]
    if keys:
        LoginThrottle.objects.filter(key__in=keys).exclude(locked_until__gt=timezone.now()).delete()
