import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Django imports the URL conf, and with it every view module (the API's, scipy's and torch's
# imports behind them), at a worker's first request: import it now, so that it is loaded before
# the freeze below and no annotator's request waits on it.
resolver = get_resolver()
resolver.url_patterns, resolver.reverse_dict  # noqa: B018 - the import and the reverse map, built

# Everything loaded so far (Django, the URL conf, the apps) lives as long as the process: move it
# out of the collector's sight, and collect the young generation less often. A full collection
# over a large heap in the middle of a request is a latency spike an annotator feels.
gc.freeze()
gc.set_threshold(50_000, 20, 100)

# A request thread that is ready waits for the one holding the GIL for up to the switch interval
# (5 ms by default); hand over sooner, so one busy request does not add its slice to the others'.
sys.setswitchinterval(settings.AERIE_GIL_SWITCH_S)
