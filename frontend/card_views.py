"""The model card page (`/models/<id>/card/`): the card with worst slices first, the promotion
history and the buttons of who may act (trainers propose and withdraw and write intended use and
limits, approvers approve or reject); and the project's incidents page, where QA leads triage.
Thin: every step is a call into labeling.governance."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.governance import cards, incidents, promotion
from labeling.models import Incident, ModelVersion, Promotion

from .access import project_for


def can_read_cards(user) -> bool:
    return roles.can_manage_models(user) or roles.can_review(user)


def _version(request, version_pk):
    """The version if its project is visible (else 404) and the person reads cards (else 403)."""
    version = ModelVersion.objects.select_related("project", "created_by").filter(pk=version_pk).first()
    if version is None or roles.visible_project(request.user, version.project_id) is None:
        raise Http404("no such model version")
    if not can_read_cards(request.user):
        return version, HttpResponseForbidden("Only trainers, QA leads and admins read model cards.")
    return version, None


@login_required
def model_card(request, version_pk):
    version, denied = _version(request, version_pk)
    if denied:
        return denied
    card = cards.card(version)
    open_proposal = version.promotions.filter(status=Promotion.PROPOSED).first()
    user = request.user
    can_approve = user.has_perm(promotion.APPROVE_PERMISSION)
    return render(request, "frontend/model_card.html", {
        "project": version.project, "version": version, "card": card, "open_proposal": open_proposal,
        "can_manage": roles.can_manage_models(user), "can_approve": can_approve,
        "is_maker": user.pk in promotion.trainers_of(version),
        "worse_rows": [(s["name"], [r for r in s["slices"] if r["worse"]]) for s in
                       (open_proposal.checks.get("sets", []) if open_proposal else [])],
    })


def _back(version):
    return redirect("model-card", version_pk=version.pk)


@login_required
@require_POST
def propose(request, version_pk):
    version, denied = _version(request, version_pk)
    if denied or not roles.can_manage_models(request.user):
        return denied or HttpResponseForbidden("Only trainers and admins propose a version for deployment.")
    try:
        promotion.propose(version, request.user, request.POST.get("note", ""))
    except promotion.PromotionError as exc:
        messages.error(request, f"Not proposed: {exc}")
    else:
        messages.success(request, "Proposed for deployment; an approver who did not train it decides.")
    return _back(version)


@login_required
@require_POST
def decide(request, version_pk, promotion_pk):
    version, denied = _version(request, version_pk)
    if denied:
        return denied
    proposal = get_object_or_404(version.promotions, pk=promotion_pk)
    action, reason = request.POST.get("action", ""), request.POST.get("reason", "")
    steps = {"approve": promotion.approve, "reject": promotion.reject, "withdraw": promotion.withdraw}
    if action not in steps:
        messages.error(request, "Choose approve, reject or withdraw.")
        return _back(version)
    try:
        steps[action](proposal, request.user, reason)
    except promotion.PromotionError as exc:
        messages.error(request, f"Not done: {exc}")
    else:
        done = {"approve": "Approved: this version is now deployed.", "reject": "Rejected.",
                "withdraw": "Proposal withdrawn."}
        messages.success(request, done[action])
    return _back(version)


@login_required
@require_POST
def describe(request, version_pk):
    version, denied = _version(request, version_pk)
    if denied or not roles.can_manage_models(request.user):
        return denied or HttpResponseForbidden("Only trainers and admins write a model card.")
    try:
        cards.describe(version, request.user, intended_use=request.POST.get("intended_use"),
                       limitations=request.POST.get("limitations"))
    except cards.CardError as exc:
        messages.error(request, f"Not saved: {exc}")
    else:
        messages.success(request, "Intended use and limitations saved.")
    return _back(version)


@login_required
def incidents_page(request, pk):
    project, denied = project_for(request, pk, can_read_cards, "Only trainers, QA leads and admins see incidents.")
    if denied:
        return denied
    found = list(project.incidents.select_related("model_version", "filed_by", "triaged_by", "fixed_in")[:200])
    return render(request, "frontend/incidents.html", {
        "project": project, "incidents": found, "can_triage": roles.can_review(request.user),
        "statuses": Incident.STATUS_CHOICES, "versions": list(project.model_versions.all()[:50])})


@login_required
@require_POST
def triage(request, pk, incident_pk):
    project, denied = project_for(request, pk, roles.can_review, "Only QA leads and admins triage incidents.")
    if denied:
        return denied
    incident = get_object_or_404(project.incidents, pk=incident_pk)
    fixed_in = request.POST.get("fixed_in") or None
    try:
        fixed = project.model_versions.filter(pk=fixed_in).first() if fixed_in and fixed_in.isdigit() else None
        if fixed_in and fixed is None:
            raise incidents.IncidentError("fixed_in: a later version of the same project")
        incidents.triage(incident, request.user, request.POST.get("status", ""), request.POST.get("note", ""), fixed)
    except incidents.IncidentError as exc:
        messages.error(request, f"Not triaged: {exc}")
    else:
        messages.success(request, f"Incident #{incident.pk} triaged.")
    return redirect("incidents", pk=project.pk)
