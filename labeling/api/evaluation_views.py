"""Evaluation sets and evaluation runs: trainers and admins freeze sets, verify them, see label
changes since freezing, start runs of a model version and compare two versions slice by slice.
Other members get 403; people outside the project 404."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.governance import evaluation, evaluation_sets
from labeling.models import ModelVersion
from labeling.models.governance import EvaluationRun, EvaluationSet

WHY = "only trainers and admins manage evaluation sets and runs"


def _project(request, project_pk):
    return member_project(request, project_pk, roles.can_manage_models, WHY)


class EvaluationSetSerializer(serializers.ModelSerializer):
    frames = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationSet
        fields = ["id", "project", "name", "description", "selection", "frames", "frame_ids", "annotation_ids",
                  "required", "manifest_sha256", "signature", "key_id", "created_at", "created_by"]

    def get_frames(self, obj) -> int:
        return len(obj.frame_ids)


class FreezeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    selection = serializers.JSONField(help_text='{"sequences": [...]}, {"conditions": {"night": true}}, '
                                                '{"area": {"min_lat", "max_lat", "min_lon", "max_lon"}}, '
                                                '{"frame_ids": [...]}; criteria given together must all hold')
    required = serializers.BooleanField(required=False, default=False)


class EvaluationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvaluationRun
        fields = ["id", "model_version", "evaluation_set", "status", "chunks_total", "chunks_done", "frames_total",
                  "frames_done", "metrics", "latency_ms_b1", "hardware", "message", "created_at", "finished_at"]


class EvaluationSetListView(APIView):
    @extend_schema(responses=EvaluationSetSerializer(many=True))
    def get(self, request, project_pk):
        project = _project(request, project_pk)
        return Response(EvaluationSetSerializer(project.evaluation_sets.all(), many=True).data)

    @extend_schema(request=FreezeSerializer, responses={201: EvaluationSetSerializer})
    def post(self, request, project_pk):
        project = _project(request, project_pk)
        form = FreezeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            eset = evaluation_sets.freeze(project, data["name"], data["selection"], user=request.user,
                                          description=data["description"], required=data["required"])
        except evaluation_sets.EvaluationSetError as exc:
            return bad_request(exc)
        return Response(EvaluationSetSerializer(eset).data, status=status.HTTP_201_CREATED)


def _set(request, pk) -> EvaluationSet:
    eset = get_object_or_404(EvaluationSet, pk=pk)
    _project(request, eset.project_id)
    return eset


class EvaluationSetVerifyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        eset = _set(request, pk)
        check = evaluation_sets.verify(eset)
        return Response({"id": eset.pk, "ok": check.ok, "manifest_ok": check.manifest_ok,
                         "signature_ok": check.signature_ok, "problems": check.problems,
                         "manifest_sha256": eset.manifest_sha256, "key_id": eset.key_id})


class EvaluationSetChangesView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        eset = _set(request, pk)
        changes = evaluation_sets.changes_since_freeze(eset)
        return Response({"id": eset.pk, "frames": len(eset.frame_ids), "changed": len(changes), "changes": changes})


class StartRunSerializer(serializers.Serializer):
    set = serializers.IntegerField(help_text="The evaluation set's id (same project)")


def _version(request, pk) -> ModelVersion:
    version = get_object_or_404(ModelVersion, pk=pk)
    _project(request, version.project_id)
    return version


class EvaluationRunsView(APIView):
    @extend_schema(responses=EvaluationRunSerializer(many=True))
    def get(self, request, pk):
        version = _version(request, pk)
        return Response(EvaluationRunSerializer(version.evaluations.all(), many=True).data)

    @extend_schema(request=StartRunSerializer, responses={202: EvaluationRunSerializer})
    def post(self, request, pk):
        version = _version(request, pk)
        form = StartRunSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        eset = EvaluationSet.objects.filter(pk=form.validated_data["set"], project_id=version.project_id).first()
        if eset is None:
            return Response({"detail": "set: no such evaluation set in this model version's project",
                             "field": "set"}, status=status.HTTP_400_BAD_REQUEST)
        try:
            run = evaluation.start_run(version, eset, request.user)
        except evaluation.EvaluationError as exc:
            return bad_request(exc)
        return Response(EvaluationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class CompareView(APIView):
    """Per-slice mAP@0.5 of version `b` against version `a` on one set (each version's latest
    finished run on it); `worse` where b lost more than the project's promotion tolerance."""

    @extend_schema(responses={200: dict})
    def get(self, request, a, b):
        first, second = _version(request, a), _version(request, b)
        if first.project_id != second.project_id:
            return Response({"detail": "the two versions belong to different projects"},
                            status=status.HTTP_400_BAD_REQUEST)
        set_id = request.query_params.get("set", "")
        if not set_id.isdigit():
            return Response({"detail": "set: give ?set=<evaluation set id>", "field": "set"},
                            status=status.HTTP_400_BAD_REQUEST)
        eset = EvaluationSet.objects.filter(pk=int(set_id), project_id=first.project_id).first()
        if eset is None:
            return Response({"detail": "set: no such evaluation set in this project", "field": "set"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            return Response(evaluation.comparison(first, second, eset))
        except evaluation.EvaluationError as exc:
            return bad_request(exc)
