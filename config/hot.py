"""Middleware that the labeling page's hot requests made with a token skip.

Next frame, submit, lease renewal and draft autosave (labeling.api.hot_urls) run on every cycle of
every annotator. Made with an API token and no session cookie, such a request has nothing for
these middleware to do: it is no static file (WhiteNoise), it has no session to load or save
(sessions, authentication: the view authenticates the token itself, DRF's view too when the lean
one hands over), it is CSRF-exempt (a token is no ambient credential; the views check CSRF for
sessions themselves), and it shows no message and is no htmx request. Together they were about a
fifth of such a request's CPU in Django. Every other request, a browser's with its session cookie
included, goes through each of them as before; the middleware that answer for every response
(security headers, X-Frame-Options, the host check and Content-Length of CommonMiddleware, the
retry on a lost connection) are not in this list and run for every request.

Each class here is the middleware of the same name, skipped for such a request: MIDDLEWARE
(config/settings.py) names these in place of the originals."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.csrf import CsrfViewMiddleware as _Csrf
from django_htmx.middleware import HtmxMiddleware as _Htmx
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoise

from config.messages import LazyMessageMiddleware as _Messages

API_PREFIX = "/api/"  # where config/urls.py mounts labeling.api.hot_urls
_METHODS = ("POST", "PUT")  # the methods of the lean views (labeling.api.hot_urls)
_hot_patterns = None


def _patterns():
    global _hot_patterns
    if _hot_patterns is None:
        from labeling.api import hot_urls

        _hot_patterns = tuple(p.pattern.regex for p in hot_urls.urlpatterns)
    return _hot_patterns


def token_hot(request) -> bool:
    """A hot labeling request made with an API token and no session cookie (decided once per
    request)."""
    decided = request.__dict__.get("_aerie_token_hot")
    if decided is None:
        decided = request._aerie_token_hot = _decide(request)
    return decided


def _decide(request) -> bool:
    meta = request.META
    if request.method not in _METHODS or not request.path_info.startswith(API_PREFIX):
        return False
    auth = meta.get("HTTP_AUTHORIZATION", "")
    if not isinstance(auth, str) or auth[:6].lower() != "token ":
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return False
    tail = request.path_info[len(API_PREFIX):]
    return any(regex.match(tail) for regex in _patterns())


def _skipped_on_token_hot(middleware: type) -> type:
    """`middleware`, passed by for a token's hot request (its hooks that Django's handler calls
    itself, process_view and process_exception, too)."""

    class Skipping(middleware):
        def __call__(self, request):
            if token_hot(request):
                return self.get_response(request)
            return super().__call__(request)

    for hook in ("process_view", "process_exception", "process_template_response"):
        original = getattr(middleware, hook, None)
        if original is not None:
            def skipping_hook(self, request, *args, _original=original):
                if token_hot(request):
                    return None
                return _original(self, request, *args)

            setattr(Skipping, hook, skipping_hook)
    Skipping.__name__ = Skipping.__qualname__ = middleware.__name__
    Skipping.__doc__ = f"{middleware.__module__}.{middleware.__name__}, skipped for a token's hot request."
    return Skipping


WhiteNoiseMiddleware = _skipped_on_token_hot(_WhiteNoise)
SessionMiddleware = _skipped_on_token_hot(_Session)
CsrfViewMiddleware = _skipped_on_token_hot(_Csrf)
AuthenticationMiddleware = _skipped_on_token_hot(_Authentication)
LazyMessageMiddleware = _skipped_on_token_hot(_Messages)
HtmxMiddleware = _skipped_on_token_hot(_Htmx)
