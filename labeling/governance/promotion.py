"""Promotion: from a registered model version to the *deployed* one of its project and kind.

Deployed is separate from current: the sampler scores frames with the current version
(`registry.make_current`), downstream systems use the deployed one. A version is deployed only
when

1. it has a finished evaluation run on every *required* evaluation set of the project;
2. on those sets, no slice (nor the overall figure) lost more mAP@0.5 than the project's
   `promotion_tolerance` against the deployed version of the same kind (where that version was
   evaluated on the set too);
3. no confirmed incident against it is open, when the project says incidents block promotion;
4. a person holding `labeling.approve_modelversion` approves it who neither trained it (the
   training run whose result it is), uploaded it (`created_by`), nor proposed it: the
   two-person rule.

The gates are computed when the version is proposed (a proposal that fails them is refused and
nothing is stored) and again when it is approved. Every step is an audit event."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import audit
from labeling.access import roles
from labeling.models import EvaluationRun, Incident, ModelVersion, Promotion, TrainingRun

from . import compare as compare_mod

APPROVE_PERMISSION = "labeling.approve_modelversion"


class PromotionError(ValueError):
    """The step was refused; nothing changed."""


def deployed(project, kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, kind=kind, is_deployed=True).first()


def latest_run(version: ModelVersion, evaluation_set) -> EvaluationRun | None:
    return (EvaluationRun.objects.filter(model_version=version, evaluation_set=evaluation_set,
                                         status=EvaluationRun.DONE)
            .order_by("-finished_at", "-created_at", "-pk").first())


def trainers_of(version: ModelVersion) -> set[int]:
    """Everyone who made the version: who uploaded/registered it and who started its training."""
    ids = set(TrainingRun.objects.filter(result=version).exclude(created_by=None)
              .values_list("created_by_id", flat=True))
    if version.created_by_id:
        ids.add(version.created_by_id)
    return ids


def checks(version: ModelVersion) -> dict:
    """The gates, computed now: what a proposal stores and an approval re-checks."""
    project = version.project
    baseline = deployed(project, version.kind)
    if baseline is not None and baseline.pk == version.pk:
        baseline = None
    tolerance = float(project.promotion_tolerance)
    problems, sets = [], []
    for evaluation_set in project.evaluation_sets.filter(required=True).order_by("name"):
        run = latest_run(version, evaluation_set)
        entry = {"set": evaluation_set.pk, "name": evaluation_set.name, "run": run.pk if run else None,
                 "baseline_run": None, "slices": [], "worse": []}
        if run is None:
            problems.append(f"no finished evaluation run on the required evaluation set '{evaluation_set.name}'")
        elif baseline is not None:
            base_run = latest_run(baseline, evaluation_set)
            if base_run is not None:
                rows = compare_mod.compare(base_run.metrics, run.metrics, tolerance)
                entry.update(baseline_run=base_run.pk, slices=rows,
                             worse=[r["slice"] for r in compare_mod.worse(rows)])
                for row in compare_mod.worse(rows):
                    problems.append(f"'{evaluation_set.name}' slice {row['slice']}: mAP@0.5 {row['b']:.3f} vs "
                                    f"{row['a']:.3f} deployed ({row['delta']:+.3f}, tolerance {tolerance:.3f})")
        sets.append(entry)
    confirmed = list(Incident.objects.filter(model_version=version, status=Incident.CONFIRMED)
                     .order_by("pk").values_list("pk", flat=True))
    block = bool(project.incidents_block_promotion)
    if confirmed and block:
        problems.append(f"{len(confirmed)} confirmed incident{'s' if len(confirmed) != 1 else ''} open against "
                        f"this version (#{', #'.join(map(str, confirmed))}); the project blocks promotion on them")
    return {"baseline": baseline.pk if baseline else None, "tolerance": tolerance, "sets": sets,
            "confirmed_incidents": confirmed, "incidents_block": block, "problems": problems,
            "passed": not problems}


def _refuse_if_failing(result: dict, what: str) -> None:
    if not result["passed"]:
        raise PromotionError(f"{what}: " + "; ".join(result["problems"]))


def propose(version: ModelVersion, user, note: str = "") -> Promotion:
    if not roles.can_manage_models(user):
        raise PromotionError("only trainers and admins propose a model version for deployment")
    if version.is_deployed:
        raise PromotionError("this version is already deployed")
    result = checks(version)
    _refuse_if_failing(result, "not proposed")
    try:
        with transaction.atomic():
            promotion = Promotion.objects.create(project_id=version.project_id, model_version=version,
                                                 checks=result, note=(note or "").strip(), proposed_by=user)
            audit.record(user, "model.promotion.propose", promotion,
                         {"model_version": version.pk, "sha256": version.sha256, "passed": True,
                          "baseline": result["baseline"], "note": promotion.note})
    except IntegrityError:
        raise PromotionError("this version already has an open proposal") from None
    return promotion


def _open(promotion: Promotion) -> Promotion:
    locked = Promotion.objects.select_for_update().select_related("model_version__project").get(pk=promotion.pk)
    if locked.status != Promotion.PROPOSED:
        raise PromotionError(f"this proposal is already {locked.status}")
    return locked


def approve(promotion: Promotion, user, reason: str = "") -> Promotion:
    """Deploy the version (the previous deployed one of its kind stops being deployed)."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(APPROVE_PERMISSION):
        raise PromotionError("only a person with the approver permission approves a deployment")
    with transaction.atomic():
        promotion = _open(promotion)
        version = promotion.model_version
        if user.pk in trainers_of(version):
            raise PromotionError("two-person rule: you trained or uploaded this version, so someone else approves it")
        if user.pk == promotion.proposed_by_id:
            raise PromotionError("two-person rule: you proposed this version, so someone else approves it")
        result = checks(version)
        _refuse_if_failing(result, "not approved")
        now = timezone.now()
        previous = list(ModelVersion.objects.select_for_update()
                        .filter(project_id=version.project_id, kind=version.kind, is_deployed=True)
                        .exclude(pk=version.pk).values_list("pk", flat=True))
        ModelVersion.objects.filter(pk__in=previous).update(is_deployed=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_deployed=True, deployed_at=now)
        promotion.status, promotion.decided_by, promotion.decided_at = Promotion.APPROVED, user, now
        promotion.reason, promotion.checks = (reason or "").strip(), result
        promotion.save(update_fields=["status", "decided_by", "decided_at", "reason", "checks"])
        audit.record(user, "model.promotion.approve", promotion,
                     {"model_version": version.pk, "reason": promotion.reason})
        audit.record(user, "model.deploy", version, {"project": version.project_id, "sha256": version.sha256,
                                                     "previous": previous, "promotion": promotion.pk})
    version.is_deployed, version.deployed_at = True, now
    return promotion


