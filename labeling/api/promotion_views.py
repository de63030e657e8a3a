"""Model governance API (promotion, model cards, the deployed version, incidents).

Trainers and admins propose and withdraw; approvers (admins: `labeling.approve_modelversion`)
approve and reject; trainers, QA leads and admins read cards; trainers and admins read which
version is deployed and download weights; everyone on the project files incidents, QA leads and
admins triage them. Non-members get 404, members without the role 403."""

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles, signing
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.footage import blobstore
from labeling.governance import cards, incidents, promotion
from labeling.models import Frame, Incident, ModelVersion, Promotion
from labeling.sampling import registry


def can_read_cards(user) -> bool:
    return roles.can_manage_models(user) or roles.can_review(user)


def can_approve(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.has_perm(promotion.APPROVE_PERMISSION)


class PromotionSerializer(serializers.ModelSerializer):
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Promotion
        fields = ["id", "model_version", "status", "checks", "note", "proposed_by", "proposed_at", "decided_by",
                  "decided_at", "reason"]


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PromotionsView(APIView):
    """A version's proposals (history); POST proposes it for deployment (the gates run now)."""

    @extend_schema(responses=PromotionSerializer(many=True))
    def get(self, request, project_pk, pk):
        project = member_project(request, project_pk, can_read_cards, "only trainers, QA leads and admins")
        version = get_object_or_404(project.model_versions, pk=pk)
        return Response(PromotionSerializer(version.promotions.all(), many=True).data)

    @extend_schema(request=NoteSerializer, responses={201: PromotionSerializer})
    def post(self, request, project_pk, pk):
        project = member_project(request, project_pk, roles.can_manage_models, "only trainers and admins propose")
        version = get_object_or_404(project.model_versions, pk=pk)
        form = NoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            made = promotion.propose(version, request.user, form.validated_data["note"])
        except promotion.PromotionError as exc:
            return bad_request(exc)
        return Response(PromotionSerializer(made).data, status=status.HTTP_201_CREATED)


class _DecisionView(APIView):
    allowed = staticmethod(can_approve)
    why = "only approvers decide on a deployment"

    def act(self, promo, user, reason):  # pragma: no cover - overridden
        raise NotImplementedError

    @extend_schema(request=ReasonSerializer, responses=PromotionSerializer)
    def post(self, request, project_pk, pk):
        project = member_project(request, project_pk, self.allowed, self.why)
        promo = get_object_or_404(Promotion, project=project, pk=pk)
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            promo = self.act(promo, request.user, form.validated_data["reason"])
        except promotion.PromotionError as exc:
            return bad_request(exc)
        return Response(PromotionSerializer(promo).data)


class ApproveView(_DecisionView):
    """Approve and deploy (two-person rule; the gates run again)."""

    def act(self, promo, user, reason):
        return promotion.approve(promo, user, reason)


class RejectView(_DecisionView):
    """Reject, with a reason."""

    def act(self, promo, user, reason):
        return promotion.reject(promo, user, reason)


class WithdrawView(_DecisionView):
    allowed = staticmethod(roles.can_manage_models)
    why = "only trainers and admins withdraw a proposal"

    def act(self, promo, user, reason):
        return promotion.withdraw(promo, user, reason)


class DescribeSerializer(serializers.Serializer):
    intended_use = serializers.CharField(required=False, allow_blank=True, max_length=cards.MAX_TEXT)
    limitations = serializers.CharField(required=False, allow_blank=True, max_length=cards.MAX_TEXT)


def _card_version(request, project_pk, pk):
    project = member_project(request, project_pk, can_read_cards, "only trainers, QA leads and admins read cards")
    return get_object_or_404(project.model_versions, pk=pk)


class CardView(APIView):
    """The card as canonical JSON (the exact bytes its signature covers; the signature is in the
    X-Aerie-Signature header too). PATCH: the trainer's intended use and limitations."""

    @extend_schema(responses={200: OpenApiResponse(description="The model card (canonical JSON)")})
    def get(self, request, project_pk, pk):
        data, sig = cards.signed(cards.card(_card_version(request, project_pk, pk)))
        response = HttpResponse(data, content_type="application/json")
        response["X-Aerie-Signature"] = sig["signature"]
        response["X-Aerie-Key-Id"] = sig["key_id"]
        return response

    @extend_schema(request=DescribeSerializer, responses={200: OpenApiResponse(description="The model card")})
    def patch(self, request, project_pk, pk):
        project = member_project(request, project_pk, roles.can_manage_models,
                                 "only trainers and admins write a model card")
        version = get_object_or_404(project.model_versions, pk=pk)
        form = DescribeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            cards.describe(version, request.user, **form.validated_data)
        except cards.CardError as exc:
            return bad_request(exc)
        return Response(cards.card(version))


class CardMarkdownView(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="The model card as Markdown, signature at the end")})
    def get(self, request, project_pk, pk):
        version = _card_version(request, project_pk, pk)
        card = cards.card(version)
        _, sig = cards.signed(card)
        response = HttpResponse(cards.card_markdown(card, sig), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="model-card-{version.pk}.md"'
        return response


class CardSignatureView(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="sha256, signature and key id of the card JSON")})
    def get(self, request, project_pk, pk):
        _, sig = cards.signed(cards.card(_card_version(request, project_pk, pk)))
        return Response({**sig, "statement": "aerie-model-card-v1: + canonical JSON {\"card_sha256\": sha256}",
                         "public_key": signing.public_key_b64(sig["key_id"])})


