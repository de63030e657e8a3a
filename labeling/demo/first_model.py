"""The demo's first model: a detector trained on the stand-ins' approved history and made
current, so the models page lists a model, the queue is re-ranked by it and the labeling page
offers its suggestions. `manage.py demo_first_model` runs it; `make run` starts that command in
the background once the server is up (training takes minutes on a CPU, see the README).

Idempotent: once the project has a detector, nothing is trained again; a run that a stopped
server left unfinished is trained again from its start (`training.run`)."""
from __future__ import annotations

from django.contrib.auth import get_user_model

from labeling.demo.basics import PROJECT
from labeling.models import ModelVersion, Project, TrainingRun
from labeling.sampling import training


def existing(project: Project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, kind=ModelVersion.DETECTOR).order_by("-pk").first()


def unfinished(project: Project) -> TrainingRun | None:
    return (TrainingRun.objects.filter(project=project, kind=ModelVersion.DETECTOR,
                                       status__in=[TrainingRun.QUEUED, TrainingRun.RUNNING])
            .order_by("-pk").first())


def train(*, project_name: str = PROJECT, **params) -> tuple[ModelVersion | None, str]:
    """Train the first detector in this process (`params`: training parameters, e.g. epochs) and
    make it current. Returns (the model, what happened)."""
    project = Project.objects.filter(name=project_name).first()
    if project is None:
        return None, f"no project '{project_name}': run manage.py load_demo first"
    found = existing(project)
    if found is not None:
        return found, f"'{project.name}' has a model already (version {found.pk}); nothing trained"
    trainer = get_user_model().objects.filter(username="trainer").first()
    run = unfinished(project) or training.start(project, ModelVersion.DETECTOR, user=trainer, make_current=True,
                                                enqueue=False, **params)
    run = training.run(run.pk)
    if run.status != TrainingRun.DONE:
        return None, f"training run {run.pk} {run.status}: {run.message}"
    seconds = run.progress[-1]["seconds"] if run.progress else None
    return run.result, (f"trained model version {run.result_id} on '{project.name}' in {seconds} s "
                        f"({run.epochs_done} epochs); it is current")
