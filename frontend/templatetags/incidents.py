"""`{% incident_button project frame_id %}`: the *Report model incident* button and its dialog on
the labeling and review pages, against the project's current detector (nothing when it has none)."""
from django import template

from labeling.models import Incident, ModelVersion

register = template.Library()


@register.inclusion_tag("frontend/_incident_dialog.html")
def incident_button(project, frame_id=None):
    model = ModelVersion.objects.filter(project=project, kind=ModelVersion.DETECTOR, is_current=True).first()
    return {"project": project, "model": model, "frame_id": frame_id or "", "kinds": Incident.KINDS}
