import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the URL conf, the apps) lives as long as the process: move it
# out of the collector's sight, and collect the young generation less often. A full collection
# over a large heap in the middle of a request is a latency spike an annotator feels.
gc.freeze()
gc.set_threshold(50_000, 20, 100)
