"""Protection pages: your own (consent, preferences, your exposure today and this week, your
check-ins) and, for QA leads and admins, a project's team view (aggregates, who is near a cap,
check-in averages over large enough groups, the policy). Thin: labeling.protection decides."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.models import ProtectionPolicy
from labeling.protection import days, wellbeing
from labeling.protection import policy as policies
from labeling.protection import state as states


def _my_projects(user):
    """Projects with sensitive frames that this person labels in, with their caps."""
    out = []
    for project in roles.visible_projects(user).order_by("name"):
        if policies.has_sensitive(project.pk):
            out.append((project, policies.policy_for(project)))
    return out


@login_required
def protection(request):
    st = states.get(request.user)
    return render(request, "frontend/protection.html", {
        "state": st, "consent": st.consent and st.consent_version == policies.consent_version(),
        "version": policies.consent_version(), "exposure": states.exposure_summary(request.user),
        "projects": _my_projects(request.user), "checkins": wellbeing.mine(request.user, 10),
        "zone": days.zone(st.timezone),
    })


@login_required
@require_POST
def protection_update(request):
    action = request.POST.get("action")
    try:
        if action == "consent":
            states.set_consent(request.user, True, request.POST.get("policy_version"))
            messages.success(request, "Thank you. You may now get sensitive frames (blurred, revealed only when you ask).")
        elif action == "withdraw":
            states.set_consent(request.user, False)
            messages.success(request, "Consent withdrawn: from your next frame on, you get no sensitive frames.")
        elif action == "preferences":
            states.set_preferences(request.user, greyscale=bool(request.POST.get("greyscale")),
                                   tz=request.POST.get("timezone", "").strip())
            messages.success(request, "Preferences saved.")
        else:
            messages.error(request, "Choose an action.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("protection")


@login_required
def team(request, pk):
    project = roles.visible_project(request.user, pk)
    if project is None:
        raise Http404("no such project")
    if not roles.can_review(request.user):
        return HttpResponseForbidden("Only QA leads and admins see team protection figures.")
    policy = policies.policy_for(project)
    fields = [{"name": f.name, "label": f.verbose_name, "help": f.help_text, "value": getattr(policy, f.attname)}
              for f in ProtectionPolicy._meta.concrete_fields if f.name not in ("project", "updated_at")]
    return render(request, "frontend/protection_team.html", {
        "project": project, "team": wellbeing.team(project), "fields": fields,
        "can_edit": request.user.has_perm("labeling.change_project"),
    })


@login_required
@require_POST
def team_policy(request, pk):
    project = roles.visible_project(request.user, pk)
    if project is None:
        raise Http404("no such project")
    if not request.user.has_perm("labeling.change_project"):
        return HttpResponseForbidden("Only admins change the protection policy.")
    current = ProtectionPolicy.objects.filter(project=project).first() or ProtectionPolicy(project=project)
    try:
        for field in ProtectionPolicy._meta.concrete_fields:
            if field.name in ("project", "updated_at") or field.name not in request.POST:
                continue
            raw = request.POST[field.name].strip()
            setattr(current, field.attname, field.to_python(raw) if raw else (None if field.null else field.default))
        policies.save_policy(current, request.user)
        messages.success(request, "Protection policy saved.")
    except Exception as exc:  # noqa: BLE001 - validation errors of any field, shown to the admin
        messages.error(request, f"Not saved: {exc}")
    return redirect("protection-team", pk)
