"""QA page for poisoned labels: per-annotator drift against consensus and gold, the flags that
stand out, and quarantining (or lifting) an annotator's submissions. QA leads and admins only;
the work is in labeling.governance (drift, quarantine)."""
from datetime import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.governance import drift, quarantine
from labeling.models import Quarantine

from .access import project_for


def _qa_project(request, pk):
    return project_for(request, pk, roles.can_review, "Only QA leads and admins see drift and quarantine work.")


@login_required
def drift_page(request, pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    figures = drift.summary(project)
    held = set(quarantine.standing(project).values_list("annotator_id", flat=True))
    for flag in figures["flags"]:
        flag["quarantined"] = flag["annotator"] in held
    quarantines = Quarantine.objects.filter(project=project).select_related("annotator", "created_by", "lifted_by")
    now = timezone.localtime()
    return render(request, "frontend/drift.html", {
        "project": project, "flags": figures["flags"], "annotators": figures["annotators"],
        "quarantines": quarantines, "params": drift.DriftParams(),
        "default_start": (now - timezone.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "default_end": (now + timezone.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
    })


def _when(value: str):
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@login_required
@require_POST
def quarantine_create(request, pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    annotator = get_user_model().objects.filter(pk=request.POST.get("annotator") or 0).first()
    starts_at, ends_at = _when(request.POST.get("starts_at")), _when(request.POST.get("ends_at"))
    try:
        if starts_at is None or ends_at is None:
            raise quarantine.QuarantineError("give the range as two dates and times")
        q = quarantine.quarantine(project, annotator, starts_at, ends_at, request.POST.get("reason", ""),
                                  request.user)
    except (quarantine.QuarantineError, quarantine.QuarantineDenied) as exc:
        messages.error(request, str(exc))
    else:
        frames = len(quarantine.affected_frames(q))
        messages.success(request, f"Quarantined {annotator.username}'s submissions: {frames} frame(s) being re-scored "
                                  "or back in the queue.")
    return redirect("drift", pk)


@login_required
@require_POST
def quarantine_lift(request, pk, quarantine_pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    q = get_object_or_404(Quarantine, pk=quarantine_pk, project=project)
    try:
        quarantine.lift(q, request.user, request.POST.get("reason", ""))
    except (quarantine.QuarantineError, quarantine.QuarantineDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Lifted: {q.annotator.username}'s submissions count again.")
    return redirect("drift", pk)
