"""The labeling page's hot URLs, resolved first (config/urls.py): the lean views of
labeling.api.lean, each handing what is not its plain case to the DRF view of the same URL
(labeling.api.urls, where the OpenAPI schema reads them; these plain functions are not in it).
Each has the name of the DRF URL it serves: both reverse to the same path."""
from django.urls import path

from labeling.api import labeling_views as lv
from labeling.api import lean
from labeling.api.urls import router

_routed = {p.name: p.callback for p in router.urls}

urlpatterns = [
    path("projects/<int:project_pk>/next/", lean.view(lv.NextFrameView.as_view(), lv.next_answer, "POST"),
         name="project-next"),
    path("assignments/<int:pk>/submit/",
         lean.view(_routed["assignment-submit"], lv.submit_answer, "POST", reads_body=True), name="assignment-submit"),
    path("assignments/<int:pk>/renew/", lean.view(_routed["assignment-renew"], lv.lean_renew, "POST"),
         name="assignment-renew"),
    path("assignments/<int:pk>/draft/",
         lean.view(_routed["assignment-draft"], lv.lean_draft, "PUT", reads_body=True), name="assignment-draft"),
]
