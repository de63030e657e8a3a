"""The exports page of a project: start an export (trainers, admins), watch its progress, download
it (audited); import a COCO or MOT file (admins, QA leads). Thin: labeling.exchange.exports and
labeling.exchange.imports do the work."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labeling.access import raw, roles
from labeling.api.export_views import import_arguments
from labeling.exchange import exports, imports
from labeling.models import Export


def _project(request, pk):
    project = roles.visible_project(request.user, pk)
    if project is None:
        raise Http404("no such project")
    return project


def _context(request, project) -> dict:
    items = list(project.exports.select_related("created_by", "dataset_version")[:30])
    return {"project": project, "exports": items, "polling": any(e.status not in Export.FINISHED for e in items),
            "can_export": roles.can_export(request.user), "can_import": roles.can_import(request.user)}


@login_required
def exports_page(request, pk):
    project = _project(request, pk)
    context = _context(request, project)
    if not (context["can_export"] or context["can_import"]):
        return HttpResponseForbidden("Only trainers and admins export; admins and QA leads import.")
    if request.htmx:
        return render(request, "frontend/_exports.html", context)
    context.update({
        "versions": project.dataset.versions.order_by("-number")[:20],
        "formats": Export.FORMATS, "scopes": Export.SCOPES, "modes": [
            (imports.PRELABEL, "Pre-labels (the 'model' annotator)"), (imports.GOLD, "Gold answers"),
            (imports.ANNOTATOR, "An annotator's work")],
        "members": project.members.order_by("username").values_list("username", flat=True),
        "sequences": project.dataset.sequences.order_by("name").values_list("name", flat=True),
        "holds_raw": raw.holds(request.user, project.dataset_id),
    })
    return render(request, "frontend/exports.html", context)


@login_required
@require_POST
def export_create(request, pk):
    project = _project(request, pk)
    if not roles.can_export(request.user):
        return HttpResponseForbidden("Only trainers and admins export.")
    version = None
    chosen = request.POST.get("dataset_version", "")
    if chosen:
        version = project.dataset.versions.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        if version is None:
            messages.error(request, "Export refused: dataset_version is not a version of this project's dataset.")
            return redirect("exports", pk=project.pk)
    try:
        export = exports.create(project, request.user, format=request.POST.get("format", ""),
                                scope=request.POST.get("scope") or Export.APPROVED, dataset_version=version,
                                include_images=bool(request.POST.get("include_images")),
                                image_kind=request.POST.get("image_kind") or Export.DERIVED,
                                include_sensitive=bool(request.POST.get("include_sensitive")))
    except exports.ExportError as exc:
        messages.error(request, f"Export refused: {exc}")
    else:
        messages.success(request, f"Export {export.pk} ({export.get_format_display()}) started.")
    return redirect("exports", pk=project.pk)


@login_required
def export_download(request, pk, export_pk):
    project = _project(request, pk)
    if not roles.can_export(request.user):
        return HttpResponseForbidden("Only trainers and admins download exports.")
    export = get_object_or_404(project.exports, pk=export_pk)
    try:
        fh = exports.open_for_download(export, request.user)
    except exports.ExportError as exc:
        messages.error(request, str(exc))
        return redirect("exports", pk=project.pk)
    return FileResponse(fh, as_attachment=True, filename=export.download_name, content_type="application/zip")


@login_required
@require_POST
def import_upload(request, pk):
    project = _project(request, pk)
    if not roles.can_import(request.user):
        return HttpResponseForbidden("Only admins and QA leads import.")
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Import refused: choose a file.")
        return redirect("exports", pk=project.pk)
    fields = {k: request.POST.get(k, "") for k in ("format", "mode", "annotator", "sequence", "class_map",
                                                    "default_class")}
    try:
        if fields["format"] not in imports.FORMATS:
            raise imports.ImportRefused([f"format: one of {', '.join(imports.FORMATS)}"])
        report = imports.run(project, request.user, **import_arguments({**fields, "file": upload}, project))
    except imports.ImportRefused as exc:
        messages.error(request, f"Import of {upload.name} refused, nothing changed:")
        for error in exc.errors[:50]:
            messages.error(request, error)
    else:
        messages.success(request, f"Imported {upload.name}: {report.boxes} boxes on {report.frames} frames "
                                  f"({report.tracks} tracks) as {report.mode}.")
        for note in report.notes:
            messages.info(request, note)
    return redirect("exports", pk=project.pk)
