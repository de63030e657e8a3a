"""The audit pages: the trail with filters (verb, actor, object, project, date range), its
export as JSON lines (streamed), the chain's head and seals, and sealing on demand. QA leads see
their projects' events, admins all (labeling.audit.query); everyone else gets 403."""
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.audit import chain, query
from labeling.models import AuditSeal

PAGE = 100
REFUSAL = "Only QA leads and admins see the audit trail."


def _filtered(request):
    """(filters, events) for this person and the request's filters; raises Http404 for a
    project they cannot see and FilterError for a filter that cannot be read."""
    filters = query.Filters.parse(request.GET)
    if filters.project is not None and roles.visible_project(request.user, filters.project) is None:
        raise Http404("no such project")
    return filters, filters.apply(query.visible_events(request.user))


@login_required
def audit_page(request):
    if not query.can_view(request.user):
        return HttpResponseForbidden(REFUSAL)
    error = None
    try:
        filters, events = _filtered(request)
    except query.FilterError as exc:
        filters, events, error = query.Filters(), query.visible_events(request.user).none(), str(exc)
    chain.link_pending()  # show every committed event with its hash (beat does it within seconds anyway)
    before = request.GET.get("before", "")
    if before.isdigit():
        events = events.filter(pk__lt=int(before))
    rows = list(events.select_related("actor", "link", "project").order_by("-id")[:PAGE + 1])
    more = rows[PAGE - 1].pk if len(rows) > PAGE else None
    for event in rows:
        event.data_json = json.dumps(event.data, ensure_ascii=False, default=str)
    query_string = request.GET.copy()
    query_string.pop("before", None)
    head_seq, head_hash = chain.head()
    context = {
        "events": rows[:PAGE], "older": more, "filters": request.GET, "query": query_string.urlencode(),
        "error": error, "projects": roles.visible_projects(request.user).order_by("name").values_list("pk", "name"),
        "head_seq": head_seq, "head_hash": head_hash, "is_admin": roles.is_admin(request.user),
        "last_seal": AuditSeal.objects.order_by("-seq", "-id").first(),
    }
    template = "frontend/_audit_rows.html" if request.htmx else "frontend/audit.html"
    return render(request, template, context)


@login_required
def audit_export(request):
    if not query.can_view(request.user):
        return HttpResponseForbidden(REFUSAL)
    try:
        filters, events = _filtered(request)
    except query.FilterError as exc:
        messages.error(request, str(exc))
        return redirect("audit")
    response = StreamingHttpResponse(query.export(request.user, filters, events), content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="aerie-audit.jsonl"'
    return response


@login_required
@require_POST
def audit_seal(request):
    if not roles.is_admin(request.user):
        return HttpResponseForbidden("Only admins seal the audit trail.")
    made = chain.seal(request.user)
    if made is None:
        messages.info(request, "The audit trail is empty: nothing to seal yet.")
    else:
        messages.success(request, f"Sealed the chain at event {made.seq} with key {made.key_id}.")
    return redirect("audit")
