"""The agreement re-scoring API: QA leads and admins of a project start a run over the whole
project and follow its progress (labeling.quality.rescoring does the work)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.permissions import member_project
from labeling.models import AgreementRun
from labeling.quality import rescoring


class AgreementRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgreementRun
        fields = ["id", "status", "reason", "whole_project", "params", "chunks_total", "chunks_done", "frames_total",
                  "frames_done", "counts", "created_at", "created_by", "finished_at"]


class RescoreSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=rescoring.MAX_REASON, required=False, allow_blank=True)


class AgreementRescoreView(APIView):
    """GET /api/projects/{id}/agreement/rescore/: the project's latest agreement runs with their
    progress. POST: score every frame's agreement again (in the background; 202 with the run)."""

    @extend_schema(responses=AgreementRunSerializer(many=True))
    def get(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins re-score")
        runs = AgreementRun.objects.filter(project=project).order_by("-created_at", "-pk")[:20]
        return Response(AgreementRunSerializer(runs, many=True).data)

    @extend_schema(request=RescoreSerializer, responses={202: AgreementRunSerializer})
    def post(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins re-score")
        body = RescoreSerializer(data=request.data)
        if not body.is_valid():
            field, errors = next(iter(body.errors.items()))
            return Response({"detail": f"{field}: {errors[0]}", "field": field}, status=400)
        try:
            run = rescoring.start_run(project, reason=body.validated_data.get("reason") or "re-score by hand",
                                      user=request.user)
        except rescoring.RescoreError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(AgreementRunSerializer(run).data, status=202)
