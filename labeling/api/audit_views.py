"""The audit API: events (filtered, cursor pages), their export as JSON lines, the chain's head
and seals, and sealing on demand. QA leads see their projects' events, admins all (see
labeling.audit.query); everyone else gets 403."""
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.audit import chain, query
from labeling.models import AuditSeal

FILTERS = [
    OpenApiParameter("verb", str, description="a verb or its start, e.g. auth. or annotation.submit"),
    OpenApiParameter("actor", str, description="a username, or system"),
    OpenApiParameter("object", str, description="type:id, type or id, e.g. labeling.annotation:42"),
    OpenApiParameter("project", int),
    OpenApiParameter("since", str, description="YYYY-MM-DD or an ISO date-time"),
    OpenApiParameter("until", str, description="YYYY-MM-DD (inclusive) or an ISO date-time"),
]


def filtered_events(request):
    """The events this person may see, filtered by the request's parameters."""
    if not query.can_view(request.user):
        raise PermissionDenied("only QA leads and admins see the audit trail")
    try:
        filters = query.Filters.parse(request.query_params)
    except query.FilterError as exc:
        raise ValidationError({"detail": str(exc)}) from None
    if filters.project is not None and roles.visible_project(request.user, filters.project) is None:
        raise Http404("no such project")
    return filters, filters.apply(query.visible_events(request.user))


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField(allow_null=True, help_text="place in the hash chain (null until committed)")
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True)
    actor_id = serializers.IntegerField(allow_null=True)
    verb = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    project = serializers.IntegerField(allow_null=True)
    dataset = serializers.IntegerField(allow_null=True)
    data = serializers.JSONField()
    prev_hash = serializers.CharField(allow_null=True)
    hash = serializers.CharField(allow_null=True)

    def to_representation(self, instance):
        return query.as_record(instance)


class AuditPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(parameters=FILTERS)
class AuditEventList(ListAPIView):
    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination
    filter_backends = []

    def get_queryset(self):
        return filtered_events(self.request)[1].select_related("actor", "link")


class AuditExportView(APIView):
    @extend_schema(parameters=FILTERS, responses={(200, "application/jsonl"): OpenApiTypes.STR})
    def get(self, request):
        """Every matching event as one JSON object per line, oldest first (streamed)."""
        filters, events = filtered_events(request)
        response = StreamingHttpResponse(query.export(request.user, filters, events), content_type="application/jsonl")
        response["Content-Disposition"] = 'attachment; filename="aerie-audit.jsonl"'
        return response


class SealSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditSeal
        fields = ["id", "seq", "hash", "at", "key_id", "signature"]


class ChainSerializer(serializers.Serializer):
    head_seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    last_seal = SealSerializer(allow_null=True)


class AuditChainView(APIView):
    @extend_schema(responses=ChainSerializer)
    def get(self, request):
        """The chain's head and its latest seal (to keep a copy elsewhere)."""
        if not query.can_view(request.user):
            raise PermissionDenied("only QA leads and admins see the audit trail")
        seq, hash_ = chain.head()
        last = AuditSeal.objects.order_by("-seq", "-id").first()
        return Response({"head_seq": seq, "head_hash": hash_, "last_seal": SealSerializer(last).data if last else None})


class AuditSealView(APIView):
    @extend_schema(request=None, responses={201: SealSerializer, 200: SealSerializer})
    def post(self, request):
        """Sign the chain's head now (admins)."""
        if not roles.is_admin(request.user):
            raise PermissionDenied("only admins seal the audit trail")
        before = AuditSeal.objects.order_by("-id").values_list("pk", flat=True).first()
        made = chain.seal(request.user)
        if made is None:
            return Response({"detail": "the audit trail is empty"}, status=status.HTTP_409_CONFLICT)
        return Response(SealSerializer(made).data,
                        status=status.HTTP_200_OK if made.pk == before else status.HTTP_201_CREATED)
