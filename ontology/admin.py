from django.contrib import admin

from .models import LabelClass, Ontology, OntologyMigration, OntologyVersion


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0
    fields = ["key", "name", "kind", "color", "shortcut", "sensitive", "redact", "attributes", "order"]

    def has_change_permission(self, request, obj=None):
        return obj is None or not obj.is_published

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(Ontology)
class OntologyAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]


@admin.register(OntologyVersion)
class OntologyVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "published_at", "derived_from"]
    list_filter = ["status"]
    inlines = [LabelClassInline]
    readonly_fields = ["status", "published_at", "published_by"]

    def has_change_permission(self, request, obj=None):
        return obj is None or not obj.is_published

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_published


@admin.register(OntologyMigration)
class OntologyMigrationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at", "applied_at", "applied_revisions"]
    readonly_fields = ["applied_at", "applied_by", "applied_revisions"]
