"""Server-rendered pages (htmx for live parts). Thin: visibility from labeling.access.roles, writes
through the domain modules."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.custody import state as custody
from labeling.footage import blobstore, dataset_versions, ingest
from labeling.models import Annotation, Frame, IngestJob, ReviewItem, Sequence
from labeling.protection import serving
from labeling.redaction import regions

from . import derived_views, drone_views, raw_access_views
from labeling.work import queue


@login_required
def home(request):
    projects = list(roles.visible_projects(request.user).select_related("dataset", "ontology_version__ontology"))
    can_label = request.user.has_perm("labeling.add_annotation")
    can_review = roles.can_review(request.user)
    can_export = roles.can_export(request.user) or roles.can_import(request.user)
    if can_label:
        for project in projects:
            project.queue_size = queue.queue_size(project, request.user)
    if can_review:
        open_items = dict(ReviewItem.objects.filter(project__in=projects, status=ReviewItem.OPEN)
                          .values_list("project").annotate(n=Count("pk")))
        for project in projects:
            project.open_reviews = open_items.get(project.pk, 0)
    datasets = roles.visible_datasets(request.user).annotate(sequence_count=Count("sequences"))
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    mine_today = (Annotation.objects.filter(annotator=request.user, created_at__gte=today, supersedes__isnull=True)
                  .select_related("frame__sequence", "project").order_by("-created_at"))
    return render(request, "frontend/home.html", {
        "projects": projects, "datasets": datasets, "role": roles.ROLE_LABELS.get(roles.role_of(request.user), "—"),
        "can_label": can_label, "can_review": can_review, "can_export": can_export, "can_manage_models": roles.can_manage_models(request.user),
        "done_today": mine_today.count(), "recent": mine_today[:10],
    })


@login_required
def label(request, pk, frame_id=None):
    project = get_object_or_404(roles.visible_projects(request.user), pk=pk)
    if not request.user.has_perm("labeling.add_annotation"):
        return HttpResponseForbidden("Your role does not label frames.")
    if project.work_unit == project.SEGMENT and frame_id is None:  # video: segments on a timeline
        return render(request, "frontend/segment.html", {"project": project})
    return render(request, "frontend/label.html", {"project": project, "frame_id": frame_id})


def _dataset(request, pk):
    return get_object_or_404(roles.visible_datasets(request.user), pk=pk)


def _live_context(request, dataset) -> dict:
    """Sequences and ingest jobs: the part of the dataset page that refreshes while ingesting."""
    sequences = list(dataset.sequences.order_by("name"))
    covers = {f.sequence_id: f for f in Frame.objects.filter(sequence__in=sequences, index=0)}
    for seq in sequences:
        seq.cover = covers.get(seq.pk)
    jobs = list(IngestJob.objects.filter(dataset=dataset).order_by("-created_at")[:20])
    return {"dataset": dataset, "sequences": sequences, "jobs": jobs,
            "polling": any(j.status not in IngestJob.FINISHED for j in jobs),
            "can_view_jobs": request.user.has_perm("labeling.view_ingestjob")}


@login_required
def dataset_detail(request, pk):
    dataset = _dataset(request, pk)
    context = _live_context(request, dataset)
    context.update({
        "versions": dataset.versions.order_by("-number")[:10],
        "can_upload": request.user.has_perm("labeling.add_ingestjob"),
        "can_snapshot": request.user.has_perm("labeling.add_datasetversion"),
        "can_view_versions": request.user.has_perm("labeling.view_datasetversion"),
        **raw_access_views.context(request, dataset),
        **derived_views.context(request, dataset),
        **drone_views.context(request, dataset),
    })
    return render(request, "frontend/dataset.html", context)


@login_required
def dataset_live(request, pk):
    return render(request, "frontend/_live.html", _live_context(request, _dataset(request, pk)))


@login_required
@require_POST
def dataset_upload(request, pk):
    dataset = _dataset(request, pk)
    if not request.user.has_perm("labeling.add_ingestjob"):
        return HttpResponseForbidden("Your role may not upload footage.")
    upload = request.FILES.get("file")
    try:
        stride = int(request.POST.get("stride") or 1)
        fps_text = (request.POST.get("target_fps") or "").strip()
        target_fps = float(fps_text) if fps_text else None
        if upload is None:
            raise ingest.UploadError("choose a file to upload")
        job = ingest.create_job(dataset, upload, sequence_name=request.POST.get("sequence_name", ""), stride=stride,
                                target_fps=target_fps, sensitive=bool(request.POST.get("sensitive")),
                                user=request.user, sidecar=request.FILES.get("telemetry"))
    except (ValueError, ingest.UploadError) as exc:
        messages.error(request, f"Upload refused: {exc}")
    else:
        messages.success(request, f"{job.original_filename} uploaded; ingest is running.")
    return redirect("dataset", pk=dataset.pk)


@login_required
@require_POST
def dataset_snapshot(request, pk):
    dataset = _dataset(request, pk)
    if not request.user.has_perm("labeling.add_datasetversion"):
        return HttpResponseForbidden("Your role may not create dataset versions.")
    try:
        version = dataset_versions.create_version(dataset, user=request.user, note=request.POST.get("note", "")[:2000])
    except dataset_versions.ManifestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Version {version.number} created: {version.frame_count} frames, manifest signed.")
    return redirect("dataset", pk=dataset.pk)


@login_required
def sequence_detail(request, pk):
    sequence = get_object_or_404(
        Sequence.objects.select_related("dataset").filter(dataset__in=roles.visible_datasets(request.user)), pk=pk
    )
    page = Paginator(sequence.frames.order_by("index"), 60).get_page(request.GET.get("page"))
    return render(request, "frontend/sequence.html", {"sequence": sequence, "page": page,
                                                      "can_redact": regions.may_edit(request.user)})


@login_required
def frame_image(request, pk, variant):
    """Frame images go through here, never through a public media URL; labeling.protection.serving
    decides what this person gets (a sensitive frame blurred, its original only with a reveal)."""
    if variant not in serving.VARIANTS:
        raise Http404("unknown image variant")
    frame = get_object_or_404(
        Frame.objects.select_related("sequence__dataset").filter(
            sequence__dataset__in=roles.visible_datasets(request.user)),
        pk=pk,
    )
    try:
        image = serving.image_for(request.user, frame, variant, reveal_token=request.GET.get("reveal", ""),
                                  project_id=request.GET.get("p"), palette=request.GET.get("palette"))
    except serving.RevealRequired as exc:
        return HttpResponseForbidden(str(exc))
    except custody.Gone as exc:  # deleted under a retention policy: say so, not "missing"
        return HttpResponse(f"Gone: {exc}", status=410, content_type="text/plain; charset=utf-8")
    except FileNotFoundError:
        raise Http404("frame file missing") from None
    if image.data is not None:
        response = HttpResponse(image.data, content_type="image/jpeg")
        response["Cache-Control"] = image.cache_control
        return response
    return _blob_response(image.name, image.cache_control)


def _blob_response(name: str, cache: str):
    try:
        fh = blobstore.open_blob(name)
    except FileNotFoundError:
        raise Http404("frame file missing") from None
    content_type = {"png": "image/png", "webp": "image/webp"}.get(name.rsplit(".", 1)[-1], "image/jpeg")
    response = FileResponse(fh, content_type=content_type)
    response["Cache-Control"] = cache
    return response
