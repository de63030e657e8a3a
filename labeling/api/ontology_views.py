"""REST API for ontologies, their versions, label classes and migrations between versions."""
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from labeling.access import roles
from labeling.api.permissions import ModelPermsForWrites
from labeling.exchange import ontology_migration
from ontology import services
from ontology.attributes import validate_schema
from ontology.models import LabelClass, Ontology, OntologyMigration, OntologyVersion


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "version", "key", "name", "color", "shortcut", "kind", "sensitive", "redact", "attributes", "order"]

    def validate_attributes(self, value):
        try:
            return validate_schema(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_version(self, value):
        if value.is_published:
            raise serializers.ValidationError(f"{value} is published; derive a new version to change its classes")
        return value


class OntologyVersionSerializer(serializers.ModelSerializer):
    classes = LabelClassSerializer(many=True, read_only=True)
    ontology_name = serializers.CharField(source="ontology.name", read_only=True)

    class Meta:
        model = OntologyVersion
        fields = ["id", "ontology", "ontology_name", "number", "status", "derived_from", "notes", "created_at",
                  "published_at", "classes"]
        read_only_fields = fields


class OntologySerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Ontology
        fields = ["id", "name", "description", "created_at", "versions"]
        read_only_fields = ["created_at", "versions"]

    def get_versions(self, obj) -> list[dict]:
        return [{"id": v.pk, "number": v.number, "status": v.status} for v in obj.versions.all()]


class MigrationSerializer(serializers.ModelSerializer):
    class Meta:
        model = OntologyMigration
        fields = ["id", "from_version", "to_version", "mapping", "created_at", "applied_at", "applied_revisions"]
        read_only_fields = ["created_at", "applied_at", "applied_revisions"]


def _require(request, perm):
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"your role may not do this (needs {perm})")


class OntologyViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = OntologySerializer
    permission_classes = [ModelPermsForWrites]

    def get_queryset(self):
        versions = roles.visible_ontology_versions(self.request.user)
        return Ontology.objects.filter(versions__in=versions).distinct().prefetch_related("versions").order_by("name")

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = services.create_ontology(form.validated_data["name"],
                                           description=form.validated_data.get("description", ""), user=request.user)
        return Response(self.get_serializer(version.ontology).data, status=status.HTTP_201_CREATED)


class OntologyVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OntologyVersionSerializer
    filterset_fields = ["ontology", "status"]

    def get_queryset(self):
        return roles.visible_ontology_versions(self.request.user).prefetch_related("classes").order_by(
            "ontology", "number")

    @extend_schema(request=None, responses=OntologyVersionSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Freeze this draft: from now on it cannot change."""
        _require(request, "ontology.change_ontologyversion")
        version = services.publish(self.get_object(), user=request.user)
        return Response(self.get_serializer(version).data)

    @extend_schema(request=None, responses={201: OntologyVersionSerializer})
    @action(detail=True, methods=["post"])
    def derive(self, request, pk=None):
        """A new draft version copied from this published one."""
        _require(request, "ontology.add_ontologyversion")
        draft = services.derive(self.get_object(), user=request.user, notes=str(request.data.get("notes", ""))[:2000])
        return Response(self.get_serializer(draft).data, status=status.HTTP_201_CREATED)


class LabelClassViewSet(viewsets.ModelViewSet):
    """Classes of draft versions can be added, changed and removed; published ones answer 409."""

    serializer_class = LabelClassSerializer
    permission_classes = [ModelPermsForWrites]
    filterset_fields = ["version", "kind", "sensitive", "redact"]

    def get_queryset(self):
        return LabelClass.objects.filter(version__in=roles.visible_ontology_versions(self.request.user))

    def perform_create(self, serializer):
        serializer.instance = services.add_class(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.change_class(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.remove_class(instance)


class MigrationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = MigrationSerializer
    permission_classes = [ModelPermsForWrites]

    def get_queryset(self):
        versions = roles.visible_ontology_versions(self.request.user)
        return OntologyMigration.objects.filter(from_version__in=versions)

    def create(self, request, *args, **kwargs):
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        versions = roles.visible_ontology_versions(request.user)
        data = form.validated_data
        migration = services.create_migration(
            get_object_or_404(versions, pk=data["from_version"].pk), get_object_or_404(versions, pk=data["to_version"].pk),
            data["mapping"], user=request.user,
        )
        return Response(self.get_serializer(migration).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """How many annotations, boxes and tags the migration would change or drop (admins: in
        every project on the version; others: in their own projects)."""
        migration = self.get_object()
        scope = None if roles.is_admin(request.user) else roles.visible_projects(request.user)
        return Response(ontology_migration.preview(migration, scope).as_dict())

    @extend_schema(request=None, responses=MigrationSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """Write new annotation revisions on the target version. Old revisions stay."""
        _require(request, "ontology.change_ontologymigration")
        with transaction.atomic():
            ontology_migration.apply(self.get_object(), user=request.user)
        return Response(self.get_serializer(OntologyMigration.objects.get(pk=pk)).data)
