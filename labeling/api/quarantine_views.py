"""The response to poisoned labels, over the API: per-annotator drift against consensus and gold
(the flags that stand out), and quarantines of an annotator's submissions (list, create, lift).
QA leads and admins only; non-members get 404. The work is in labeling.governance (drift,
quarantine); these views only parse and answer."""
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.governance import drift, quarantine
from labeling.models import Quarantine

WHY = "only QA leads and admins see drift and quarantine work"


class QuarantineSerializer(serializers.ModelSerializer):
    annotator_name = serializers.CharField(source="annotator.username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    lifted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    frames = serializers.SerializerMethodField()

    class Meta:
        model = Quarantine
        fields = ["id", "annotator", "annotator_name", "starts_at", "ends_at", "reason", "created_by", "created_at",
                  "lifted_at", "lifted_by", "lift_reason", "frames"]

    def get_frames(self, q) -> int:
        return len(quarantine.affected_frames(q))


class QuarantineRequest(serializers.Serializer):
    annotator = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class LiftRequest(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class DriftView(APIView):
    """Flags (annotator, truth class → given class, rate, baseline, p-value) against consensus and
    gold, and each annotator's confusions per week."""

    @extend_schema(responses={200: dict})
    def get(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, WHY)
        return Response(drift.summary(project))


class QuarantinesView(APIView):
    """The project's quarantines, newest first; POST sets an annotator's submissions over a range
    aside (their frames are re-scored or go back to the queue; trained versions are flagged)."""

    @extend_schema(responses=QuarantineSerializer(many=True))
    def get(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, WHY)
        rows = Quarantine.objects.filter(project=project).select_related("annotator", "created_by", "lifted_by")
        return Response(QuarantineSerializer(rows, many=True).data)

    @extend_schema(request=QuarantineRequest, responses={201: QuarantineSerializer})
    def post(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, WHY)
        form = QuarantineRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        annotator = get_user_model().objects.filter(pk=data["annotator"]).first()
        if annotator is None or not roles.visible_projects(annotator).filter(pk=project.pk).exists():
            return Response({"detail": "annotator: no such member of this project", "field": "annotator"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            q = quarantine.quarantine(project, annotator, data["starts_at"], data["ends_at"], data["reason"],
                                      request.user)
        except quarantine.QuarantineError as exc:
            return bad_request(exc)
        except quarantine.QuarantineDenied as exc:
            return bad_request(exc, status.HTTP_403_FORBIDDEN)
        return Response(QuarantineSerializer(q).data, status=status.HTTP_201_CREATED)


class LiftView(APIView):
    """Lift a quarantine (a reason is required): the annotator's work counts again."""

    @extend_schema(request=LiftRequest, responses={200: QuarantineSerializer})
    def post(self, request, project_pk, pk):
        project = member_project(request, project_pk, roles.can_review, WHY)
        q = get_object_or_404(Quarantine, pk=pk, project=project)
        form = LiftRequest(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            q = quarantine.lift(q, request.user, form.validated_data["reason"])
        except quarantine.QuarantineError as exc:
            return bad_request(exc)
        except quarantine.QuarantineDenied as exc:
            return bad_request(exc, status.HTTP_403_FORBIDDEN)
        return Response(QuarantineSerializer(q).data)
