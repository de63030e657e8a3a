"""Raw access grants (admins): list and grant per dataset, revoke one. Thin: labeling.access.raw
checks and records."""
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import raw, roles
from labeling.api.errors import bad_request
from labeling.models import RawAccessGrant


class GrantSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="the person's username")
    reason = serializers.CharField(max_length=raw.MAX_REASON)
    expires_at = serializers.DateTimeField()


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=raw.MAX_REASON)


def as_dict(grant: RawAccessGrant, now=None) -> dict:
    from django.utils import timezone

    now = now or timezone.now()
    state = "revoked" if grant.revoked_at else "expired" if grant.expires_at <= now else "live"
    return {"id": grant.pk, "dataset": grant.dataset_id, "user": grant.user.username, "state": state,
            "reason": grant.reason, "granted_by": grant.granted_by.username, "granted_at": grant.granted_at.isoformat(),
            "expires_at": grant.expires_at.isoformat(),
            "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
            "revoked_by": grant.revoked_by.username if grant.revoked_by else None,
            "revoke_reason": grant.revoke_reason}


def _admin(request):
    if not raw.may_grant(request.user):
        raise PermissionDenied("only admins grant or revoke raw access")


class DatasetRawAccessView(APIView):
    """GET /api/datasets/{id}/raw-access/: every grant of raw access to the dataset, live or not.
    POST {"user", "reason", "expires_at"}: grant one. Admins."""

    @extend_schema(responses=dict)
    def get(self, request, pk):
        dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
        _admin(request)
        grants = RawAccessGrant.objects.filter(dataset=dataset).select_related("user", "granted_by", "revoked_by")
        return Response({"dataset": dataset.pk, "grants": [as_dict(g) for g in grants.order_by("-granted_at")]})

    @extend_schema(request=GrantSerializer, responses={201: dict, 400: dict})
    def post(self, request, pk):
        dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
        _admin(request)
        form = GrantSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        person = get_user_model().objects.filter(username=form.validated_data["user"], is_active=True).first()
        if person is None:
            return Response({"detail": "user: no active account with this username", "field": "user"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            made = raw.grant(dataset, person, request.user, form.validated_data["reason"],
                             form.validated_data["expires_at"])
        except raw.GrantError as exc:
            return bad_request(exc)
        return Response(as_dict(made), status=status.HTTP_201_CREATED)


class RevokeRawAccessView(APIView):
    """POST /api/raw-access/{id}/revoke/ {"reason"}: end a grant now. Admins."""

    @extend_schema(request=RevokeSerializer, responses={200: dict, 400: dict})
    def post(self, request, pk):
        grant = get_object_or_404(RawAccessGrant.objects.filter(
            dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _admin(request)
        form = RevokeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            grant = raw.revoke(grant, request.user, form.validated_data["reason"])
        except raw.GrantError as exc:
            return bad_request(exc)
        grant = RawAccessGrant.objects.select_related("user", "granted_by", "revoked_by").get(pk=grant.pk)
        return Response(as_dict(grant))
