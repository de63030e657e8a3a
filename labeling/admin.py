from django import forms
from django.contrib import admin, messages

from labeling.access import cache, roles
from labeling.custody import holds
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
    LegalHold,
    LoginThrottle,
    Membership,
    Project,
    ProtectionPolicy,
    RetentionRun,
    SensitivityFlag,
    Sequence,
    SigningKey,
    SoftwareBill,
    Tombstone,
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


class HoldInline(admin.TabularInline):
    """The holds on a dataset or sequence, as they are: placed and lifted under Legal holds."""

    model = LegalHold
    extra = 0
    can_delete = False
    fields = readonly_fields = ["placed_at", "placed_by", "reason", "lifted_at", "lifted_by", "lift_reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "sensitive", "redaction_method", "redact_at_ingest", "raw_retention_days",
                    "derived_retention_days", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    search_fields = ["name"]
    inlines = [HoldInline]

    def save_model(self, request, obj, form, change):
        datasets.save_dataset(obj, request.user, note="marked sensitive in the admin")


@admin.register(Sequence)
class SequenceAdmin(ReadOnlyAdmin):
    list_display = ["name", "dataset", "kind", "status", "frame_count", "width", "height", "created_at",
                    "raw_expired_at", "derived_expired_at"]
    list_filter = ["status", "kind", "dataset"]
    inlines = [HoldInline]


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


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """The signing keyring, to look at: rotate, revoke, retire and trust with the manage.py
    commands (rotate_signing_key, revoke_signing_key, retire_signing_key, trust_signing_key)."""

    list_display = ["key_id", "state", "origin", "source", "created_at", "activated_at", "retired_at", "revoked_at",
                    "revoked_reason"]
    list_filter = ["state", "origin"]
    search_fields = ["key_id", "note"]

    def changelist_view(self, request, extra_context=None):
        from labeling.access import keyring

        try:  # the configured key file is the keyring's first key: list it before it first signs
            keyring.ensure()
        except keyring.KeyringError as exc:
            messages.error(request, str(exc))
        return super().changelist_view(request, extra_context)


@admin.register(SoftwareBill)
class SoftwareBillAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "aerie_version", "git_commit", "postgres_version", "packages", "key_id", "created_at"]
    search_fields = ["sha256", "git_commit"]


@admin.register(LoginThrottle)
class LoginThrottleAdmin(ReadOnlyAdmin):
    """Failed sign-ins per username/address; delete a row to lift its lockout early."""

    list_display = ["key", "failures", "window_start", "locked_until"]
    search_fields = ["key"]

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.groups.filter(name="admin").exists()


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = ["dataset", "sequence", "reason", "lift_reason"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and bool(data.get("dataset")) == bool(data.get("sequence")):
            raise forms.ValidationError("A hold is on a dataset or on one sequence: choose exactly one.")
        lifting = self.instance.pk is not None and self.instance.lifted_at is None
        if lifting and not (data.get("lift_reason") or "").strip():
            raise forms.ValidationError("To lift the hold, say why (it goes into the audit trail).")
        return data


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    """Placed (add) and lifted (fill in the lift reason) through labeling.custody.holds: audited.
    Never deleted."""

    form = LegalHoldForm
    list_display = ["id", "dataset", "sequence", "reason", "placed_by", "placed_at", "lifted_at", "lifted_by"]
    list_filter = ["lifted_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["placed_by", "placed_at"]
        done = ["dataset", "sequence", "reason", "placed_by", "placed_at", "lifted_at", "lifted_by"]
        return done + (["lift_reason"] if obj.lifted_at else [])

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["dataset", "sequence", "reason"]
        return ["dataset", "sequence", "reason", "placed_by", "placed_at", "lift_reason", "lifted_at", "lifted_by"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            made = holds.place(obj.dataset or obj.sequence, request.user, obj.reason)
        else:
            made = holds.lift(obj, request.user, form.cleaned_data["lift_reason"])
        obj.__dict__.update({k: v for k, v in made.__dict__.items() if not k.startswith("_")})


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "dataset", "status", "reason", "sequences_done", "sequences_total", "blobs_deleted",
                    "bytes_deleted", "created_at", "finished_at"]
    list_filter = ["status"]


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    list_display = ["deleted_at", "name", "kind", "size", "dataset", "sequence", "policy_days", "run"]
    list_filter = ["kind"]
    search_fields = ["name", "sha256"]
    show_full_result_count = False
