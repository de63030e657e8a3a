"""The model registry API: trainers and admins list, upload (signed weights) and choose the
current model of a project, start training runs and re-scoring, and follow their progress.
Others get 403 (members) or 404 (not members)."""
import json

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.models import ModelVersion, ScoringRun, TrainingRun
from labeling.sampling import registry, scoring, training


def _project(request, project_pk):
    return member_project(request, project_pk, roles.can_manage_models, "only trainers and admins manage models")


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "kind", "architecture", "ontology_version", "class_map", "sha256", "key_id", "metrics",
                  "lineage", "is_current", "created_at"]


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A PyTorch state dict (torch.save of model.state_dict())")
    architecture = serializers.ChoiceField(choices=sorted(registry.ARCHITECTURES))
    class_map = serializers.CharField(help_text='JSON list of ontology class keys in output order, e.g. ["person"]')
    signature = serializers.CharField(help_text="Ed25519 signature (base64) of the model statement by a trusted key")
    metrics = serializers.CharField(required=False, help_text="JSON object")


def _json(text, field, kind):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise serializers.ValidationError({field: "must be JSON"}) from None
    if not isinstance(value, kind):
        raise serializers.ValidationError({field: f"must be a JSON {kind.__name__}"})
    return value


class ModelListView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=ModelVersionSerializer(many=True))
    def get(self, request, project_pk):
        project = _project(request, project_pk)
        return Response(ModelVersionSerializer(project.model_versions.all(), many=True).data)

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: ModelVersionSerializer})
    def post(self, request, project_pk):
        project = _project(request, project_pk)
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            version = registry.register(
                project, data["file"].read(), architecture=data["architecture"],
                class_map=_json(data["class_map"], "class_map", list), signature=data["signature"],
                metrics=_json(data["metrics"], "metrics", dict) if data.get("metrics") else {}, user=request.user,
                lineage={"uploaded": data["file"].name})
        except registry.RegistryError as exc:
            return bad_request(exc)
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VerifyModelView(APIView):
    """Re-check a stored version: its weights' sha256 and which key signed them, with the key's
    state as of the registration (a key revoked later is a warning; revoked before, untrusted)."""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="ok, key_id, key_state, signed_by, "
                                                                         "warning, problem, sbom_sha256")})
    def get(self, request, project_pk, pk):
        project = _project(request, project_pk)
        version = get_object_or_404(project.model_versions, pk=pk)
        verdict = registry.verify_version(version)
        return Response({"id": version.pk, "ok": verdict.ok, "key_id": verdict.key_id, "key_state": verdict.state,
                         "signed_by": verdict.describe(), "warning": verdict.warning, "problem": verdict.problem,
                         "sbom_sha256": (version.lineage or {}).get("sbom_sha256")})


class MakeCurrentView(APIView):
    @extend_schema(request=None, responses=ModelVersionSerializer)
    def post(self, request, project_pk, pk):
        project = _project(request, project_pk)
        version = get_object_or_404(project.model_versions, pk=pk)
        return Response(ModelVersionSerializer(registry.make_current(version, request.user)).data)


class TrainingRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingRun
        fields = ["id", "kind", "architecture", "parent", "params", "make_current", "status", "epochs_done",
                  "progress", "message", "result", "created_at", "started_at", "finished_at"]


class TrainingRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k for k, _ in ModelVersion.KINDS])
    architecture = serializers.ChoiceField(choices=sorted(registry.ARCHITECTURES), required=False)
    epochs = serializers.IntegerField(required=False)
    lr = serializers.FloatField(required=False)
    batch_size = serializers.IntegerField(required=False)
    image_size = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False)
    make_current = serializers.BooleanField(default=False, help_text="Make the new version current when it is done")


class TrainingView(APIView):
    @extend_schema(responses=TrainingRunSerializer(many=True))
    def get(self, request, project_pk):
        project = _project(request, project_pk)
        return Response(TrainingRunSerializer(project.training_runs.all()[:50], many=True).data)

    @extend_schema(request=TrainingRequestSerializer, responses={202: TrainingRunSerializer})
    def post(self, request, project_pk):
        project = _project(request, project_pk)
        form = TrainingRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        params = dict(form.validated_data)
        try:
            run = training.start(project, params.pop("kind"), user=request.user,
                                 make_current=params.pop("make_current"), **params)
        except training.TrainingError as exc:
            return bad_request(exc)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ScoringRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoringRun
        fields = ["id", "detector", "classifier", "strategy", "reason", "status", "chunks_total", "chunks_done",
                  "frames_total", "frames_done", "message", "created_at", "finished_at"]


class ScoringView(APIView):
    @extend_schema(responses=ScoringRunSerializer(many=True))
    def get(self, request, project_pk):
        project = _project(request, project_pk)
        return Response(ScoringRunSerializer(project.scoring_runs.all()[:50], many=True).data)

    @extend_schema(request=None, responses={202: ScoringRunSerializer})
    def post(self, request, project_pk):
        """Re-score the project's open frames with its current models now."""
        project = _project(request, project_pk)
        try:
            run = scoring.start_run(project, reason="by hand", user=request.user)
        except scoring.ScoringError as exc:
            return bad_request(exc)
        scoring.send_chunks(run.pk)
        return Response(ScoringRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
