"""*Find frames* on the dataset page: the frames of the dataset by flight (height, altitude, time,
an area) and conditions (night, blurred, thermal, bands), with the same filter as the API's frame
list (labeling.api.frame_search). Thin: the filter does the work."""
from django_filters.utils import translate_validation
from rest_framework.exceptions import ValidationError

from labeling.api.frame_search import FrameFilter
from labeling.footage import conditions
from labeling.models import Frame, FrameTelemetry

SHOWN = 48
SEQUENCE_PAGE = 60  # frames per page of the sequence page
FIELDS = ("height_min", "height_max", "altitude_min", "altitude_max", "time_after", "time_before", "area",
          "night", "blurred", "thermal", "altitude_band", "view_band")


def context(request, dataset) -> dict:
    """The search form, and its matches when the person searched."""
    asked = {k: v for k, v in request.GET.items() if k in FIELDS and v != ""}
    out = {"find": asked, "find_bands": {"altitude": [b[2] for b in conditions.ALTITUDE_BANDS],
                                          "view": [b[2] for b in conditions.VIEW_BANDS]},
           "has_telemetry": FrameTelemetry.objects.filter(frame__sequence__dataset=dataset).exists()}
    if not asked:
        return out
    frames = Frame.objects.filter(sequence__dataset=dataset).select_related("sequence").order_by("sequence_id", "index")
    search = FrameFilter(asked, queryset=frames, request=request)
    try:
        if not search.is_valid():
            raise translate_validation(search.errors)
        found = search.qs
        shown = list(found[:SHOWN])
        for frame in shown:
            frame.page = frame.index // SEQUENCE_PAGE + 1  # where the sequence page lists it
        out.update(find_count=found.count(), find_frames=shown)
    except ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"search": exc.detail}
        out["find_error"] = "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in detail.items())
    return out
