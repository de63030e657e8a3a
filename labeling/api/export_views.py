"""Exports and imports over the API. Exports: trainers and admins (others in the project 403,
outsiders 404). Imports: admins and QA leads."""
import json

from django.contrib.auth import get_user_model
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.exchange import exports, imports
from labeling.models import DatasetVersion, Export


def _export_project(request, project_pk):
    return member_project(request, project_pk, roles.can_export, "only trainers and admins export")


class ExportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "format", "scope", "dataset_version", "include_images", "image_kind", "include_sensitive",
                  "ontology_version",
                  "annotations_as_of", "status", "items_done", "items_total", "percent", "message", "frames", "boxes",
                  "tracks", "size", "sha256", "manifest_sha256", "key_id", "created_at", "finished_at", "download"]

    def get_download(self, export) -> str | None:
        if export.status != Export.DONE:
            return None
        return f"/api/projects/{export.project_id}/exports/{export.pk}/download/"


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=Export.FORMATS)
    scope = serializers.ChoiceField(choices=[Export.APPROVED, Export.RAW], default=Export.APPROVED)
    dataset_version = serializers.IntegerField(required=False, allow_null=True,
                                               help_text="Only this dataset version's sequences (default: the project)")
    include_images = serializers.BooleanField(default=False)
    image_kind = serializers.ChoiceField(choices=Export.IMAGE_KINDS, default=Export.DERIVED,
                                         help_text="derived (redacted) frames, or raw frames (needs raw access)")
    include_sensitive = serializers.BooleanField(
        default=False, help_text="include images of sensitive (graphic) frames: an explicit acknowledgement; "
                                 "without it they are left out and counted in the manifest")


class ExportListView(APIView):
    """GET: this project's exports, newest first. POST: start one (a background job)."""

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request, project_pk):
        project = _export_project(request, project_pk)
        return Response(ExportSerializer(project.exports.all()[:200], many=True).data)

    @extend_schema(request=ExportRequestSerializer, responses={201: ExportSerializer})
    def post(self, request, project_pk):
        project = _export_project(request, project_pk)
        form = ExportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = None
        if data.get("dataset_version"):
            version = DatasetVersion.objects.filter(pk=data["dataset_version"], dataset_id=project.dataset_id).first()
            if version is None:
                return Response({"detail": "dataset_version: not a version of this project's dataset",
                                 "field": "dataset_version"}, status=400)
        try:
            export = exports.create(project, request.user, format=data["format"], scope=data["scope"],
                                    dataset_version=version, include_images=data["include_images"],
                                    image_kind=data["image_kind"], include_sensitive=data["include_sensitive"])
        except exports.ExportForbidden as exc:
            return bad_request(exc, status.HTTP_403_FORBIDDEN)
        except exports.ExportGone as exc:
            return bad_request(exc, status.HTTP_410_GONE)
        except exports.ExportError as exc:
            return bad_request(exc)
        return Response(ExportSerializer(export).data, status=status.HTTP_201_CREATED)


class ExportDetailView(APIView):
    @extend_schema(responses=ExportSerializer)
    def get(self, request, project_pk, pk):
        project = _export_project(request, project_pk)
        return Response(ExportSerializer(get_object_or_404(project.exports, pk=pk)).data)


class ExportDownloadView(APIView):
    """The zip (audited: who downloaded which export, with its sha256)."""

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, project_pk, pk):
        project = _export_project(request, project_pk)
        export = get_object_or_404(project.exports, pk=pk)
        try:
            fh = exports.open_for_download(export, request.user)
        except exports.ExportForbidden as exc:
            return bad_request(exc, status.HTTP_403_FORBIDDEN)
        except exports.ExportError as exc:
            return bad_request(exc, status.HTTP_409_CONFLICT)
        return FileResponse(fh, as_attachment=True, filename=export.download_name, content_type="application/zip")


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="COCO: a .json (or a zip holding one); MOT: a zip of <sequence>/gt/gt.txt "
                                           "folders, or one gt.txt with `sequence`; YOLO/YOLO-OBB: a zip with "
                                           "data.yaml and labels/…/*.txt; VisDrone DET/VID: a zip of annotations/*.txt; "
                                           "DOTA: a zip of labelTxt/*.txt")
    format = serializers.ChoiceField(choices=Export.FORMATS)
    mode = serializers.ChoiceField(choices=list(imports.MODES),
                                   help_text="prelabel (the 'model' annotator), gold (gold answers), or annotator")
    annotator = serializers.CharField(required=False, help_text="mode annotator: the member whose work this is")
    sequence = serializers.CharField(required=False, help_text="MOT: the sequence of a single gt.txt")
    class_map = serializers.CharField(required=False,
                                      help_text='MOT, YOLO, VisDrone, DOTA: JSON {"file class": "ontology key" or '
                                                'null to leave out}')
    default_class = serializers.CharField(required=False, help_text="MOT without a class column: the boxes' class")


class ImportView(APIView):
    """POST: import a COCO, MOT, YOLO, VisDrone or DOTA file into this project's frames. All or nothing: 400 lists
    every problem (file, line or annotation id) and nothing changes."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImportRequestSerializer}, responses={201: dict, 400: dict})
    def post(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_import, "only admins and QA leads import")
        form = ImportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            report = imports.run(project, request.user, **import_arguments(data, project))
        except imports.ImportRefused as exc:
            return Response({"detail": str(exc), "errors": exc.errors, "notes": exc.notes}, status=400)
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)


def import_arguments(data: dict, project) -> dict:
    """Form fields to imports.run's arguments (shared with the page); refuses bad ones."""
    annotator = None
    if data.get("annotator"):
        annotator = get_user_model().objects.filter(username=data["annotator"]).first()
        if annotator is None:
            raise imports.ImportRefused([f"annotator: there is no user '{data['annotator']}'"])
    class_map = None
    if data.get("class_map"):
        try:
            class_map = json.loads(data["class_map"])
        except ValueError:
            class_map = None
        if not isinstance(class_map, dict):
            raise imports.ImportRefused(['class_map: a JSON object {"file class": "ontology key" or null}'])
    upload = data["file"]
    return {"format": data["format"], "data": upload.read(), "filename": upload.name, "mode": data["mode"],
            "annotator": annotator, "sequence": data.get("sequence") or None, "class_map": class_map,
            "default_class": data.get("default_class") or None}
