from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from labeling.access import roles


def member_project(request, project_pk, allowed=None, why: str = ""):
    """The project if the person may see it (else 404: existence does not leak), and if
    `allowed(user)` holds (else 403 saying `why`)."""
    project = roles.visible_project(request.user, project_pk)
    if project is None:
        raise Http404("no such project")
    if allowed is not None and not allowed(request.user):
        raise PermissionDenied(why)
    return project


class ModelPermsForWrites(BasePermission):
    """Reads need only a login (querysets limit what is visible); writes need the Django model
    permission that the user's role group grants, e.g. labeling.add_dataset for a POST."""

    actions = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return True
        perm = getattr(view, "write_permission", None)
        if perm is None:
            model = view.get_queryset().model
            perm = f"{model._meta.app_label}.{self.actions[request.method]}_{model._meta.model_name}"
        return request.user.has_perm(perm)
