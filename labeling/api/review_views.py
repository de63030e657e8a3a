"""The QA API: the review queue and its decisions, gold frames, quality figures, and flags
from annotators. QA leads and admins of a project only (others get 404 for the project)."""
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.models import Annotation, Assignment, Frame, ReviewItem
from labeling.quality import dashboard, gold, review, review_items
from labeling.work import submissions


def _project(request, project_pk):
    return member_project(request, project_pk, roles.can_review, "only QA leads and admins review")


class ReviewItemSerializer(serializers.ModelSerializer):
    sequence_name = serializers.CharField(source="sequence.name")
    frame_index = serializers.IntegerField(source="frame.index")

    class Meta:
        model = ReviewItem
        fields = ["id", "frame", "sequence", "sequence_name", "frame_index", "round", "reason", "severity", "status",
                  "opened_at", "note", "annotators", "classes"]


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "edit", "relabel", "dismiss"])
    annotation = serializers.IntegerField(required=False, help_text="accept: the version to approve")
    boxes = serializers.ListField(child=serializers.DictField(), required=False, help_text="edit: the labels")
    tags = serializers.ListField(child=serializers.DictField(), required=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=review_items.MAX_COMMENT)


class ReviewQueueView(APIView):
    """GET /api/projects/{id}/review/: open review items, lowest agreement first. Filters:
    class, annotator (user id), sequence (id), reason."""

    @extend_schema(responses=ReviewItemSerializer(many=True))
    def get(self, request, project_pk):
        project = _project(request, project_pk)
        try:
            annotator = int(request.query_params["annotator"]) if request.query_params.get("annotator") else None
            sequence = int(request.query_params["sequence"]) if request.query_params.get("sequence") else None
        except ValueError:
            return Response({"detail": "annotator and sequence are ids (integers)"}, status=400)
        reason = request.query_params.get("reason") or None
        if reason and reason not in dict(ReviewItem.REASONS):
            return Response({"detail": f"reason: one of {', '.join(dict(ReviewItem.REASONS))}", "field": "reason"},
                            status=400)
        items = review.review_queue(project, klass=request.query_params.get("class") or None, annotator=annotator,
                                    sequence=sequence, reason=reason)[:500]
        return Response(ReviewItemSerializer(items, many=True).data)


class ReviewItemView(APIView):
    """GET: the item with every version, highlighted boxes, pair scores and tags.
    POST: a decision (accept a version, edit, relabel, dismiss) with a comment."""

    @extend_schema(responses=dict)
    def get(self, request, project_pk, pk):
        project = _project(request, project_pk)
        item = get_object_or_404(ReviewItem.objects.select_related("frame", "sequence", "project"),
                                 project=project, pk=pk)
        return Response(review.describe(item))

    @extend_schema(request=DecisionSerializer, responses={201: dict, 400: dict, 409: dict})
    def post(self, request, project_pk, pk):
        project = _project(request, project_pk)
        get_object_or_404(ReviewItem, project=project, pk=pk)
        form = DecisionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data, comment = form.validated_data, form.validated_data.get("comment", "")
        try:
            if data["decision"] == "accept":
                if "annotation" not in data:
                    return Response({"detail": "annotation: which version to accept", "field": "annotation"},
                                    status=400)
                made = review.accept(project, pk, data["annotation"], request.user, comment)
            elif data["decision"] == "edit":
                made = review.edit(project, pk, {"boxes": data.get("boxes", []), "tags": data.get("tags", [])},
                                   request.user, comment)
            elif data["decision"] == "relabel":
                made = review.relabel(project, pk, request.user, comment)
            else:
                made = review.dismiss(project, pk, request.user, comment)
        except submissions.SubmissionError as exc:
            return bad_request(exc)
        except review.ReviewError as exc:
            return bad_request(exc, status.HTTP_409_CONFLICT)
        return Response({"decision": made.decision, "result": made.result_id, "item": pk}, status=201)


class GoldSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    annotation = serializers.IntegerField(required=False, help_text="an existing annotation of the frame")
    boxes = serializers.ListField(child=serializers.DictField(), required=False, help_text="or new labels")
    tags = serializers.ListField(child=serializers.DictField(), required=False)


class GoldView(APIView):
    """POST /api/projects/{id}/gold/: make a frame gold, with an annotation of it or new labels.
    DELETE /api/projects/{id}/gold/?frame=N: it stops being gold."""

    @extend_schema(request=GoldSerializer, responses={201: dict})
    def post(self, request, project_pk):
        project = _project(request, project_pk)
        form = GoldSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        frame = get_object_or_404(Frame.objects.filter(sequence__dataset_id=project.dataset_id), pk=data["frame"])
        answer = None
        if "annotation" in data:
            answer = get_object_or_404(Annotation, project=project, frame=frame, pk=data["annotation"])
        payload = None if answer else {"boxes": data.get("boxes", []), "tags": data.get("tags", [])}
        try:
            made = gold.mark(project, frame, request.user, answer=answer, payload=payload)
        except (gold.GoldError, submissions.SubmissionError) as exc:
            return bad_request(exc)
        return Response({"id": made.pk, "frame": frame.pk, "answer": made.answer_id}, status=201)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, project_pk):
        project = _project(request, project_pk)
        frame = get_object_or_404(Frame.objects.filter(sequence__dataset_id=project.dataset_id),
                                  pk=request.query_params.get("frame") or 0)
        gold.unmark(project, frame, request.user)
        return Response(status=204)


class QualityView(APIView):
    """GET /api/projects/{id}/quality/: alpha (overall, per class, tags), agreement per class,
    the annotator × annotator matrix, gold accuracy, agreement and review backlog over time."""

    @extend_schema(responses=dict)
    def get(self, request, project_pk):
        return Response(dashboard.summary(_project(request, project_pk)))


class FlagSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class FlagView(APIView):
    """POST /api/assignments/{id}/flag/: ask QA to look at this frame (optional note)."""

    @extend_schema(request=FlagSerializer, responses={201: dict})
    def post(self, request, pk):
        assignment = get_object_or_404(Assignment.objects.select_related("project", "frame"),
                                       annotator=request.user, pk=pk)
        if roles.visible_project(request.user, assignment.project_id) is None:
            raise Http404("no such assignment")
        form = FlagSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        item = review.flag(assignment.project, assignment.frame, request.user, form.validated_data.get("note", ""))
        return Response({"review_item": item.pk}, status=201)
