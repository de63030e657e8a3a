"""The annotator-protection API: your own state (consent, preferences, exposure), reveals of
sensitive originals, reports of graphic content, check-ins and breaks; for leads, the team's
aggregates and the project's policy; for uploaders, marking footage sensitive. Thin: the rules
live in labeling.protection."""
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.api.permissions import member_project
from labeling.models import Exposure, Frame, ProtectionPolicy, Sequence
from labeling.protection import clearing, flags, image_urls, reveal, wellbeing
from labeling.protection import policy as policies
from labeling.protection import state as states


def _frame_of(project, frame_pk) -> Frame:
    return get_object_or_404(Frame.objects.select_related("sequence").filter(sequence__dataset_id=project.dataset_id),
                             pk=frame_pk)


def me_payload(user) -> dict:
    st = states.get(user)
    return {
        "consent": st.consent and st.consent_version == policies.consent_version(),
        "consent_version": st.consent_version or None, "current_policy_version": policies.consent_version(),
        "greyscale": st.greyscale, "timezone": st.timezone or None, "thermal_palette": st.thermal_palette,
        "break_until": st.break_until.isoformat() if st.break_until else None,
        "checkin_due": st.checkin_due or None,
        "exposure": states.exposure_summary(user),
    }


class PreferencesSerializer(serializers.Serializer):
    greyscale = serializers.BooleanField(required=False)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    thermal_palette = serializers.CharField(required=False, max_length=12,
                                            help_text="white-hot, black-hot, ironbow or rainbow")


class MeView(APIView):
    """GET /api/protection/me/: your consent, preferences and exposure today and this week.
    PATCH: greyscale (bool), timezone (IANA name; your day, and so your caps, ends at your midnight),
    thermal_palette (how 16-bit thermal frames are coloured for you)."""

    @extend_schema(responses=dict)
    def get(self, request):
        return Response(me_payload(request.user))

    @extend_schema(request=PreferencesSerializer, responses=dict)
    def patch(self, request):
        form = PreferencesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            states.set_preferences(request.user, greyscale=form.validated_data.get("greyscale"),
                                   tz=form.validated_data.get("timezone"),
                                   palette=form.validated_data.get("thermal_palette"))
        except ValueError as exc:
            return bad_request(exc)
        return Response(me_payload(request.user))


class ConsentSerializer(serializers.Serializer):
    consent = serializers.BooleanField()
    policy_version = serializers.CharField(required=False, max_length=40)


class ConsentView(APIView):
    """POST /api/protection/consent/ {"consent": true, "policy_version": "1"} to opt in to
    sensitive frames, {"consent": false} to withdraw (effective from your next frame)."""

    @extend_schema(request=ConsentSerializer, responses=dict)
    def post(self, request):
        form = ConsentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            states.set_consent(request.user, form.validated_data["consent"], form.validated_data.get("policy_version"))
        except ValueError as exc:
            return bad_request(exc)
        return Response(me_payload(request.user))


class CheckinSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5, allow_null=True)
    moment = serializers.ChoiceField(choices=["start", "after_break"])
    project = serializers.IntegerField(required=False)


class CheckinRowSerializer(serializers.Serializer):
    score = serializers.IntegerField(allow_null=True)
    moment = serializers.CharField()
    at = serializers.DateTimeField()


class CheckinView(APIView):
    """POST /api/protection/checkin/ {"score": 1–5 or null to skip, "moment": "start"|"after_break"}.
    Private: only you see your answers; leads see averages over large enough groups."""

    @extend_schema(request=CheckinSerializer, responses={201: dict, 204: None})
    def post(self, request):
        form = CheckinSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = roles.visible_project(request.user, data["project"]) if data.get("project") else None
        made = wellbeing.checkin(request.user, data["score"], data["moment"], project)
        if made is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"id": made.pk, "score": made.score, "moment": made.moment}, status=201)

    @extend_schema(responses=CheckinRowSerializer(many=True))
    def get(self, request):
        return Response([{"score": c.score, "moment": c.moment, "at": c.at.isoformat()}
                         for c in wellbeing.mine(request.user)])


class BreakView(APIView):
    """POST /api/projects/{id}/break/: take a break now (the project's break length); the queue
    serves nothing until it ends."""

    @extend_schema(request=None, responses=dict)
    def post(self, request, project_pk):
        kind, message, until = wellbeing.take_break(request.user, member_project(request, project_pk))
        return Response({"withheld": {"kind": kind, "message": message, "until": until.isoformat()}})


class RevealView(APIView):
    """POST /api/projects/{id}/frames/{frame_id}/reveal/: a short-lived URL to the original of a
    sensitive frame, for you only; counts as an exposure until you end it."""

    @extend_schema(request=None, responses={201: dict, 403: dict, 409: dict})
    def post(self, request, project_pk, frame_pk):
        project = member_project(request, project_pk)
        frame = _frame_of(project, frame_pk)
        try:
            issued = reveal.issue(request.user, frame, project)
        except reveal.RevealRefused as exc:
            code = status.HTTP_403_FORBIDDEN if exc.kind == "consent" else status.HTTP_409_CONFLICT
            return Response({"detail": exc.message, "kind": exc.kind}, status=code)
        return Response(issued, status=201)