def reject(promotion: Promotion, user, reason: str) -> Promotion:
    if not getattr(user, "is_authenticated", False) or not user.has_perm(APPROVE_PERMISSION):
        raise PromotionError("only a person with the approver permission rejects a deployment")
    reason = (reason or "").strip()
    if not reason:
        raise PromotionError("reason: say why the version is rejected")
    with transaction.atomic():
        promotion = _open(promotion)
        promotion.status, promotion.decided_by, promotion.decided_at = Promotion.REJECTED, user, timezone.now()
        promotion.reason = reason
        promotion.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        audit.record(user, "model.promotion.reject", promotion,
                     {"model_version": promotion.model_version_id, "reason": reason})
    return promotion


def withdraw(promotion: Promotion, user, reason: str = "") -> Promotion:
    """The proposer (or another trainer or admin) takes a proposal back."""
    if not roles.can_manage_models(user):
        raise PromotionError("only trainers and admins withdraw a proposal")
    with transaction.atomic():
        promotion = _open(promotion)
        promotion.status, promotion.decided_by, promotion.decided_at = Promotion.WITHDRAWN, user, timezone.now()
        promotion.reason = (reason or "").strip()
        promotion.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        audit.record(user, "model.promotion.withdraw", promotion,
                     {"model_version": promotion.model_version_id, "reason": promotion.reason})
    return promotion
