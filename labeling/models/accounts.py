from __future__ import annotations

from django.db import models


class LoginThrottle(models.Model):
    """Failed sign-ins counted per key ("user:<name>" or "ip:<address>") over a window; a key
    at its limit is locked until `locked_until` (labeling.access.signin_guard). Shared by every web
    process through the database, so no cache service is needed."""

    key = models.CharField(max_length=200, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures} failures"
