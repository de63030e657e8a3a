import gc
import os
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the URL conf, the apps) lives as long as the process: move it
# out of the collector's sight, and collect the young generation less often. A full collection
# over a large heap in the middle of a request is a latency spike an annotator feels.
gc.freeze()
gc.set_threshold(50_000, 20, 100)

# A request thread that is ready waits for the one holding the GIL for up to the switch interval
# (5 ms by default); hand over sooner, so one busy request does not add its slice to the others'.
sys.setswitchinterval(settings.AERIE_GIL_SWITCH_S)
