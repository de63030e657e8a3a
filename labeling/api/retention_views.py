"""Retention and legal holds (admins): a dataset's policy and holds, a preview, a run and its
progress; holds on datasets and sequences, and lifting one. Thin: labeling.custody checks,
records and audits."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import jobs
from labeling.access import roles
from labeling.api.errors import bad_request
from labeling.custody import holds, retention
from labeling.footage import datasets
from labeling.models import LegalHold, RetentionRun, Sequence


class PolicySerializer(serializers.Serializer):
    raw_retention_days = serializers.IntegerField(min_value=0, max_value=36500, allow_null=True)
    derived_retention_days = serializers.IntegerField(min_value=0, max_value=36500, allow_null=True)

    def validate(self, data):
        raw, derived = data["raw_retention_days"], data["derived_retention_days"]
        if derived is not None and (raw is None or raw > derived):
            raise serializers.ValidationError({"derived_retention_days": "derived renditions are remade from raw "
                                               "frames, so they are kept at least as long as raw frames"})
        return data


class HoldReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=holds.MAX_REASON)


def _admin(request):
    if roles.role_of(request.user) != roles.ADMIN:
        raise PermissionDenied("only admins manage retention and legal holds")


def hold_dict(hold: LegalHold) -> dict:
    return {"id": hold.pk, "dataset": hold.dataset_id, "sequence": hold.sequence_id, "reason": hold.reason,
            "placed_by": hold.placed_by.username if hold.placed_by else None, "placed_at": hold.placed_at.isoformat(),
            "lifted_at": hold.lifted_at.isoformat() if hold.lifted_at else None,
            "lifted_by": hold.lifted_by.username if hold.lifted_by else None, "lift_reason": hold.lift_reason}


def run_dict(run: RetentionRun) -> dict:
    return {"id": run.pk, "dataset": run.dataset_id, "status": run.status, "reason": run.reason,
            "sequences_done": run.sequences_done, "sequences_total": run.sequences_total,
            "files_deleted": run.blobs_deleted, "bytes_deleted": run.bytes_deleted, "counts": run.counts,
            "message": run.message, "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}


def _dataset(request, pk):
    dataset = get_object_or_404(roles.visible_datasets(request.user), pk=pk)
    _admin(request)
    return dataset


class DatasetRetentionView(APIView):
    """GET /api/datasets/{id}/retention/: the policy, the holds (live and lifted) and the last runs.
    PUT {"raw_retention_days", "derived_retention_days"} (days; null: forever): set the policy."""

    @extend_schema(responses=dict)
    def get(self, request, pk):
        dataset = _dataset(request, pk)
        found = LegalHold.objects.filter(dataset=dataset) | LegalHold.objects.filter(sequence__dataset=dataset)
        runs = RetentionRun.objects.filter(dataset=dataset)[:10]
        return Response({"dataset": dataset.pk, "raw_retention_days": dataset.raw_retention_days,
                         "derived_retention_days": dataset.derived_retention_days,
                         "holds": [hold_dict(h) for h in found.select_related("placed_by", "lifted_by")],
                         "runs": [run_dict(r) for r in runs]})

    @extend_schema(request=PolicySerializer, responses={200: dict, 400: dict})
    def put(self, request, pk):
        dataset = _dataset(request, pk)
        form = PolicySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        dataset.raw_retention_days = form.validated_data["raw_retention_days"]
        dataset.derived_retention_days = form.validated_data["derived_retention_days"]
        datasets.save_dataset(dataset, request.user)
        return Response({"dataset": dataset.pk, "raw_retention_days": dataset.raw_retention_days,
                         "derived_retention_days": dataset.derived_retention_days})


class RetentionPreviewView(APIView):
    """POST /api/datasets/{id}/retention/preview/: what a run would delete now (nothing is;
    the preview is audited)."""

    @extend_schema(request=None, responses=dict)
    def post(self, request, pk):
        return Response(retention.preview(_dataset(request, pk), user=request.user))


class RetentionRunView(APIView):
    """POST /api/datasets/{id}/retention/run/: start a run over the dataset in a worker (202);
    409 while another run is going."""

    @extend_schema(request=None, responses={202: dict, 409: dict})
    def post(self, request, pk):
        dataset = _dataset(request, pk)
        made = retention.start(dataset, user=request.user, reason="api")
        if made is None:
            return Response({"detail": "another retention run is going; try again when it has finished"},
                            status=status.HTTP_409_CONFLICT)
        jobs.enqueue("retention_run", made.pk)
        return Response(run_dict(made), status=status.HTTP_202_ACCEPTED)


class RetentionRunDetailView(APIView):
    """GET /api/retention-runs/{id}/: a run's progress."""

    @extend_schema(responses=dict)
    def get(self, request, pk):
        _admin(request)
        return Response(run_dict(get_object_or_404(RetentionRun, pk=pk)))


def _place(request, target):
    form = HoldReasonSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        made = holds.place(target, request.user, form.validated_data["reason"])
    except holds.HoldError as exc:
        return bad_request(exc)
    return Response(hold_dict(made), status=status.HTTP_201_CREATED)


class DatasetHoldView(APIView):
    """POST /api/datasets/{id}/holds/ {"reason"}: place a legal hold on the dataset."""

    @extend_schema(request=HoldReasonSerializer, responses={201: dict, 400: dict})
    def post(self, request, pk):
        return _place(request, _dataset(request, pk))


class SequenceHoldView(APIView):
    """POST /api/sequences/{id}/holds/ {"reason"}: place a legal hold on one sequence."""

    @extend_schema(request=HoldReasonSerializer, responses={201: dict, 400: dict})
    def post(self, request, pk):
        sequence = get_object_or_404(Sequence.objects.filter(dataset__in=roles.visible_datasets(request.user)), pk=pk)
        _admin(request)
        return _place(request, sequence)


class LiftHoldView(APIView):
    """POST /api/holds/{id}/lift/ {"reason"}: lift a live hold (audited)."""

    @extend_schema(request=HoldReasonSerializer, responses={200: dict, 400: dict})
    def post(self, request, pk):
        visible = roles.visible_datasets(request.user)
        hold = get_object_or_404(LegalHold.objects.filter(dataset__in=visible)
                                 | LegalHold.objects.filter(sequence__dataset__in=visible), pk=pk)
        _admin(request)
        form = HoldReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            hold = holds.lift(hold, request.user, form.validated_data["reason"])
        except holds.HoldError as exc:
            return bad_request(exc)
        return Response(hold_dict(LegalHold.objects.select_related("placed_by", "lifted_by").get(pk=hold.pk)))
