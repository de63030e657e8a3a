"""Raw access on the dataset page (admins): who holds it, grant it (a person, a reason, an
expiry), revoke it (a reason). Thin: labeling.access.raw checks, records and audits."""
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from labeling.access import raw, roles
from labeling.models import RawAccessGrant


def context(request, dataset) -> dict:
    """What the dataset page shows of raw access (admins only)."""
    if not raw.may_grant(request.user):
        return {"can_grant_raw": False}
    grants = (RawAccessGrant.objects.filter(dataset=dataset).select_related("user", "granted_by", "revoked_by")
              .order_by("-granted_at")[:50])
    now = timezone.now()
    for g in grants:
        g.state = "revoked" if g.revoked_at else "expired" if g.expires_at <= now else "live"
    people = get_user_model().objects.filter(is_active=True).order_by("username").values_list("username", flat=True)
    return {"can_grant_raw": True, "raw_grants": grants, "people": people}


def until_end_of(text: str):
    """A date from a form (YYYY-MM-DD) and the end of that day in the current time zone (the
    expiry of a grant or a share); ValueError when it is not a date."""
    day = datetime.strptime(text, "%Y-%m-%d").date()
    return day, timezone.make_aware(datetime.combine(day, time(23, 59)))


@login_required
@require_POST
def grant(request, pk):
    dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
    if not raw.may_grant(request.user):
        return HttpResponseForbidden("Only admins grant raw access.")
    person = get_user_model().objects.filter(username=request.POST.get("user", ""), is_active=True).first()
    try:
        day, until = until_end_of(request.POST.get("expires", ""))
    except ValueError:
        messages.error(request, "Not granted: expires: a date (YYYY-MM-DD).")
        return redirect("dataset", pk)
    if person is None:
        messages.error(request, "Not granted: user: choose an active account.")
        return redirect("dataset", pk)
    try:
        raw.grant(dataset, person, request.user, request.POST.get("reason"), until)
        messages.success(request, f"{person.username} holds raw access to {dataset.name} until {day:%Y-%m-%d}.")
    except raw.GrantError as exc:
        messages.error(request, f"Not granted: {exc}")
    return redirect("dataset", pk)


@login_required
@require_POST
def revoke(request, pk, grant_pk):
    dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
    if not raw.may_grant(request.user):
        return HttpResponseForbidden("Only admins revoke raw access.")
    made = get_object_or_404(RawAccessGrant, dataset=dataset, pk=grant_pk)
    try:
        raw.revoke(made, request.user, request.POST.get("reason"))
        messages.success(request, f"Raw access of {made.user.username} revoked.")
    except raw.GrantError as exc:
        messages.error(request, f"Not revoked: {exc}")
    return redirect("dataset", pk)
