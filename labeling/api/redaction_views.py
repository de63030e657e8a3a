"""Redaction (QA leads and admins of the dataset's projects): start the redaction job for a
dataset and read its progress; list, add and remove a frame's regions. Thin: labeling.redaction
checks, records and renders."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.models import Frame, RedactionRegion
from labeling.redaction import derived, edits, regions, runs


class PixelField(serializers.FloatField):
    """Frame pixels: a number (true/false are not numbers here, whatever Python says)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AddRegionSerializer(serializers.Serializer):
    x = PixelField(help_text="frame pixels, from the left")
    y = PixelField(help_text="frame pixels, from the top")
    w = PixelField()
    h = PixelField()
    reason = serializers.CharField(max_length=regions.MAX_REASON)


class RemoveRegionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=regions.MAX_REASON)


def _editor(request):
    if not regions.may_edit(request.user):
        raise PermissionDenied("only QA leads and admins redact")


def _frames(user):
    return Frame.objects.filter(sequence__dataset__in=roles.visible_datasets(user))


def region_dict(region: RedactionRegion) -> dict:
    return {**derived.lineage(region), "frame": region.frame_id, "created_at": region.created_at.isoformat(),
            "removed_at": region.removed_at.isoformat() if region.removed_at else None,
            "removed_by": region.removed_by.username if region.removed_by_id else None,
            "remove_reason": region.remove_reason}


def rendition_dict(rendition) -> dict | None:
    if rendition is None:
        return None
    return {"id": rendition.pk, "sha256": rendition.sha256, "raw_sha256": rendition.raw_sha256,
            "method": rendition.method, "regions": rendition.regions, "current": rendition.current,
            "created_at": rendition.created_at.isoformat()}


class DatasetRedactionView(APIView):
    """GET /api/datasets/{id}/redaction/: the dataset's redaction settings, its latest run's
    progress and how many frames have a derived rendition. POST: start a run (or get the one
    going). QA leads and admins."""

    def _dataset(self, request, pk):
        dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
        _editor(request)
        return dataset

    @extend_schema(responses=dict)
    def get(self, request, pk):
        dataset = self._dataset(request, pk)
        frames = Frame.objects.filter(sequence__dataset=dataset)
        return Response({"dataset": dataset.pk, "method": dataset.redaction_method,
                         "metadata_level": dataset.metadata_level, "redact_at_ingest": dataset.redact_at_ingest,
                         "frames": frames.count(),
                         "derived_frames": frames.filter(derived__current=True).count(),
                         "run": runs.progress(runs.latest(dataset.pk))})

    @extend_schema(request=None, responses={202: dict})
    def post(self, request, pk):
        dataset = self._dataset(request, pk)
        run = runs.start_and_send(dataset, reason="by hand", user=request.user)
        return Response(runs.progress(run), status=status.HTTP_202_ACCEPTED)


class FrameRegionsView(APIView):
    """GET /api/frames/{id}/redaction-regions/: every region of the frame (removed ones too, with
    who and why) and its derived renditions, newest first. POST {"x", "y", "w", "h", "reason"}:
    add a region; the derived rendition is re-rendered at once. QA leads and admins."""

    @extend_schema(responses=dict)
    def get(self, request, pk):
        frame = get_object_or_404(_frames(request.user), pk=pk)
        _editor(request)
        found = RedactionRegion.objects.filter(frame=frame).select_related("created_by", "removed_by").order_by("pk")
        return Response({"frame": frame.pk, "regions": [region_dict(r) for r in found],
                         "derived": [rendition_dict(d) for d in derived.history(frame)]})

    @extend_schema(request=AddRegionSerializer, responses={201: dict, 400: dict})
    def post(self, request, pk):
        frame = get_object_or_404(_frames(request.user), pk=pk)
        _editor(request)
        form = AddRegionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            region = edits.add_manual(frame, data["x"], data["y"], data["w"], data["h"], data["reason"],
                                      request.user)
        except regions.RegionError as exc:
            return bad_request(exc)
        return Response({"region": region_dict(region), "derived": rendition_dict(derived.derived_for(frame))},
                        status=status.HTTP_201_CREATED)


class RemoveRegionView(APIView):
    """POST /api/redaction-regions/{id}/remove/ {"reason"}: mark a region removed; the frame is
    re-rendered at once. QA leads and admins."""

    @extend_schema(request=RemoveRegionSerializer, responses={200: dict, 400: dict})
    def post(self, request, pk):
        region = get_object_or_404(RedactionRegion.objects.filter(frame__in=_frames(request.user)), pk=pk)
        _editor(request)
        form = RemoveRegionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            region = edits.remove(region, form.validated_data["reason"], request.user)
        except regions.RegionError as exc:
            return bad_request(exc)
        region = RedactionRegion.objects.select_related("created_by", "removed_by").get(pk=region.pk)
        return Response({"region": region_dict(region),
                         "derived": rendition_dict(derived.derived_for(region.frame_id))})
