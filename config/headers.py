"""Security headers on every response: Content-Security-Policy (which also forbids framing,
with X-Frame-Options DENY from Django for older browsers) and Permissions-Policy.

A view may set its own Content-Security-Policy (none does today); it is then left alone."""
from django.conf import settings


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = settings.AERIE_CSP
        self.permissions = settings.AERIE_PERMISSIONS_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.csp:
            response.headers.setdefault("Content-Security-Policy", self.csp)
        if self.permissions:
            response.headers.setdefault("Permissions-Policy", self.permissions)
        return response
