"""QA pages: the review queue, one review item (side by side and overlaid, with the decision
forms), the editor for an approved version, and the quality dashboard. QA leads and admins only."""
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from labeling.access import roles
from labeling.models import Annotation, ReviewItem
from labeling.protection import clearing, flags, image_urls
from labeling.quality import dashboard, gold, review
from labeling.work import payloads

from . import charts
from .access import project_for

PALETTE = ["#2f6fde", "#0e9aa7", "#a34fd6", "#17a673", "#d6336c", "#555555", "#8a6d1f"]


def _qa_project(request, pk):
    return project_for(request, pk, roles.can_review, "Only QA leads and admins review.")


@login_required
def review_queue(request, pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    q = request.GET
    try:
        annotator = int(q["annotator"]) if q.get("annotator") else None
        sequence = int(q["sequence"]) if q.get("sequence") else None
    except ValueError:
        annotator = sequence = None
        messages.error(request, "Annotator and sequence filters take ids.")
    reason = q.get("reason") if q.get("reason") in dict(ReviewItem.REASONS) else None
    items = list(review.review_queue(project, klass=q.get("class") or None, annotator=annotator, sequence=sequence,
                                     reason=reason)[:200])
    people = {u.pk: u.username for u in get_user_model().objects.filter(memberships__project=project)}
    for item in items:
        item.who = [people.get(a, f"#{a}") for a in item.annotators]
    context = {
        "project": project, "items": items, "people": sorted(people.items(), key=lambda p: p[1]),
        "classes": list(payloads.classes_of(project.ontology_version_id).values()),
        "sequences": project.dataset.sequences.order_by("name").values_list("pk", "name"),
        "reasons": ReviewItem.REASONS, "filters": q, "open_count": ReviewItem.objects.filter(
            project=project, status=ReviewItem.OPEN).count(),
    }
    template = "frontend/_review_rows.html" if request.htmx else "frontend/review_queue.html"
    return render(request, template, context)


def _item(project, item_pk):
    return get_object_or_404(ReviewItem.objects.select_related("frame", "sequence", "project"), project=project,
                             pk=item_pk)


def _described(request, pk, item_pk):
    """(project, item, what review.describe shows, None), or a refusal as the last element."""
    project, denied = _qa_project(request, pk)
    if denied:
        return None, None, None, denied
    item = _item(project, item_pk)
    return project, item, review.describe(item), None


@login_required
def review_item(request, pk, item_pk):
    project, item, view, denied = _described(request, pk, item_pk)
    if denied:
        return denied
    classes = payloads.classes_of(project.ontology_version_id)
    if view.get("kind") == "segment":  # a segment: its versions on one timeline
        return render(request, "frontend/review_segment.html", {
            "project": project, "item": item, "view": view, "decisions": item.decisions.select_related("decided_by"),
            "timelines": charts.timelines(view, {k: c.color for k, c in classes.items()}),
            "next_item": review.review_queue(project).exclude(pk=item.pk).first()})
    for n, version in enumerate(view["versions"]):
        version["color"] = "#f5b301" if version["kind"] == "gold" else PALETTE[n % len(PALETTE)]
    return render(request, "frontend/review_item.html", {
        "project": project, "item": item, "view": view, "decisions": item.decisions.select_related("decided_by"),
        "image": image_urls.for_page(item.frame_id, item.frame.sensitive, project_id=project.pk),
        "class_names": {k: c.name for k, c in classes.items()},
        "next_item": review.review_queue(project).exclude(pk=item.pk).first(),
    })


@login_required
@require_POST
def review_decide(request, pk, item_pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    item = _item(project, item_pk)
    decision, _, annotation = request.POST.get("pick", "").partition(":")
    comment = request.POST.get("comment", "").strip()
    try:
        if decision == "accept":
            review.accept(project, item.pk, int(annotation or 0), request.user, comment)
            messages.success(request, "Accepted: the frame is approved.")
        elif decision == "relabel":
            review.relabel(project, item.pk, request.user, comment)
            messages.success(request, "Sent back: new annotators will label the frame.")
        elif decision == "gold":
            answer = get_object_or_404(Annotation, project=project, frame=item.frame, pk=int(annotation or 0))
            gold.mark(project, item.frame, request.user, answer=answer)
            messages.success(request, f"This frame is now a gold frame; {answer_owner(answer)} is its answer.")
            return redirect("review-item", pk, item.pk)
        elif decision == "dismiss":
            review.dismiss(project, item.pk, request.user, comment)
            messages.success(request, "Dismissed.")
        else:
            messages.error(request, "Choose a decision.")
            return redirect("review-item", pk, item.pk)
    except (review.ReviewError, gold.GoldError, ValueError) as exc:
        messages.error(request, str(exc))
        return redirect("review-item", pk, item.pk)
    following = review.review_queue(project).first()
    return redirect("review-item", pk, following.pk) if following else redirect("review-queue", pk)


@login_required
@require_POST
def review_clear_sensitivity(request, pk, item_pk):
    """The QA lead found the item's frame not graphic (a false flag): clear it, with a reason."""
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    item = _item(project, item_pk)
    if item.segment_id:
        messages.error(request, "A segment's review covers many frames: clear a flag from the frame's own review "
                                "or through the API.")
        return redirect("review-item", pk, item.pk)
    try:
        clearing.clear(project, item.frame_id, request.user, request.POST.get("reason", ""))
        messages.success(request, "The frame is no longer marked sensitive; its flags stay in its history.")
    except flags.FlagError as exc:
        messages.error(request, str(exc))
    return redirect("review-item", pk, item.pk)


def answer_owner(answer: Annotation) -> str:
    return f"{answer.annotator.username}'s version" if answer.annotator else "the approved version"


@login_required
def review_edit(request, pk, item_pk):
    """Edit one version into the approved one, in the box editor."""
    project, item, view, denied = _described(request, pk, item_pk)
    if denied:
        return denied
    start = request.GET.get("from")
    version = next((v for v in view["versions"] if str(v["annotation"]) == start), view["versions"][0]
                   if view["versions"] else None)
    classes = payloads.classes_of(project.ontology_version_id)
    state = {
        "item": item.pk, "project": project.pk, "width": item.frame.width, "height": item.frame.height,
        "imageUrl": image_urls.for_page(item.frame_id, item.frame.sensitive, project_id=project.pk),
        "frame": item.frame_id, "sensitive": item.frame.sensitive,
        "classes": [{"key": c.key, "name": c.name, "color": c.color, "kind": c.kind, "shortcut": c.shortcut}
                    for c in classes.values()],
        "boxes": [{k: b[k] for k in ("class", "x", "y", "w", "h", "attributes", "track_id")}
                  for b in (version["boxes"] if version else [])],
        "tags": [{"class": k, **({} if v == "set" else {"changed": v == "changed"})}
                 for k, v in (version["tags"].items() if version else [])],
        "api": reverse("project-review-item", args=[project.pk, item.pk]),
        "done": reverse("review-queue", args=[project.pk]),
    }
    return render(request, "frontend/review_edit.html", {"project": project, "item": item, "version": version,
                                                         "state": state})


@login_required
def quality(request, pk):
    project, denied = _qa_project(request, pk)
    if denied:
        return denied
    figures = dashboard.summary(project)
    threshold = project.agreement_threshold
    alpha = figures["alpha"]
    class_rows = [(row["class"], row["f1"], f"{row['boxes']} boxes") for row in figures["classes"]]
    alpha_rows = [(k, v, "α") for k, v in sorted(alpha["per_class"].items())]
    gold_rows = [(row["annotator"], row["accuracy"], f"{row['passed']}/{row['checks']} passed")
                 for row in figures["gold"]]
    return render(request, "frontend/quality.html", {
        "project": project, "alpha": alpha, "threshold": threshold,
        "class_chart": charts.bars(class_rows, threshold=threshold, title="Agreement (F1) per class"),
        "alpha_chart": charts.bars(alpha_rows, threshold=0.667, title="Krippendorff's alpha per class"),
        "pair_chart": charts.heatmap(figures["pairs"]["names"], figures["pairs"]["cells"], threshold=threshold,
                                     title="Agreement per annotator pair"),
        "gold_chart": charts.bars(gold_rows, threshold=threshold, title="Gold accuracy per annotator"),
        "time_chart": charts.line([(d.strftime("%d %b"), s) for d, s, _, _ in figures["over_time"]], top=1.0,
                                  threshold=threshold, title="Mean frame agreement per day"),
        "backlog_chart": charts.line([(d.strftime("%d %b"), float(n)) for d, n in figures["backlog"]],
                                     title="Open review items", fmt="{:.0f}"),
        "scored": sum(n for _, _, n, _ in figures["over_time"]),
        "suggestions": figures["suggestions"],
    })
