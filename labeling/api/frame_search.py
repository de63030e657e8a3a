"""Finding frames by where they are and by their flight and conditions: one filter for the API's
frame list and the dataset page's *Find frames* (django-filter; foreign keys by plain id, so that
nobody learns what exists by probing)."""
from django_filters.rest_framework import BooleanFilter, CharFilter, IsoDateTimeFilter, NumberFilter
from rest_framework.exceptions import ValidationError

from labeling.api.filters import IdFilterSet
from labeling.footage.telemetry.fields import area_box
from labeling.models import Frame


class FrameFilter(IdFilterSet):
    """Frames by where they are, and by their flight and conditions (labeling.footage.telemetry,
    labeling.footage.conditions)."""

    dataset = NumberFilter(field_name="sequence__dataset")
    height_min = NumberFilter(field_name="telemetry__height_m", lookup_expr="gte",
                              help_text="Metres above the ground (KLV) or the take-off point (SRT), at least")
    height_max = NumberFilter(field_name="telemetry__height_m", lookup_expr="lte")
    altitude_min = NumberFilter(field_name="telemetry__altitude_m", lookup_expr="gte",
                                help_text="Metres above mean sea level, at least")
    altitude_max = NumberFilter(field_name="telemetry__altitude_m", lookup_expr="lte")
    time_after = IsoDateTimeFilter(field_name="telemetry__captured_at", lookup_expr="gte",
                                   help_text="Captured at or after (ISO 8601)")
    time_before = IsoDateTimeFilter(field_name="telemetry__captured_at", lookup_expr="lte")
    area = CharFilter(method="in_area", help_text="min_lon,min_lat,max_lon,max_lat: the aircraft's position inside")
    has_telemetry = BooleanFilter(field_name="telemetry", lookup_expr="isnull", exclude=True)
    night = BooleanFilter(field_name="condition__night")
    blurred = BooleanFilter(field_name="condition__blurred")
    thermal = BooleanFilter(field_name="condition__thermal")
    altitude_band = CharFilter(field_name="condition__altitude_band")
    view_band = CharFilter(field_name="condition__view_band")

    class Meta:
        model = Frame
        fields = ["sequence", "dataset", "sensitive"]

    def in_area(self, queryset, name, value):
        try:
            box = area_box(value)
        except ValueError as exc:
            raise ValidationError({"area": [str(exc)]}) from None
        return queryset.filter(telemetry__longitude__gte=box[0], telemetry__latitude__gte=box[1],
                               telemetry__longitude__lte=box[2], telemetry__latitude__lte=box[3])
