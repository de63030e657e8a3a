"""REST API for footage and projects. Thin: querysets decide visibility (a project you are not
in is a 404), the domain modules do the writes."""
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import NumberFilter
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from labeling.access import roles
from labeling.api import serializers as s
from labeling.api.filters import IdFilterBackend, IdFilterSet
from labeling.api.parsers import ObjectJSONParser
from labeling.api.permissions import ModelPermsForWrites
from labeling.footage import dataset_versions, datasets, ingest
from labeling.api.frame_search import FrameFilter
from labeling.models import Dataset, Frame, IngestJob, Membership, Project, Sequence
from labeling.work import projects


def require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"your role may not do this (needs {perm})")


class DatasetViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DatasetSerializer
    permission_classes = [ModelPermsForWrites]
    filterset_fields = ["sensitive"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return roles.visible_datasets(self.request.user).annotate(
            sequence_count=Count("sequences", distinct=True),
            frame_count=Coalesce(Sum("sequences__frame_count"), 0),  # not a count over millions of frames
        ).order_by("name")

    def perform_create(self, serializer):
        dataset = datasets.save_dataset(Dataset(**serializer.validated_data), self.request.user)
        dataset.sequence_count = dataset.frame_count = 0  # as the list annotates them: a new dataset is empty
        serializer.instance = dataset

    def perform_update(self, serializer):
        serializer.instance = datasets.save_dataset(_with(serializer.instance, serializer.validated_data),
                                                    self.request.user)

    @extend_schema(request=s.IngestUploadSerializer, responses={202: s.IngestJobSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser],
            permission_classes=[IsAuthenticated])
    def ingest(self, request, pk=None):
        """Upload a video (with its DJI .SRT as `telemetry`), an image or a zip of images; ingest runs
        in the background."""
        dataset = self.get_object()
        require(request, "labeling.add_ingestjob")
        form = s.IngestUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        job = ingest.create_job(
            dataset, data["file"], sequence_name=data.get("sequence_name", ""), stride=data["stride"],
            target_fps=data.get("target_fps"), sensitive=data["sensitive"], user=request.user,
            sidecar=data.get("telemetry"),
        )
        return Response(s.IngestJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["get"], responses=s.DatasetVersionSerializer(many=True))
    @extend_schema(methods=["post"], request=s.DatasetVersionCreateSerializer,
                   responses={201: s.DatasetVersionSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=[ObjectJSONParser, FormParser],
            permission_classes=[IsAuthenticated], pagination_class=None)  # a plain list, as documented
    def versions(self, request, pk=None):
        """List the dataset's versions, or snapshot a new one with a signed manifest."""
        dataset = self.get_object()
        if request.method == "GET":
            require(request, "labeling.view_datasetversion")
            versions = dataset.versions.prefetch_related("sequences").order_by("-number")
            return Response(s.DatasetVersionSerializer(versions, many=True).data)
        require(request, "labeling.add_datasetversion")
        form = s.DatasetVersionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = dataset_versions.create_version(dataset, user=request.user, note=form.validated_data.get("note", ""))
        return Response(s.DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class SequenceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.SequenceSerializer
    filterset_fields = ["dataset", "status", "kind"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return Sequence.objects.filter(dataset__in=roles.visible_datasets(self.request.user)).order_by("dataset", "name")


class FramePagination(CursorPagination):
    """Datasets hold millions of frames: cursor pages stay fast where page numbers would not."""

    ordering = ("sequence_id", "index")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class FrameViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.FrameSerializer
    filter_backends = [IdFilterBackend]
    filterset_class = FrameFilter
    pagination_class = FramePagination

    def get_queryset(self):
        return Frame.objects.filter(
            sequence__dataset__in=roles.visible_datasets(self.request.user),
            sequence__status__in=[Sequence.READY, Sequence.PARTIAL],
        ).select_related("telemetry", "condition", "sequence__dataset")


class IngestJobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.IngestJobSerializer
    filterset_fields = ["dataset", "status"]

    def get_queryset(self):
        if not self.request.user.has_perm("labeling.view_ingestjob"):
            return IngestJob.objects.none()
        return IngestJob.objects.filter(dataset__in=roles.visible_datasets(self.request.user)).order_by("-created_at")

    @extend_schema(request=None, responses={202: s.IngestJobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a job that stopped (a worker died) again; a finished job is left as it is."""
        job = self.get_object()
        require(request, "labeling.change_ingestjob")
        if job.status in IngestJob.FINISHED:
            return Response({"detail": f"job {job.pk} has finished ({job.status}); upload again to re-ingest"},
                            status=status.HTTP_409_CONFLICT)
        ingest.send(job)
        return Response(s.IngestJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ProjectViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ProjectSerializer
    permission_classes = [ModelPermsForWrites]
    filterset_fields = ["dataset", "ontology_version"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return roles.visible_projects(self.request.user).order_by("name")

    def perform_create(self, serializer):
        serializer.instance = _saved_project(Project(**serializer.validated_data), self.request.user)

    def perform_update(self, serializer):
        serializer.instance = _saved_project(_with(serializer.instance, serializer.validated_data), self.request.user)


class MemberViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Members of one project: /api/projects/{project_pk}/members/."""

    serializer_class = s.MemberSerializer
    permission_classes = [ModelPermsForWrites]
    write_permission = "labeling.change_project"
    pagination_class = None

    def project(self) -> Project:
        return get_object_or_404(roles.visible_projects(self.request.user), pk=self.kwargs["project_pk"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(project=self.project()).select_related("user").order_by("user__username")

    def perform_create(self, serializer):
        try:
            serializer.instance = projects.add_member(self.project(), serializer.validated_data["user"],
                                                      self.request.user)
        except projects.ProjectError as exc:
            raise ValidationError({exc.field: exc.message}) from None

    def perform_destroy(self, instance):
        projects.remove_member(instance, self.request.user)


def _with(instance, values: dict):
    """The instance with the validated values set (the service saves it)."""
    for name, value in values.items():
        setattr(instance, name, value)
    return instance


def _saved_project(project: Project, user) -> Project:
    try:
        return projects.save_project(project, user)
    except projects.ProjectError as exc:
        raise ValidationError({exc.field: exc.message}) from None
