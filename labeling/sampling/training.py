"""The training job: a project's approved labels -> a signed, registered model version.

`start` records a TrainingRun (refusing clearly when there is nothing to train on); `run` (the
Celery task calls it) trains it epoch by epoch, saving the epoch's loss and validation metrics on
the run as it goes, then signs the weights with this installation's key and registers them
(`registry.register`), with lineage: the dataset version, ontology version, the approved-label
snapshot (how many frames and boxes, and a sha256 over their ids), the parent model and the split,
and the evaluation sets whose frames were left out (labeling.governance.evaluation_sets) with how
many frames each removed.

Fine-tuning: when the project has a current model of the same kind, architecture and class map,
training starts from its weights (re-verified by `registry.load`); otherwise from scratch. No
weights are downloaded. CPU by default, the GPU when torch sees one.
"""
from __future__ import annotations

import hashlib
import io
import random
import time

from django.db import transaction
from django.utils import timezone

from labeling import audit, jobs
from labeling.models import DatasetVersion, ModelVersion, Project, TrainingRun
from labeling.provenance import bills
from labeling.sampling import examples as examples_mod
from labeling.sampling import images as images_mod
from labeling.sampling import registry

DEFAULTS = {
    ModelVersion.DETECTOR: {"architecture": "fasterrcnn_mobilenet_v3_large_320_fpn", "epochs": 5, "lr": 0.01,
                            "batch_size": 4, "image_size": 320},
    ModelVersion.CLASSIFIER: {"architecture": "mobilenet_v3_small", "epochs": 5, "lr": 0.001,
                              "batch_size": 8, "image_size": 224},
}
MIN_FRAMES = 4


class TrainingError(ValueError):
    """Training was refused (nothing started) or failed (the run says why)."""


def class_map_for(project: Project, kind: str) -> list[str]:
    """The ontology version's box classes (detector) or tag classes (classifier), in order."""
    from ontology.models import LabelClass

    wanted = LabelClass.TAG if kind == ModelVersion.CLASSIFIER else LabelClass.BOX
    return list(LabelClass.objects.filter(version_id=project.ontology_version_id, kind=wanted)
                .order_by("order", "key").values_list("key", flat=True))


def start(project: Project, kind: str, *, user=None, make_current: bool = False, enqueue: bool = True,
          **params) -> TrainingRun:
    """Record a training run after checking that it can run, and send it to a worker once the
    transaction commits (`enqueue=False`: the caller runs it). Raises TrainingError otherwise."""
    if kind not in DEFAULTS:
        raise TrainingError(f"kind: one of {sorted(DEFAULTS)}")
    merged = dict(DEFAULTS[kind])
    unknown = set(params) - set(merged) - {"seed", "val_fraction"}
    if unknown:
        raise TrainingError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
    merged.update({k: v for k, v in params.items() if v is not None})
    merged.setdefault("seed", 0)
    merged.setdefault("val_fraction", 0.2)
    if registry.ARCHITECTURES.get(merged["architecture"]) != kind:
        allowed = sorted(a for a, k in registry.ARCHITECTURES.items() if k == kind)
        raise TrainingError(f"architecture: a {kind} is one of {allowed}")
    for name, low, high in (("epochs", 1, 200), ("batch_size", 1, 64), ("image_size", 64, 1333)):
        if not isinstance(merged[name], int) or not low <= merged[name] <= high:
            raise TrainingError(f"{name}: a whole number from {low} to {high}")
    if not isinstance(merged["lr"], (int, float)) or not 0 < merged["lr"] <= 1:
        raise TrainingError("lr: a number in (0, 1]")
    if not class_map_for(project, kind):
        raise TrainingError(f"the project's ontology version has no {'tag' if kind == 'classifier' else 'box'} "
                            "classes to train on")
    found = examples_mod.count_approved(project)
    if found < MIN_FRAMES:
        raise TrainingError(f"only {found} frame(s) have approved labels; training needs at least {MIN_FRAMES}")
    parent = ModelVersion.objects.filter(project=project, kind=kind, is_current=True).first()
    with transaction.atomic():
        run = TrainingRun.objects.create(project=project, kind=kind, architecture=merged["architecture"],
                                         parent=parent, params=merged, make_current=make_current,
                                         created_by=user if getattr(user, "is_authenticated", False) else None)
        audit.record(user, "training.start", run, {"project": project.pk, "kind": kind, "params": merged})
        if enqueue:
            jobs.enqueue("train_model", run.pk)
    return run


def _snapshot(found) -> dict:
    digest = hashlib.sha256(",".join(str(ex.frame_id) for ex in sorted(found, key=lambda e: e.frame_id)).encode())
    # the approved revisions themselves: which submissions a version learned from can be told
    # later (labeling.governance.quarantine flags versions trained on quarantined work)
    return {"frames": len(found), "boxes": sum(len(ex.boxes) for ex in found),
            "tags": sum(len(ex.tags) for ex in found), "frame_ids_sha256": digest.hexdigest(),
            "annotation_ids": sorted(ex.annotation_id for ex in found if ex.annotation_id is not None)}


def _progress(run: TrainingRun, entry: dict) -> None:
    run.progress = [*run.progress, entry]
    run.epochs_done = entry["epoch"]
    TrainingRun.objects.filter(pk=run.pk).update(progress=run.progress, epochs_done=run.epochs_done)


