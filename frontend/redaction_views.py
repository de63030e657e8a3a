"""The redaction page of one frame (QA leads and admins): the frame as derived, its regions with
what found each, a region drawn by hand (with a reason), a wrong one removed (with a reason).
Thin: labeling.redaction.edits writes (audited, re-rendered at once)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labeling.access import raw, roles
from labeling.custody import state as custody
from labeling.models import Frame, RedactionRegion
from labeling.protection import image_urls
from labeling.redaction import derived, edits, regions, served


def _frame(request, pk):
    frame = get_object_or_404(Frame.objects.select_related("sequence__dataset").filter(
        sequence__dataset__in=roles.visible_datasets(request.user)), pk=pk)
    if not regions.may_edit(request.user):
        return frame, HttpResponseForbidden("Only QA leads and admins edit redaction regions.")
    return frame, None


@login_required
def redaction_page(request, pk):
    frame, denied = _frame(request, pk)
    if denied:
        return denied
    try:
        current = served.ensure(frame)
    except custody.Gone as exc:
        return HttpResponse(f"Gone: {exc}", status=410, content_type="text/plain; charset=utf-8")
    found = RedactionRegion.objects.filter(frame=frame).select_related("created_by", "removed_by").order_by("pk")
    # the derived frame as this person gets it; ?v= changes with each rendition, so no stale copy shows
    image = image_urls.for_page(frame.pk, frame.sensitive or frame.sequence.sensitive or frame.sequence.dataset.sensitive)
    image += ("&" if "?" in image else "?") + f"v={current.sha256[:12]}"
    return render(request, "frontend/redaction.html", {
        "frame": frame, "image": image, "current": current, "regions": found,
        "live": [r for r in found if r.removed_at is None], "history": derived.history(frame)[:10],
        "holds_raw": raw.holds(request.user, frame.sequence.dataset_id),
    })


@login_required
@require_POST
def redaction_add(request, pk):
    frame, denied = _frame(request, pk)
    if denied:
        return denied
    try:
        edits.add_manual(frame, *(request.POST.get(k) for k in ("x", "y", "w", "h")), request.POST.get("reason"),
                         request.user)
        messages.success(request, "Region added: the derived frame is rendered again.")
    except regions.RegionError as exc:
        messages.error(request, f"Not added: {exc}")
    return redirect("frame-redaction", pk)


@login_required
@require_POST
def redaction_remove(request, pk, region_pk):
    frame, denied = _frame(request, pk)
    if denied:
        return denied
    region = get_object_or_404(RedactionRegion, frame=frame, pk=region_pk)
    try:
        edits.remove(region, request.POST.get("reason"), request.user)
        messages.success(request, "Region removed: the derived frame is rendered again.")
    except regions.RegionError as exc:
        messages.error(request, f"Not removed: {exc}")
    return redirect("frame-redaction", pk)
