"""The labeling page's hot requests without DRF's dispatch.

Next frame, submit, lease renewal and draft autosave run on every cycle of every annotator; DRF's
dispatch (request wrapping, content negotiation, parser and renderer selection, its exception
machinery) cost more CPU than the queue's own work. A lean view does the same checks by hand, in
the same order, and answers the same bytes:

- authentication: DRF's token authentication first (labeling.access.backends, cached), then the
  session that Django's middleware attached, with DRF's CSRF check for a session;
- the permission (`IsAuthenticated`, then what the shared answer function checks);
- the body: a JSON object (orjson), under DATA_UPLOAD_MAX_MEMORY_SIZE;
- the answer: JSON with DRF's encoder's rules for what JSON lacks (dates, decimals, lazy text),
  `Vary: Accept` and `Allow` like DRF's; domain errors through the same exception handler
  (labeling.api.errors.handle), so every 400/403/404/409 reads as before.

Whatever is not the plain case goes to the DRF view unchanged, before anything is done: no or a
bad credential (401/403 with DRF's headers), a failed CSRF check, another method, a query string
(filters), a body that is not a JSON object or not JSON at all (DRF's parse errors, 413, 415), an
Accept header that asks for something other than JSON. The DRF views stay where they are: they
describe these endpoints in the OpenAPI schema, and answer every case the lean path hands over."""
from __future__ import annotations

from typing import Callable

import orjson
from django.conf import settings
from django.http import HttpResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.utils.encoders import JSONEncoder

from labeling.access.backends import CachedTokenAuthentication
from labeling.api import errors

_TOKEN = CachedTokenAuthentication()
_SESSION = SessionAuthentication()
_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/json;charset=utf-8")


class HandOver(Exception):
    """Not the plain case: the DRF view answers this request."""


class LeanResponse(HttpResponse):
    """A rendered answer that keeps its `data`, like DRF's Response (what callers and tests read)."""

    data = None


def render(data, status: int = 200, allow: str = "POST, OPTIONS") -> HttpResponse:
    """An answer as DRF's Response would render it for a JSON client (a 204 or None: no body)."""
    if data is None:
        response = LeanResponse(status=status)
        del response["Content-Type"]
    else:
        response = LeanResponse(orjson.dumps(data, default=_ENCODER.default, option=_OPTIONS), status=status,
                                content_type="application/json")
    response.data = data
    response["Vary"] = "Accept"
    response["Allow"] = allow
    return response


def _accepts_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    if not accept:
        return True
    accept = accept.lower()
    return "html" not in accept and ("application/json" in accept or "*/*" in accept)


class _AuthorizationOnly:
    """What DRF's token authentication reads of a request: its Authorization header, from META
    (`request.headers`, which DRF reads it through, builds a dictionary of every header first)."""

    __slots__ = ("headers",)

    def __init__(self, request):
        self.headers = {"authorization": request.META.get("HTTP_AUTHORIZATION", b"")}


def authenticate(request):
    """The person making the request, as DRF would find them; HandOver where DRF answers."""
    try:
        found = _TOKEN.authenticate(_AuthorizationOnly(request))
    except APIException:
        raise HandOver from None  # a bad token: DRF's 401
    if found is not None:
        request.user = found[0]
        return found[0]
    user = getattr(request, "user", None)  # the session's, from Django's middleware
    if not user or not user.is_active:
        raise HandOver  # nobody: DRF's 401/403 with its headers
    try:
        _SESSION.enforce_csrf(request)
    except APIException:
        raise HandOver from None  # DRF's "CSRF Failed: ..." 403
    return user


def body(request) -> dict:
    """The JSON object sent (an empty body: {} as DRF reads it); HandOver for anything else."""
    if request.META.get("CONTENT_TYPE", "").lower() not in _JSON_TYPES:
        raise HandOver
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HandOver from None
    if not declared:
        return {}
    if limit is not None and declared > limit:
        raise HandOver
    try:
        value = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise HandOver from None
    if not isinstance(value, dict):
        raise HandOver
    return value


def view(drf_view: Callable, answer: Callable, method: str, *, reads_body: bool = False,
         retry_safe: bool = True) -> Callable:
    """A plain Django view for `method` requests of `drf_view`'s URL: `answer(request, user, data,
    **url_kwargs)` returns (data, status) or raises what the DRF view would raise."""
    allow = f"{method}, OPTIONS"

    def lean_view(request, **kwargs):
        if request.method != method or request.GET or not _accepts_json(request):
            return drf_view(request, **kwargs)
        try:
            user = authenticate(request)
            data = body(request) if reads_body else None
        except HandOver:
            return drf_view(request, **kwargs)
        try:
            payload, status = answer(request, user, data, **kwargs)
        except Exception as exc:  # as DRF does: its handler answers what it knows, the rest is raised
            handled = errors.handle(exc, {"request": request})
            if handled is None:
                raise
            response = render(handled.data, handled.status_code, allow)
            for header in ("WWW-Authenticate", "Retry-After"):
                if header in handled:
                    response[header] = handled[header]
            return response
        return render(payload, status, allow)

    lean_view.csrf_exempt = True  # checked above, for sessions only (like DRF)
    lean_view.retry_on_lost_connection = retry_safe  # config.middleware: a repeat is idempotent
    lean_view.__name__ = f"lean_{getattr(answer, '__name__', 'view')}"
    lean_view.__doc__ = answer.__doc__
    return lean_view
