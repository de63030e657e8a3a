"""The trainer's page: model versions with metrics and lineage, the current ones, training and
scoring runs with live progress, and the learning curve. Trainers and admins only; annotators
see nothing of this beyond a better queue."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.models import ModelVersion, ScoringRun, TrainingRun
from labeling.sampling import registry, scoring, training

from . import charts, evaluation_views
from .access import project_for

CURVE_METRIC = {ModelVersion.DETECTOR: ("map50", "Detector: validation mAP@0.5 vs labels"),
                ModelVersion.CLASSIFIER: ("tag_accuracy", "Tag classifier: validation accuracy vs labels")}


def _trainer_project(request, pk):
    return project_for(request, pk, roles.can_manage_models, "Only trainers and admins manage models.")


def _percent(done, total) -> int:
    return 100 if not total else round(100 * done / total)


def _jobs_context(project) -> dict:
    trainings = list(project.training_runs.select_related("result")[:10])
    for run in trainings:
        run.percent = _percent(run.epochs_done, run.params.get("epochs"))
        run.last = run.progress[-1] if run.progress else {}
    scorings = list(project.scoring_runs.select_related("detector", "classifier")[:10])
    for run in scorings:
        run.percent = _percent(run.frames_done, run.frames_total) if run.status != ScoringRun.DONE else 100
    evaluations = evaluation_views.runs_context(project)
    return {"project": project, "trainings": trainings, "scorings": scorings, **evaluations,
            "polling": any(r.status in (TrainingRun.QUEUED, TrainingRun.RUNNING) for r in trainings)
            or any(r.status == ScoringRun.RUNNING for r in scorings) or evaluations["evaluating"]}


def learning_curves(versions) -> list[tuple[str, object]]:
    """One SVG line per model kind: its validation metric against the labels it was trained on."""
    out = []
    for kind, (metric, title) in CURVE_METRIC.items():
        points = sorted(((v.metrics.get("labels") or 0, v.metrics.get(metric)) for v in versions
                         if v.kind == kind and v.metrics.get(metric) is not None), key=lambda p: p[0])
        out.append((title, charts.line([(str(n), float(m)) for n, m in points], top=1.0, title=title)))
    return out


@login_required
def models_page(request, pk):
    project, denied = _trainer_project(request, pk)
    if denied:
        return denied
    versions = list(project.model_versions.select_related("created_by"))
    context = {**_jobs_context(project), "versions": versions, "curves": learning_curves(versions),
               "kinds": ModelVersion.KINDS, "defaults": training.DEFAULTS,
               "architectures": sorted(registry.ARCHITECTURES.items()),
               "examples": training.examples_mod.count_approved(project),
               "min_frames": training.MIN_FRAMES, **evaluation_views.page_context(request, project)}
    return render(request, "frontend/models.html", context)


@login_required
def models_jobs(request, pk):
    project, denied = _trainer_project(request, pk)
    if denied:
        return denied
    return render(request, "frontend/_model_jobs.html", _jobs_context(project))


def _int(value, name):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise training.TrainingError(f"{name}: a whole number") from None


@login_required
@require_POST
def train(request, pk):
    project, denied = _trainer_project(request, pk)
    if denied:
        return denied
    form = request.POST
    try:
        run = training.start(project, form.get("kind", ""), user=request.user,
                             make_current=form.get("make_current") == "on",
                             epochs=_int(form.get("epochs"), "epochs"),
                             architecture=form.get("architecture") or None)
    except training.TrainingError as exc:
        messages.error(request, f"Training not started: {exc}")
    else:
        messages.success(request, f"Training run {run.pk} queued ({run.architecture}, {run.params['epochs']} epochs).")
    return redirect("models", pk=project.pk)


@login_required
@require_POST
def rescore(request, pk):
    project, denied = _trainer_project(request, pk)
    if denied:
        return denied
    try:
        run = scoring.start_run(project, reason="by hand", user=request.user)
    except scoring.ScoringError as exc:
        messages.error(request, f"Scoring not started: {exc}")
    else:
        scoring.send_chunks(run.pk)
        messages.success(request, f"Scoring run {run.pk}: {run.frames_total} open frames in {run.chunks_total} chunks.")
    return redirect("models", pk=project.pk)


@login_required
@require_POST
def make_current(request, pk, version_pk):
    project, denied = _trainer_project(request, pk)
    if denied:
        return denied
    version = get_object_or_404(project.model_versions, pk=version_pk)
    registry.make_current(version, request.user)
    messages.success(request, f"{version.architecture} {version.sha256[:12]} is now current; the queue is being re-scored.")
    return redirect("models", pk=project.pk)
