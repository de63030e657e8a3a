"""Derived data on the dataset page: the redaction job (QA leads and admins start it and watch it),
derived versions of the signed raw versions and their shares (admins). Thin: labeling.redaction
and labeling.exchange.shares do the work; a share's link is shown once, on the page after it is made."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from labeling.access import raw, roles
from labeling.exchange import shares
from labeling.footage.dataset_versions import ManifestError
from labeling.models import DerivedDatasetVersion, Export, Share
from labeling.redaction import regions, runs, versions

from .raw_access_views import until_end_of


def context(request, dataset) -> dict:
    """What the dataset page shows of derived data, for who may see it."""
    if not regions.may_edit(request.user):
        return {}
    out = {"can_redact": True, "redaction": runs.progress(runs.latest(dataset.pk))}
    if raw.may_grant(request.user):
        derived = list(DerivedDatasetVersion.objects.filter(dataset=dataset).select_related("raw_version")[:20])
        live = {}
        for share in Share.objects.filter(derived_version__in=derived).order_by("-created_at"):
            live.setdefault(share.derived_version_id, []).append(share)
        for version in derived:
            version.share_list = live.get(version.pk, [])
        out.update(can_share=True, derived_versions=derived, now=timezone.now(),
                   exports=Export.objects.filter(project__dataset=dataset, status=Export.DONE)
                   .exclude(include_images=True, image_kind=Export.RAW_IMAGES).select_related("project")[:20])
    return out


def _dataset(request, pk):
    return get_object_or_404(roles.visible_datasets(request.user), pk=pk)


@login_required
@require_POST
def start_redaction(request, pk):
    dataset = _dataset(request, pk)
    if not regions.may_edit(request.user):
        return HttpResponseForbidden("Only QA leads and admins run redaction.")
    runs.start_and_send(dataset, reason="from the dataset page", user=request.user)
    messages.success(request, "Redaction is running: faces are searched and every frame rendered derived.")
    return redirect("dataset", pk)


@login_required
@require_POST
def derive(request, pk, version_pk):
    dataset = _dataset(request, pk)
    if not raw.may_grant(request.user):
        return HttpResponseForbidden("Only admins make derived versions.")
    raw_version = get_object_or_404(dataset.versions, pk=version_pk)
    try:
        made = versions.create_derived_version(raw_version, user=request.user)
        messages.success(request, f"Derived version {made.number} signed: {made.frame_count} frames.")
    except ManifestError as exc:
        messages.error(request, str(exc))
    return redirect("dataset", pk)


@login_required
@require_POST
def share(request, pk, derived_pk):
    dataset = _dataset(request, pk)
    if not raw.may_grant(request.user):
        return HttpResponseForbidden("Only admins share.")
    version = get_object_or_404(DerivedDatasetVersion, dataset=dataset, pk=derived_pk)
    export = None
    if request.POST.get("export", "").isdigit():
        export = Export.objects.filter(pk=int(request.POST["export"]), project__dataset=dataset).first()
    try:
        day, until = until_end_of(request.POST.get("expires", ""))
        made, token = shares.create(version, request.user, expires_at=until, note=request.POST.get("note"),
                                    export=export)
    except ValueError as exc:
        messages.error(request, f"Not shared: {exc}" if isinstance(exc, shares.ShareError)
                       else "Not shared: expires: a date (YYYY-MM-DD).")
        return redirect("dataset", pk)
    link = request.build_absolute_uri(f"/shares/{token}/")
    messages.success(request, f"Shared until {day:%Y-%m-%d}. Send this link now; it is shown only once: {link}")
    return redirect("dataset", pk)


@login_required
@require_POST
def revoke_share(request, pk, share_pk):
    dataset = _dataset(request, pk)
    if not raw.may_grant(request.user):
        return HttpResponseForbidden("Only admins revoke shares.")
    made = get_object_or_404(Share, derived_version__dataset=dataset, pk=share_pk)
    try:
        shares.revoke(made, request.user, request.POST.get("reason"))
        messages.success(request, "The share's link stopped working.")
    except shares.ShareError as exc:
        messages.error(request, f"Not revoked: {exc}")
    return redirect("dataset", pk)
