"""The model registry API: trainers and admins list, upload (signed weights) and choose the
current model of a project. Others get 403 (members) or 404 (not members)."""
import json

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import roles
from ..models import ModelVersion
from ..sampling import registry
from .errors import bad_request
from .permissions import member_project


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


class MakeCurrentView(APIView):
    @extend_schema(request=None, responses=ModelVersionSerializer)
    def post(self, request, project_pk, pk):
        project = _project(request, project_pk)
        version = get_object_or_404(project.model_versions, pk=pk)
        return Response(ModelVersionSerializer(registry.make_current(version, request.user)).data)
