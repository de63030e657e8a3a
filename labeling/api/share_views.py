"""Derived dataset versions and shares (admins): make a derived version of a raw one, share it with
a partner by a link (the token shown once), list and revoke shares. Thin: labeling.redaction.versions
and labeling.exchange.shares do the work."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.exchange import shares
from labeling.footage.dataset_versions import ManifestError
from labeling.models import DatasetVersion, DerivedDatasetVersion, Export, Share
from labeling.redaction import versions


def _admin(request):
    if roles.role_of(request.user) != roles.ADMIN:
        raise PermissionDenied("only admins make derived versions and shares")


def share_dict(share: Share, token: str | None = None) -> dict:
    out = {"id": share.pk, "derived_version": share.derived_version_id, "export": share.export_id,
           "note": share.note, "created_at": share.created_at.isoformat(), "expires_at": share.expires_at.isoformat(),
           "revoked_at": share.revoked_at.isoformat() if share.revoked_at else None,
           "revoke_reason": share.revoke_reason, "downloads": share.downloads}
    if token:
        out["url"] = f"/shares/{token}/"  # shown this once: only its hash is kept
    return out


class DeriveVersionView(APIView):
    """POST /api/dataset-versions/{id}/derive/: a signed derived version of a raw dataset version
    (every frame must have its derived rendition: run redaction first)."""

    @extend_schema(request=None, responses={201: dict, 400: dict})
    def post(self, request, pk):
        raw = get_object_or_404(DatasetVersion.objects.filter(dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _admin(request)
        try:
            made = versions.create_derived_version(raw, user=request.user)
        except ManifestError as exc:
            return bad_request(exc)
        return Response({"id": made.pk, "number": made.number, "frames": made.frame_count,
                         "manifest_sha256": made.manifest_sha256}, status=status.HTTP_201_CREATED)


class ShareRequest(serializers.Serializer):
    expires_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=shares.MAX_NOTE)
    export = serializers.IntegerField(required=False, allow_null=True)


class VersionSharesView(APIView):
    """GET /api/derived-versions/{id}/shares/: the version's shares. POST {"expires_at", "note",
    "export"}: share it; the answer's `url` (with the token) is shown once."""

    def _version(self, request, pk):
        version = get_object_or_404(DerivedDatasetVersion.objects.filter(
            dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _admin(request)
        return version

    @extend_schema(responses=dict)
    def get(self, request, pk):
        version = self._version(request, pk)
        return Response({"derived_version": version.pk,
                         "shares": [share_dict(s) for s in version.shares.order_by("-created_at")]})

    @extend_schema(request=ShareRequest, responses={201: dict, 400: dict})
    def post(self, request, pk):
        version = self._version(request, pk)
        form = ShareRequest(data=request.data)
        form.is_valid(raise_exception=True)
        export = None
        if form.validated_data.get("export"):
            export = Export.objects.filter(pk=form.validated_data["export"]).select_related("project").first()
            if export is None:
                return Response({"detail": "export: no such export", "field": "export"}, status=400)
        try:
            share, token = shares.create(version, request.user, expires_at=form.validated_data["expires_at"],
                                         note=form.validated_data["note"], export=export)
        except shares.ShareError as exc:
            return bad_request(exc)
        return Response(share_dict(share, token), status=status.HTTP_201_CREATED)


class RevokeShareView(APIView):
    """POST /api/shares/{id}/revoke/ {"reason"}: the link stops working now."""

    @extend_schema(request=dict, responses={200: dict, 400: dict})
    def post(self, request, pk):
        share = get_object_or_404(Share.objects.filter(
            derived_version__dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _admin(request)
        try:
            share = shares.revoke(share, request.user, request.data.get("reason") if isinstance(request.data, dict)
                                  else None)
        except shares.ShareError as exc:
            return bad_request(exc)
        return Response(share_dict(share))