def _manager_project(request, project_pk):
    return member_project(request, project_pk, roles.can_manage_models, "only trainers and admins")


class WeightsView(APIView):
    """The version's weights file, as registered (check it against sha256 and signature)."""

    @extend_schema(responses={200: OpenApiResponse(description="A PyTorch state dict")})
    def get(self, request, project_pk, pk):
        version = get_object_or_404(_manager_project(request, project_pk).model_versions, pk=pk)
        response = FileResponse(blobstore.open_blob(version.blob_name), as_attachment=True,
                                filename=f"{version.architecture}-{version.sha256[:12]}.pt",
                                content_type="application/octet-stream")
        response["X-Aerie-Sha256"] = version.sha256
        response["X-Aerie-Signature"] = version.signature
        response["X-Aerie-Key-Id"] = version.key_id
        return response


class DeployedView(APIView):
    """For each model kind, the deployed version: what to fetch and how to verify it (the
    signature covers `statement`, made from sha256, architecture and class map)."""

    @extend_schema(responses={200: OpenApiResponse(description="{kind: deployed version or null}")})
    def get(self, request, project_pk):
        project = _manager_project(request, project_pk)
        answer = {}
        for kind, _ in ModelVersion.KINDS:
            v = promotion.deployed(project, kind)
            answer[kind] = None if v is None else {
                "id": v.pk, "architecture": v.architecture, "class_map": v.class_map, "sha256": v.sha256,
                "signature": v.signature, "key_id": v.key_id, "public_key": signing.public_key_b64(v.key_id),
                "deployed_at": v.deployed_at,
                "statement": registry.statement(v.sha256, v.architecture, v.class_map).decode(),
                "weights_url": request.build_absolute_uri(
                    reverse("project-model-weights", kwargs={"project_pk": project.pk, "pk": v.pk})),
                "card_url": request.build_absolute_uri(
                    reverse("project-model-card", kwargs={"project_pk": project.pk, "pk": v.pk})),
            }
        return Response(answer)


class IncidentSerializer(serializers.ModelSerializer):
    filed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    triaged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = ["id", "model_version", "frame", "kind", "note", "status", "fixed_in", "filed_by", "filed_at",
                  "triaged_by", "triaged_at", "triage_note"]


class FileIncidentSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=[k for k, _ in Incident.KINDS])
    note = serializers.CharField()
    frame = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)


class TriageSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=sorted(incidents.TRIAGE))
    note = serializers.CharField(required=False, allow_blank=True, default="")
    fixed_in = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)


class IncidentsView(APIView):
    """Incidents of the project (annotators see the ones they filed); POST files one."""

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request, project_pk):
        project = member_project(request, project_pk)
        found = project.incidents.select_related("filed_by", "triaged_by")
        if not can_read_cards(request.user):
            found = found.filter(filed_by=request.user)
        if request.query_params.get("status"):
            found = found.filter(status=request.query_params["status"])
        return Response(IncidentSerializer(found[:500], many=True).data)

    @extend_schema(request=FileIncidentSerializer, responses={201: IncidentSerializer})
    def post(self, request, project_pk):
        project = member_project(request, project_pk)
        form = FileIncidentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = project.model_versions.filter(pk=data["model_version"]).first()
        frame = None
        if data.get("frame") is not None:
            frame = Frame.objects.select_related("sequence").filter(
                pk=data["frame"], sequence__dataset_id=project.dataset_id).first()
            if frame is None:
                return bad_request(incidents.IncidentError("frame: a frame of this project's dataset"))
        try:
            incident = incidents.file(project, version, request.user, data["kind"], data["note"], frame=frame)
        except incidents.IncidentError as exc:
            return bad_request(exc)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


class TriageView(APIView):
    @extend_schema(request=TriageSerializer, responses=IncidentSerializer)
    def post(self, request, project_pk, pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins triage")
        incident = get_object_or_404(project.incidents, pk=pk)
        form = TriageSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        fixed_in = None
        if data.get("fixed_in") is not None:
            fixed_in = project.model_versions.filter(pk=data["fixed_in"]).first()
            if fixed_in is None:
                return bad_request(incidents.IncidentError("fixed_in: a later version of the same project"))
        try:
            incident = incidents.triage(incident, request.user, data["status"], data["note"], fixed_in)
        except incidents.IncidentError as exc:
            return bad_request(exc)
        return Response(IncidentSerializer(incident).data)
