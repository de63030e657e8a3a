"""Walk the permission matrix (tests/permission_matrix.py) over every URL pattern of the URL conf:
the DRF router's, the other API views', the pages' and the admin's. A pattern without an entry in
the matrix fails; so does an API method the view answers that the matrix does not list.

Every request is made by every role (anonymous, annotator, QA lead, trainer, admin, and an outsider
who holds every non-admin role in another project) against one world (tests/permission_world.py)
built once for this module, each request in a savepoint rolled back after it, so one role's write
never changes what the next role sees. For an outsider, the answer on this project's objects must
be the answer on ids that do not exist: nothing leaks whether an object exists.

`PERMISSION_MATRIX_RECORD=1 pytest tests/test_permission_matrix.py -s` prints what each pattern
answers, in the matrix's notation (to review, never to paste blindly)."""
from __future__ import annotations

import os
import re

import pytest
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from labeling.access import cache
from tests import permission_matrix as pm
from tests import permission_world
from tests.permission_world import isolated_media, world  # noqa: F401 - fixtures

RECORD = os.environ.get("PERMISSION_MATRIX_RECORD") == "1"
MISSING_ID = 987654321


def url_patterns(resolver=None, namespace=None, prefix=""):
    """(full name, full route, callback) for every URL pattern, depth first."""
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from url_patterns(p, p.namespace or namespace, prefix + str(p.pattern))
        else:
            name = f"{namespace}:{p.name}" if namespace else str(p.name)
            yield name, prefix + str(p.pattern), p.callback


ROUTE_ARG = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def kwarg_names(route: str) -> list[str]:
    return [a or b for a, b in ROUTE_ARG.findall(route)]


PATTERNS = [(name, kwarg_names(route), callback, route) for name, route, callback in url_patterns()]


def pattern_id(item):
    name, _, _, route = item
    return route if name.startswith("admin:") else name


def api_methods(callback) -> set[str]:
    """The HTTP methods a DRF view answers (beyond OPTIONS/HEAD); empty for plain Django views."""
    actions = getattr(callback, "actions", None)
    if actions:
        return {m.upper() for m in actions} - {"HEAD", "OPTIONS"}
    cls = getattr(callback, "cls", None)
    if cls is None or not hasattr(cls, "http_method_names"):
        return set()
    return {m.upper() for m in cls.http_method_names if m not in ("options", "head") and hasattr(cls, m)}


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def resolve(body, ids: dict):
    """Bodies name the world's objects as "@key"."""
    if isinstance(body, dict):
        return {k: resolve(v, ids) for k, v in body.items()}
    if isinstance(body, str) and body.startswith("@"):
        return ids[body[1:]]
    return body


def request(client, method: str, url: str, entry: pm.Entry, ids: dict):
    body = resolve(entry.bodies.get(method, {}), ids)
    fmt = entry.fmt
    cache.clear()  # a rolled-back write must not leave cached visibility behind
    with transaction.atomic():
        if method in ("GET", "DELETE"):
            response = getattr(client, method.lower())(url)
        else:
            response = getattr(client, method.lower())(url, body, format=fmt)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response


entry_route: dict[str, str] = {}


def url_for(name: str, kwargs: list[str], entry: pm.Entry, ids: dict, method: str, missing: bool = False) -> str:
    values = {}
    for key in kwargs:
        if key == "format":
            values[key] = "json"
            continue
        target = entry.args.get(key, pm.DEFAULT_ARGS.get(key))
        if target is None:
            raise AssertionError(f"{name}: the matrix does not say what '{key}' points at")
        if isinstance(target, pm.Literal):
            values[key] = target.value
        else:
            values[key] = MISSING_ID if missing else ids[target]
    if name.endswith(":None"):  # an unnamed pattern (the admin's object redirects): fill in its route
        route = entry_route[name]
        url = "/" + ROUTE_ARG.sub(lambda m: str(values[m.group(1) or m.group(2)]), route).lstrip("^").rstrip("$")
    else:
        url = reverse(name, kwargs=values)
    query = entry.query.get(method, "")
    if query:
        key, _, value = query.partition("=")
        url += f"?{key}={resolve(value, ids)}"
    return url


def visible(response, object_id) -> bool:
    data = response.json()
    rows = data.get("results", data) if isinstance(data, dict) else data
    return any(isinstance(row, dict) and row.get("id") == object_id for row in rows)


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", PATTERNS, ids=[pattern_id(p) for p in PATTERNS])
def test_permission_matrix(world, pattern):
    name, kwargs, callback, route = pattern
    entry_route[name] = route
    entry = pm.entry_for(name)
    if entry is None:
        pytest.fail(f"URL pattern '{name}' has no entry in tests/permission_matrix.py: say who may do what there")
    answered = api_methods(callback)
    missing_methods = answered - set(entry.methods)
    assert not missing_methods, f"{name}: the view answers {sorted(missing_methods)}, the matrix does not say who may"
    problems, recorded = [], {}
    for method, expected in entry.methods.items():
        url = url_for(name, kwargs, entry, world.ids, method)
        seen = []
        for role, want in zip(permission_world.ROLES, expected.split()):
            response = request(client_for(world.users[role]), method, url, entry, world.ids)
            got = pm.describe(response, want, world.ids.get(entry.sees) if entry.sees else None, visible)
            seen.append(got)
            if not pm.matches(got, want):
                problems.append(f"{method} {url} as {role}: expected {want}, got {got} "
                                f"{_excerpt(response)}")
            elif response.status_code >= 500:
                problems.append(f"{method} {url} as {role}: {response.status_code}")
        recorded[method] = " ".join(seen)
        if any(k != "format" and not isinstance(entry.args.get(k, pm.DEFAULT_ARGS.get(k)), pm.Literal)
               for k in kwargs):
            # the outsider's answer must not depend on whether the object exists
            nowhere = url_for(name, kwargs, entry, world.ids, method, missing=True)
            here = seen[permission_world.ROLES.index("outsider")]
            there = request(client_for(world.users["outsider"]), method, nowhere, entry, world.ids)
            if there.status_code != pm.status_of(here):
                problems.append(f"{method} as outsider: {here} on {url} but {there.status_code} on {nowhere}: "
                                "an outsider can tell that the object exists")
    if RECORD:
        print(f"\nRECORD {pattern_id(pattern)}: {recorded}")
    assert not problems, "\n".join(problems)


def _excerpt(response) -> str:
    if getattr(response, "streaming", False):
        return ""
    return repr(response.content[:160])


def test_every_matrix_entry_names_a_url_pattern():
    """Entries for patterns that are gone would hide a typo in a new entry's name."""
    names = {name for name, _, _, _ in PATTERNS}
    stale = [name for name in pm.MATRIX if name not in names]
    assert not stale, f"entries without a URL pattern: {stale}"
