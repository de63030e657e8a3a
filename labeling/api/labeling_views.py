"""The labeling API that the page uses: next frame, lease renewal, drafts, submit, skip, and
edits of submitted work (409 on a stale revision). Annotators only ever see their own work.

A submit may ask for the next frame too (`"next": true`): the answer then carries, under `next`,
the status and body that POST /api/projects/{id}/next/ would have answered, so that a page
labels with one request per frame instead of two."""
import logging

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from config.middleware import retry_safe
from labeling.access import raw, roles
from labeling.api import errors
from labeling.api.errors import bad_request, bad_request_data
from labeling.api.permissions import member_project
from labeling.models import Annotation, Assignment, Frame, Project, PropagationRun
from labeling.models.built import build
from labeling.work import (
    page_state,
    payloads,
    propagation_runs,
    queue,
    segments,
    submissions,
)


class SubmissionSerializer(serializers.Serializer):
    """Boxes in frame pixels; tags are frame-level classes (tag or change kind)."""

    boxes = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    tags = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    note = serializers.CharField(required=False, allow_blank=True)


class SubmitSerializer(SubmissionSerializer):
    next = serializers.BooleanField(
        required=False, default=False,
        help_text="also lease the next frame of this project, answered under `next` (one request per frame)")


class RevisionSerializer(SubmissionSerializer):
    base_revision = serializers.IntegerField(help_text="id of the revision this edit starts from")


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    revision = serializers.IntegerField()
    boxes = serializers.ListField(child=serializers.DictField())
    tags = serializers.ListField(child=serializers.DictField())


class NextAnswerSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="the status POST /api/projects/{id}/next/ would have answered: "
                                                "200, 204 (nothing left), or its 403/404")
    body = serializers.DictField(allow_null=True, help_text="and its body (null with 204)")


class SubmittedSerializer(AnnotationSerializer):
    next = NextAnswerSerializer(required=False, help_text="with `\"next\": true` only: the next frame's answer")


logger = logging.getLogger(__name__)


def _can_label(user) -> None:
    if not user.has_perm("labeling.add_annotation"):
        raise PermissionDenied("your role does not label frames")


class NextFrameView(APIView):
    """POST /api/projects/{id}/next/: the next frame to label (your current lease if you hold one)."""

    @extend_schema(request=None, responses={
        200: OpenApiResponse(dict, description="the frame to label; or, with `withheld` (kind, message, until) and no "
                                               "frame, nothing now: a break, or a protection limit reached"),
        204: OpenApiResponse(description="nothing left to label")})
    @retry_safe  # a repeat renews and returns the lease the first try made (a person holds one at a time)
    def post(self, request, project_pk):
        data, code = next_answer(request, request.user, None, project_pk)
        return Response(data, status=code)


def next_answer(request, user, data, project_pk) -> tuple[dict | None, int]:
    """The next frame's answer and status, for the DRF view and the lean one (labeling.api.lean)."""
    project = member_project(request, project_pk, lambda u: u.has_perm("labeling.add_annotation"),
                             "your role does not label frames")
    if project.annotators_need_raw and not raw.holds(user, project.dataset_id):
        raise PermissionDenied("this project's task needs the raw footage: ask an admin for raw access to its "
                               "dataset")
    try:
        lease = queue.next_lease(project, user)
    except queue.Withheld as withheld:  # a break, or a limit reached with nothing else left: not an error
        return {"assignment": None, "frame": None, "withheld": withheld.as_dict()}, status.HTTP_200_OK
    if lease is None:
        return None, status.HTTP_204_NO_CONTENT  # nothing left (a 204 carries no body)
    if project.work_unit == Project.SEGMENT:
        return (segments.state(project, user, lease.assignment, resumed=lease.resumed, notes=lease.notes),
                status.HTTP_200_OK)
    return page_state.state(project, lease.assignment.frame, user, lease=lease), status.HTTP_200_OK


def own_assignments(user):
    """The person's leases in projects they still see (what the assignment views look up in)."""
    return Assignment.objects.filter(annotator=user, project__in=roles.visible_projects(user))


def renew_answer(assignment: Assignment, user) -> tuple[dict, int]:
    try:
        assignment = queue.renew(assignment, user)
    except queue.QueueError as exc:
        return {"detail": str(exc)}, status.HTTP_409_CONFLICT
    return {"id": assignment.pk, "expires_at": assignment.expires_at.isoformat()}, status.HTTP_200_OK


