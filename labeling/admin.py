from django import forms
from django.contrib import admin, messages

from labeling.access import cache, roles
from labeling.footage import datasets
from labeling.models import (
    AgreementRun,
    Annotation,
    AuditEvent,
    AuditLink,
    AuditSeal,
    Dataset,
    DatasetVersion,
    Frame,
    IngestJob,
    LoginThrottle,
    Membership,
    Project,
    ProtectionPolicy,
    SensitivityFlag,
    Sequence,
)
from labeling.quality import rescoring
from labeling.work import projects


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
    list_display = ["name", "sensitive", "redaction_method", "redact_at_ingest", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        datasets.save_dataset(obj, request.user, note="marked sensitive in the admin")


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


class ProjectForm(forms.ModelForm):
    def clean_ontology_version(self):
        version = self.cleaned_data["ontology_version"]
        try:
            projects.check_ontology_version(version)
        except projects.ProjectError as exc:
            raise forms.ValidationError(exc.message) from None
        return version


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Saved through labeling.work.projects, as the API saves projects: queued and audited."""

    form = ProjectForm
    readonly_fields = ["created_by", "created_at"]  # set by the service, not chosen
    list_display = ["name", "dataset", "ontology_version", "overlap", "agreement_threshold"]
    inlines = [MembershipInline, ProtectionPolicyInline]
    actions = ["rescore_agreement"]

    @admin.action(description="Re-score agreement of every frame (in the background)")
    def rescore_agreement(self, request, queryset):
        """A QA lead's or admin's "re-score agreement" (labeling.quality.rescoring), per project."""
        visible = roles.visible_projects(request.user) if roles.can_review(request.user) else Project.objects.none()
        for project in queryset:
            if not visible.filter(pk=project.pk).exists():
                self.message_user(request, f"{project}: only its QA leads and admins re-score it", messages.ERROR)
                continue
            try:
                run = rescoring.start_run(project, reason="re-score by hand (admin)", user=request.user)
            except rescoring.RescoreError as exc:
                self.message_user(request, f"{project}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{project}: agreement run {run.pk} started ({run.frames_total} frames)")

    def save_model(self, request, obj, form, change):
        projects.save_project(obj, request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        changed = formset.save(commit=False)  # new rows, and rows whose person changed (also a new member)
        for membership in formset.deleted_objects:
            projects.remove_member(membership, request.user)
        for membership in changed:
            if membership.pk is not None:
                projects.remove_member(Membership.objects.get(pk=membership.pk), request.user)
            projects.add_member(form.instance, membership.user, request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        cache.forget("protection-policy", form.instance.pk)


@admin.register(AgreementRun)
class AgreementRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "status", "reason", "chunks_done", "chunks_total", "frames_done", "created_at",
                    "finished_at"]
    list_filter = ["status"]


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