class RevealEndView(APIView):
    """POST /api/reveals/{id}/end/: the frame is blurred again; the reveal's duration is stored."""

    @extend_schema(request=None, responses=dict)
    def post(self, request, pk):
        try:
            exposure = reveal.end(request.user, pk)
        except Exposure.DoesNotExist:
            raise Http404("no such reveal") from None
        return Response({"reveal": exposure.pk, "duration_s": exposure.duration_s})


class ReportSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReportView(APIView):
    """POST /api/projects/{id}/frames/{frame_id}/report/: this frame shows graphic content (one
    click, optional note). It is blurred for everyone from now on."""

    @extend_schema(request=ReportSerializer, responses={201: dict})
    def post(self, request, project_pk, frame_pk):
        project = member_project(request, project_pk)
        frame = _frame_of(project, frame_pk)
        form = ReportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        flag = flags.report(frame, request.user, form.validated_data.get("note", ""), project)
        return Response({"flag": flag.pk, "frame": frame.pk, "sensitive": True,
                         "image_url": image_urls.for_page(frame.pk, True, project_id=project.pk)}, status=201)


class SensitivityView(APIView):
    """GET /api/projects/{id}/frames/{frame_id}/sensitivity/: why a frame is sensitive (every flag
    with its source). QA leads and admins."""

    @extend_schema(responses=dict)
    def get(self, request, project_pk, frame_pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins see flag sources")
        frame = _frame_of(project, frame_pk)
        return Response({"frame": frame.pk, "sensitive": frame.sensitive, "flags": flags.sources(frame.pk)})


class ClearSensitivityView(APIView):
    """POST /api/projects/{id}/frames/{frame_id}/sensitivity/clear/ {"reason"}: the frame is not
    graphic after all (a model's false alarm): it is no longer sensitive; the flags stay in its
    history with this clearance. QA leads and admins."""

    @extend_schema(request=dict, responses={201: dict, 400: dict})
    def post(self, request, project_pk, frame_pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins clear a flag")
        frame = _frame_of(project, frame_pk)
        reason = request.data.get("reason") if isinstance(request.data, dict) else None
        try:
            clearing.clear(project, frame.pk, request.user, reason)
        except flags.FlagError as exc:
            return bad_request(exc)
        return Response({"frame": frame.pk, "sensitive": False, "flags": flags.sources(frame.pk)},
                        status=status.HTTP_201_CREATED)


MAX_INDEX = 2**31 - 1  # frame indexes are PostgreSQL integers: a larger number is a 400, not a 500


class MarkSerializer(serializers.Serializer):
    first_index = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INDEX)
    last_index = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INDEX)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _may_mark(user):
    if not user.has_perm("labeling.change_dataset"):
        raise PermissionDenied("only those who manage footage mark it sensitive")


class DatasetSensitiveView(APIView):
    """POST /api/datasets/{id}/sensitive/: all of the dataset's footage is graphic (now and later)."""

    @extend_schema(request=MarkSerializer, responses={201: dict})
    def post(self, request, pk):
        dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
        _may_mark(request.user)
        form = MarkSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        flag = flags.mark_dataset(dataset, request.user, form.validated_data.get("note", ""))
        return Response({"flag": flag.pk, "frames": flag.frames}, status=201)


class SequenceSensitiveView(APIView):
    """POST /api/sequences/{id}/sensitive/ {"first_index": 10, "last_index": 40}: the sequence, or
    a range of its frames (inclusive), is graphic."""

    @extend_schema(request=MarkSerializer, responses={201: dict})
    def post(self, request, pk):
        sequence = get_object_or_404(Sequence.objects.filter(dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _may_mark(request.user)
        form = MarkSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            flag = flags.mark_sequence(sequence, request.user, first_index=data.get("first_index"),
                                       last_index=data.get("last_index"), note=data.get("note", ""))
        except flags.FlagError as exc:
            return bad_request(exc)
        return Response({"flag": flag.pk, "frames": flag.frames}, status=201)


class PolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProtectionPolicy
        exclude = ["project", "updated_at"]


class TeamView(APIView):
    """GET /api/projects/{id}/protection/: the team's exposure today and this week, who is near a
    daily cap (alphabetical, no figures per person), check-in averages over large enough groups,
    and the policy. QA leads and admins. PATCH (admins): change the policy."""

    @extend_schema(responses=dict)
    def get(self, request, project_pk):
        project = member_project(request, project_pk, roles.can_review, "only QA leads and admins see team figures")
        return Response({**wellbeing.team(project), "policy": PolicySerializer(policies.policy_for(project)).data})

    @extend_schema(request=PolicySerializer, responses=dict)
    def patch(self, request, project_pk):
        project = member_project(request, project_pk, lambda u: u.has_perm("labeling.change_project"),
                                 "only admins change the protection policy")
        current = ProtectionPolicy.objects.filter(project=project).first() or ProtectionPolicy(project=project)
        form = PolicySerializer(current, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        for key, value in form.validated_data.items():
            setattr(current, key, value)
        policies.save_policy(current, request.user)
        return Response(PolicySerializer(current).data)


