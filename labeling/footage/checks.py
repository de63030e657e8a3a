"""Start-up checks of encryption at rest: `manage.py check` and `runserver` print these, and
every process logs a warning at start while raw footage is stored unencrypted."""
from __future__ import annotations

import logging

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from labeling.footage import crypto

log = logging.getLogger("labeling.footage.crypto")
UNENCRYPTED = ("raw footage (frames and uploads) is stored unencrypted: set AERIE_DATA_KEY_FILE to a data key file "
               "(make one with `manage.py rotate_data_key --generate PATH`) to encrypt it at rest")


@checks.register()
def data_key_check(app_configs=None, **kwargs):
    try:
        ring = crypto.keyring()
    except ImproperlyConfigured as exc:
        return [checks.Error(f"the data key cannot be loaded: {exc}", id="labeling.E101")]
    if not ring.enabled:
        return [checks.Warning(UNENCRYPTED, hint="the demo (make run) may run this way", id="labeling.W101")]
    return []


def log_at_start() -> None:
    """One log line per process while raw data is stored in the clear (or the key is broken)."""
    try:
        enabled = crypto.keyring().enabled
    except ImproperlyConfigured as exc:
        log.error("the data key cannot be loaded: %s", exc)
        return
    if not enabled:
        log.warning(UNENCRYPTED)