def draft_answer(assignment: Assignment, user, data) -> tuple[dict | None, int]:
    try:
        submissions.save_draft(assignment, user, data)
    except submissions.SubmissionError as exc:
        return bad_request_data(exc), status.HTTP_400_BAD_REQUEST
    return None, status.HTTP_204_NO_CONTENT


def _wants_next(data) -> tuple[object, bool]:
    """The submission without its `next` flag, and the flag (a 400 unless a boolean)."""
    if not isinstance(data, dict) or "next" not in data:
        return data, False
    wanted = data["next"]
    if not isinstance(wanted, bool):
        raise submissions.SubmissionError("next", "must be true or false")
    return {k: v for k, v in data.items() if k != "next"}, wanted


def next_after_submit(request, user, project_id: int) -> dict:
    """The next frame's answer as {status, body}, once a submission has committed. Whatever it
    answers, the submission's 201 stands: the work is stored, and the page asks /next/ itself if
    this part failed."""
    try:
        body, code = next_answer(request, user, None, project_id)
    except Exception as exc:  # noqa: BLE001 - the stored submission is answered whatever happens here
        handled = errors.handle(exc, {"request": request})
        if handled is None:
            logger.exception("the next frame after submission on project %s failed", project_id)
            return {"status": status.HTTP_500_INTERNAL_SERVER_ERROR,
                    "body": {"detail": "the next frame could not be leased: ask for it again"}}
        body, code = handled.data, handled.status_code
    return {"status": code, "body": body}


def submit_answer(request, user, data, pk) -> tuple[dict, int]:
    """A submission's answer and status, for the DRF view and the lean one (labeling.api.lean);
    with `"next": true`, the next frame's answer too (`next_after_submit`)."""
    _can_label(user)
    repeat = getattr(request, "_aerie_retried", False)
    try:
        data, then_next = _wants_next(data)
    except submissions.SubmissionError as exc:
        return bad_request_data(exc), status.HTTP_400_BAD_REQUEST
    if isinstance(data, dict) and "tracks" in data:  # a segment's work (segment projects)
        try:
            done = segments.submit(pk, user, data, repeat=repeat)
        except submissions.NotYours:
            raise Http404("no such assignment") from None
        except submissions.SubmissionError as exc:
            return bad_request_data(exc), status.HTTP_400_BAD_REQUEST
        answer = {**done.payload, "late": done.late}
        project_id = Assignment.objects.filter(pk=pk).values_list("project_id", flat=True).first() if then_next else None
    else:
        try:
            submitted = submissions.submit(build(Assignment, id=pk), user, data, repeat=repeat)
        except submissions.NotYours:
            raise Http404("no such assignment") from None
        except submissions.SubmissionError as exc:
            return bad_request_data(exc), status.HTTP_400_BAD_REQUEST
        answer, project_id = submitted.payload, submitted.annotation.project_id
    if then_next:
        answer = {**answer, "next": next_after_submit(request, user, project_id)}
    return answer, status.HTTP_201_CREATED


def lean_renew(request, user, data, pk):
    return renew_answer(get_object_or_404(own_assignments(user), pk=pk), user)


def lean_draft(request, user, data, pk):
    return draft_answer(get_object_or_404(own_assignments(user), pk=pk), user, data)


class FrameStateView(APIView):
    """GET /api/projects/{id}/frames/{frame_id}/state/: your work on a frame, to edit it."""

    @extend_schema(responses=dict)
    def get(self, request, project_pk, frame_pk):
        project = get_object_or_404(roles.visible_projects(request.user), pk=project_pk)
        frame = get_object_or_404(Frame.objects.select_related("sequence").filter(
            sequence__dataset_id=project.dataset_id), pk=frame_pk)
        assignment = Assignment.objects.filter(project=project, frame=frame, annotator=request.user).first()
        return Response(page_state.state(project, frame, request.user,
                                        assignment if assignment and assignment.status == "active" else None))


