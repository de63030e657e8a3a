from django.contrib import admin

from .models import (Annotation, AuditEvent, AuditLink, AuditSeal, Dataset, DatasetVersion, Frame, IngestJob,
                     LoginThrottle, Membership, Project, ProtectionPolicy, Sequence, SensitivityFlag)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is append-only: operators can look, not edit."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "sensitive", "created_at"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        was_sensitive = change and Dataset.objects.filter(pk=obj.pk, sensitive=True).exists()
        super().save_model(request, obj, form, change)
        if obj.sensitive and not was_sensitive:
            from .protection import flags

            flags.mark_dataset(obj, request.user, "marked sensitive in the admin")


@admin.register(Sequence)
class SequenceAdmin(ReadOnlyAdmin):
    list_display = ["name", "dataset", "kind", "status", "frame_count", "width", "height", "created_at"]
    list_filter = ["status", "kind", "dataset"]


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdmin):
    list_display = ["id", "sequence", "index", "width", "height", "sensitive", "sha256"]
    list_filter = ["sensitive"]
    list_select_related = ["sequence"]
    show_full_result_count = False


@admin.register(IngestJob)
class IngestJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "original_filename", "dataset", "status", "frames_done", "frames_total", "created_at"]
    list_filter = ["status"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "number", "frame_count", "manifest_sha256", "key_id", "created_at"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fk_name = "project"
    fields = ["user"]


class ProtectionPolicyInline(admin.StackedInline):
    model = ProtectionPolicy
    extra = 1
    max_num = 1
    can_delete = False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "ontology_version", "overlap", "agreement_threshold"]
    inlines = [MembershipInline, ProtectionPolicyInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        from labeling.access import cache

        cache.forget("protection-policy", form.instance.pk)


@admin.register(SensitivityFlag)
class SensitivityFlagAdmin(ReadOnlyAdmin):
    list_display = ["at", "source", "dataset", "sequence", "frame", "frames", "actor", "score"]
    list_filter = ["source"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "frame", "annotator", "revision", "status", "source", "created_at"]
    list_filter = ["status", "source"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "verb", "object_type", "object_id"]
    list_filter = ["verb"]


@admin.register(AuditLink)
class AuditLinkAdmin(ReadOnlyAdmin):
    list_display = ["seq", "event", "hash"]


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    list_display = ["seq", "hash", "at", "key_id", "sealed_by"]


@admin.register(LoginThrottle)
class LoginThrottleAdmin(ReadOnlyAdmin):
    """Failed sign-ins per username/address; delete a row to lift its lockout early."""

    list_display = ["key", "failures", "window_start", "locked_until"]
    search_fields = ["key"]

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.groups.filter(name="admin").exists()
