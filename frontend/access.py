"""Who may open a project's page: members only (others get 404, so existence does not leak),
and of those only the roles the page is for (others get 403 with a reason)."""
from django.http import Http404, HttpResponseForbidden

from labeling.access import roles


def project_for(request, pk, allowed, refusal: str):
    """(project, None) or (project, a 403 response); raises 404 for non-members."""
    project = roles.visible_project(request.user, pk)
    if project is None:
        raise Http404("no such project")
    if not allowed(request.user):
        return project, HttpResponseForbidden(refusal)
    return project, None
