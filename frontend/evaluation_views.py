"""The models page's evaluation part: the project's evaluation sets, a form to evaluate a detector
on one, the runs with their figures (polled while one runs, with the training and scoring runs),
and two versions compared slice by slice on one set, the slices that got worse marked. Thin:
the figures come from labeling.governance.evaluation."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.governance import evaluation
from labeling.models import ModelVersion
from labeling.models.governance import EvaluationRun

from .access import project_for

RUNS_SHOWN = 20


def runs_context(project) -> dict:
    """The newest evaluation runs, each with its progress and headline figures."""
    runs = list(EvaluationRun.objects.filter(project=project).select_related("model_version", "evaluation_set")
                .order_by("-created_at")[:RUNS_SHOWN])
    for run in runs:
        run.percent = 100 if run.status == EvaluationRun.DONE or not run.frames_total else \
            round(100 * run.frames_done / run.frames_total)
        run.overall = (run.metrics or {}).get("overall") or {}
        run.tracks = ((run.metrics or {}).get("tracking") or {}).get("overall")
    return {"evaluations": runs, "evaluating": any(r.status == EvaluationRun.RUNNING for r in runs)}


def _pick(queryset, value):
    return queryset.filter(pk=int(value)).first() if str(value or "").isdigit() else None


def page_context(request, project) -> dict:
    """Sets, detectors and (when the person asked, or by default the deployed version against the
    newest other one) a comparison."""
    detectors = list(project.model_versions.filter(kind=ModelVersion.DETECTOR).order_by("-created_at"))
    sets = list(project.evaluation_sets.order_by("-required", "name"))
    asked = {k: request.GET.get(k) for k in ("a", "b", "set")}

    def listed(rows, value):  # what the person picked, among what the page lists
        return next((r for r in rows if str(r.pk) == str(value)), None)

    a, b, eset = listed(detectors, asked["a"]), listed(detectors, asked["b"]), listed(sets, asked["set"])
    comparison, problem = None, ""
    if not any(asked.values()):  # by default: the deployed version against the newest other one
        a = next((v for v in detectors if v.is_deployed), None)
        b = next((v for v in detectors if v != a), None)
        both = set()
        if a and b:  # the sets both were evaluated on, in one query
            done = EvaluationRun.objects.filter(model_version__in=[a, b], status=EvaluationRun.DONE)
            pairs = set(done.values_list("evaluation_set_id", "model_version_id"))
            both = {s for s, v in pairs if v == a.pk and (s, b.pk) in pairs}
        eset = next((s for s in sets if s.pk in both), None)
    if a and b and eset:
        try:
            comparison = evaluation.comparison(a, b, eset)
        except evaluation.EvaluationError as exc:
            problem = str(exc)
    elif any(asked.values()):
        problem = "Pick two detector versions and an evaluation set."
    return {"detectors": detectors, "evaluation_sets": sets, "compare_a": a, "compare_b": b, "compare_set": eset,
            "comparison": comparison, "compare_problem": problem}


@login_required
@require_POST
def evaluate(request, pk):
    project, denied = project_for(request, pk, roles.can_manage_models, "Only trainers and admins manage models.")
    if denied:
        return denied
    version = _pick(project.model_versions.all(), request.POST.get("version"))
    eset = _pick(project.evaluation_sets.all(), request.POST.get("set"))
    if version is None or eset is None:
        messages.error(request, "Evaluation not started: pick a model version and an evaluation set of this project.")
    else:
        try:
            run = evaluation.start_run(version, eset, request.user)
        except evaluation.EvaluationError as exc:
            messages.error(request, f"Evaluation not started: {exc}")
        else:
            messages.success(request, f"Evaluation run {run.pk}: version #{version.pk} on {eset.name!r}, "
                                      f"{run.frames_total} frames in {run.chunks_total} chunks.")
    return redirect(reverse("models", kwargs={"pk": project.pk}) + "#evaluation")