class AssignmentViewSet(viewsets.GenericViewSet):
    """Your own leases: renew, autosave a draft, submit, skip."""

    serializer_class = SubmissionSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return own_assignments(self.request.user)

    @extend_schema(request=None, responses=dict)
    @action(detail=True, methods=["post"])
    @retry_safe  # sets the expiry from now: twice is the same as once
    def renew(self, request, pk=None):
        data, code = renew_answer(self.get_object(), request.user)
        return Response(data, status=code)

    @extend_schema(request=dict, responses={204: None})
    @action(detail=True, methods=["put"])
    @retry_safe  # replaces the lease's one draft: twice is the same as once
    def draft(self, request, pk=None):
        data, code = draft_answer(self.get_object(), request.user, request.data)
        return Response(data, status=code)

    @extend_schema(request=SubmitSerializer, responses={201: SubmittedSerializer})
    @action(detail=True, methods=["post"])
    @retry_safe  # a lease takes one submission; a repeat after a commit answers what was stored (and the
    # next frame: a repeat of next renews the lease its first try made)
    def submit(self, request, pk=None):
        data, code = submit_answer(request, request.user, request.data, pk)
        return Response(data, status=code)

    @extend_schema(request=dict, responses={201: dict, 409: dict})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """Edit your submitted segment: its tracks, with the `base_revision` you started from."""
        _can_label(request.user)
        try:
            done = segments.revise(pk, request.user, request.data)
        except submissions.NotYours:
            raise Http404("no such assignment") from None
        except segments.Conflict as exc:
            return Response({"detail": str(exc), "current": exc.current, "yours": exc.yours},
                            status=status.HTTP_409_CONFLICT)
        except submissions.SubmissionError as exc:
            return bad_request(exc)
        return Response(done.payload, status=status.HTTP_201_CREATED)

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"])
    def segment(self, request, pk=None):
        """Your segment lease as the segment page needs it (to continue or to edit it)."""
        assignment = self.get_object()
        if assignment.project.work_unit != Project.SEGMENT:
            raise Http404("this assignment is a frame")
        return Response(segments.state(assignment.project, request.user, assignment))

    @extend_schema(request=dict, responses={200: dict, 202: dict})
    @action(detail=True, methods=["post"])
    def propagate(self, request, pk=None):
        """Track a box forward or backward through your segment: the boxes at once for a short run
        (200), else a run to poll at /api/propagations/{id}/ (202) while the boxes arrive."""
        _can_label(request.user)
        try:
            run = propagation_runs.start(pk, request.user, request.data)
        except LookupError:
            raise Http404("no such assignment") from None
        except propagation_runs.PropagationError as exc:
            return bad_request(exc)
        done = run.status != PropagationRun.RUNNING
        return Response(propagation_runs.as_dict(run), status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED)

    @extend_schema(request=SkipSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        try:
            assignment = queue.skip(self.get_object(), request.user, request.data.get("reason", ""))
        except queue.QueueError as exc:
            return Response({"detail": str(exc), "field": "reason"}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"id": assignment.pk, "status": assignment.status})


class AnnotationViewSet(viewsets.ReadOnlyModelViewSet):
    """Annotators see their own annotations only; QA leads and admins see their projects'."""

    serializer_class = AnnotationSerializer
    filterset_fields = ["project", "frame"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Annotation.objects.none()
        qs = Annotation.objects.filter(project__in=roles.visible_projects(self.request.user),
                                       superseded_by__isnull=True).order_by("-created_at")
        if roles.role_of(self.request.user) not in (roles.QA_LEAD, roles.ADMIN):
            qs = qs.filter(annotator=self.request.user)
        return qs

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([payloads.as_payload(a) for a in page])

    def retrieve(self, request, *args, **kwargs):
        return Response(payloads.as_payload(self.get_object()))

    @extend_schema(request=RevisionSerializer, responses={201: AnnotationSerializer, 409: dict})
    @action(detail=False, methods=["post"])
    def revise(self, request):
        """Edit your submitted annotation: send the id of the revision you started from."""
        _can_label(request.user)
        base_id = request.data.get("base_revision")
        if not isinstance(base_id, int):
            return Response({"detail": "base_revision: the id of the revision you edited is required",
                             "field": "base_revision"}, status=status.HTTP_400_BAD_REQUEST)
        base = get_object_or_404(Annotation.objects.filter(project__in=roles.visible_projects(request.user),
                                                           annotator=request.user), pk=base_id)
        payload = {k: v for k, v in request.data.items() if k != "base_revision"}
        try:
            revision = submissions.revise(base, request.user, payload)
        except submissions.Conflict as exc:
            return Response({"detail": str(exc), "current": payloads.as_payload(exc.current),
                             "yours": exc.yours}, status=status.HTTP_409_CONFLICT)
        except submissions.SubmissionError as exc:
            return bad_request(exc)
        return Response(payloads.as_payload(revision), status=status.HTTP_201_CREATED)


class PropagationView(APIView):
    """GET /api/propagations/{id}/: a propagation you started, with the boxes found so far."""

    @extend_schema(responses=dict)
    def get(self, request, pk):
        run = get_object_or_404(PropagationRun.objects.filter(created_by=request.user), pk=pk)
        return Response(propagation_runs.as_dict(run))
