from django.contrib.auth import get_user_model
from rest_framework import serializers

from labeling.access import roles
from labeling.footage.telemetry import readout
from labeling.models import (
    Dataset,
    DatasetVersion,
    Frame,
    IngestJob,
    Membership,
    Project,
    Sequence,
)
from labeling.protection import image_urls


class DatasetSerializer(serializers.ModelSerializer):
    sequence_count = serializers.IntegerField(read_only=True)
    frame_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "sensitive", "redaction_method", "metadata_level", "redact_at_ingest",
                  "created_at", "sequence_count", "frame_count"]
        read_only_fields = ["created_at"]


class SequenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sequence
        fields = ["id", "dataset", "name", "kind", "status", "source_name", "source_sha256", "source_size", "codec",
                  "fps", "stride", "target_fps", "width", "height", "frame_count", "sensitive", "created_at"]
        read_only_fields = fields


class FrameSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    telemetry = serializers.SerializerMethodField()
    conditions = serializers.SerializerMethodField()

    class Meta:
        model = Frame
        fields = ["id", "sequence", "index", "source_index", "source_name", "timestamp", "sha256", "width", "height",
                  "sensitive", "image_url", "thumbnail_url", "telemetry", "conditions"]
        read_only_fields = fields

    def get_telemetry(self, obj) -> dict | None:
        """The flight record (reduced to the dataset's metadata level without raw access)."""
        return readout.of_row(getattr(obj, "telemetry", None), obj.sequence.dataset, self.context["request"].user)

    def get_conditions(self, obj) -> dict | None:
        c = getattr(obj, "condition", None)
        return None if c is None else {k: getattr(c, k) for k in (
            "night", "blurred", "thermal", "altitude_band", "view_band", "brightness", "sharpness", "blur_effect")}

    def get_image_url(self, obj) -> str:
        return image_urls.for_page(obj.pk, obj.sensitive)

    def get_thumbnail_url(self, obj) -> str:
        return image_urls.for_page(obj.pk, obj.sensitive, "thumbnail")


class IngestJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = IngestJob
        fields = ["id", "dataset", "sequence", "sequence_name", "original_filename", "upload_size", "stride",
                  "target_fps", "sensitive", "status", "frames_done", "frames_total", "percent", "message",
                  "attempts", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text=(
        "A video (an MPEG-TS with MISB ST 0601 KLV gives telemetry per frame), an image, a zip of images "
        "(8-bit, or 16-bit single-channel PNG/TIFF: thermal), or a zip of one video and its DJI .SRT"))
    telemetry = serializers.FileField(required=False, help_text="The DJI .SRT sidecar of the video")
    sequence_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    stride = serializers.IntegerField(required=False, min_value=1, default=1)
    target_fps = serializers.FloatField(required=False, allow_null=True, min_value=0.001, max_value=240)
    sensitive = serializers.BooleanField(required=False, default=False)


class DatasetVersionSerializer(serializers.ModelSerializer):
    sequences = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "number", "frame_count", "sequences", "manifest_sha256", "signature", "key_id",
                  "note", "created_at"]
        read_only_fields = fields


class DatasetVersionCreateSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "dataset", "ontology_version", "overlap", "agreement_threshold",
                  "iou_threshold", "frame_stride", "work_unit", "segment_length", "segment_shared",
                  "blind_annotators", "annotators_need_raw", "created_at"]
        read_only_fields = ["created_at"]


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model().objects.filter(is_active=True)
    )
    role = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "added_at"]
        read_only_fields = ["id", "role", "added_at"]

    def get_role(self, obj) -> str | None:
        return roles.role_of(obj.user)