def run(run_id: int) -> TrainingRun:
    """Train a recorded run to the end (idempotent: a finished run is left alone)."""
    import torch

    from labeling.sampling import nets

    run_ = TrainingRun.objects.select_related("project", "parent").get(pk=run_id)
    if run_.status in (TrainingRun.DONE, TrainingRun.FAILED):
        return run_
    TrainingRun.objects.filter(pk=run_.pk).update(status=TrainingRun.RUNNING, started_at=timezone.now(),
                                                  progress=[], epochs_done=0)
    run_.progress = []
    try:
        version = _train(run_, torch, nets)
    except Exception as exc:  # noqa: BLE001 - the run records why it failed; nothing is registered
        TrainingRun.objects.filter(pk=run_.pk).update(status=TrainingRun.FAILED, finished_at=timezone.now(),
                                                      message=f"{type(exc).__name__}: {exc}"[:2000])
        audit.record(run_.created_by, "training.failed", run_, {"error": str(exc)[:500]})
        if not isinstance(exc, TrainingError):
            raise
    else:
        TrainingRun.objects.filter(pk=run_.pk).update(status=TrainingRun.DONE, finished_at=timezone.now(),
                                                      result=version)
    run_.refresh_from_db()
    return run_


def _train(run_: TrainingRun, torch, nets) -> ModelVersion:
    project, params, kind = run_.project, run_.params, run_.kind
    started = time.monotonic()
    nets.set_threads()
    torch.manual_seed(params["seed"])
    found, other_version = examples_mod.approved_examples(project)
    held_out = examples_mod.evaluation_exclusions(project)
    if len(found) < MIN_FRAMES:
        raise TrainingError(f"only {len(found)} frame(s) have approved labels; training needs at least {MIN_FRAMES}")
    train_set, val_set, split = examples_mod.split_by_sequence(found, params["val_fraction"], params["seed"])
    class_map = class_map_for(project, kind)
    index = {key: i for i, key in enumerate(class_map)}

    model, parent_used = registry.build(run_.architecture, len(class_map)), None
    parent = run_.parent
    if parent and parent.architecture == run_.architecture and parent.class_map == class_map:
        model, parent_used = registry.load(parent), parent.pk
    dev = nets.device()
    model.to(dev)

    def tensors(exs):
        pixels = [images_mod.decode(ex.image_name, params["image_size"]) for ex in exs]
        imgs = [images_mod.to_tensor(p) for p, _ in pixels]
        if kind == ModelVersion.DETECTOR:
            targets = [nets.detector_targets(ex.boxes, scale, index) for ex, (_, scale) in zip(exs, pixels)]
        else:
            targets = [torch.tensor([1.0 if key in ex.tags else 0.0 for key in class_map]) for ex in exs]
        return imgs, targets

    train_imgs, train_targets = tensors(train_set)
    val_imgs, val_targets = tensors(val_set)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if kind == ModelVersion.DETECTOR:
        optimizer = torch.optim.SGD(trainable, lr=params["lr"], momentum=0.9, weight_decay=1e-4)
        step = nets.detector_step
    else:
        optimizer = torch.optim.AdamW(trainable, lr=params["lr"])
        step = nets.classifier_step
    rng = random.Random(params["seed"])
    order = list(range(len(train_imgs)))
    metrics: dict = {}
    for epoch in range(1, params["epochs"] + 1):
        rng.shuffle(order)
        losses = []
        for start_at in range(0, len(order), params["batch_size"]):
            batch = order[start_at:start_at + params["batch_size"]]
            losses.append(step(model, optimizer, [train_imgs[i] for i in batch], [train_targets[i] for i in batch]))
        if kind == ModelVersion.DETECTOR:
            metrics = nets.detection_map(model, val_imgs, val_targets, len(class_map))
        else:
            metrics = nets.tag_accuracy(model, val_imgs, val_targets)
        _progress(run_, {"epoch": epoch, "loss": round(sum(losses) / max(len(losses), 1), 5), **metrics,
                         "seconds": round(time.monotonic() - started, 1)})

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    data = buffer.getvalue()
    dataset_version = DatasetVersion.objects.filter(dataset_id=project.dataset_id).order_by("-number").first()
    final = {**metrics, "loss": run_.progress[-1]["loss"] if run_.progress else None,
             "train_frames": len(train_set), "val_frames": len(val_set), "split": split,
             "labels": sum(len(ex.boxes) + len(ex.tags) for ex in train_set + val_set),
             "epochs": params["epochs"], "seconds": round(time.monotonic() - started, 1)}
    lineage = {"training_run": run_.pk, "parent_model": parent_used, "from_scratch": parent_used is None,
               "ontology_version": project.ontology_version_id,
               "dataset_version": dataset_version.number if dataset_version else None,
               "approved_snapshot": _snapshot(found), "left_out_other_ontology_version": other_version,
               "evaluation_sets_excluded": held_out["sets"], "left_out_evaluation_frames": held_out["frames"],
               "val_sequences": sorted({ex.sequence_id for ex in val_set}), "params": params, "device": str(dev),
               "sbom_sha256": bills.current(run_.created_by).sha256}  # the software that trained it
    signature = registry.sign(data, run_.architecture, class_map)
    version = registry.register(project, data, architecture=run_.architecture, class_map=class_map,
                                signature=signature, user=run_.created_by, metrics=final, lineage=lineage)
    if run_.make_current:
        registry.make_current(version, run_.created_by)
    return version
