from django.contrib.auth import views as auth_views
from django.urls import path

from . import (
    audit_views,
    derived_views,
    evaluation_views,
    export_views,
    login_views,
    model_views,
    protection_views,
    raw_access_views,
    redaction_views,
    review_views,
    share_views,
    views,
)
from . import quarantine_views  # quarantine and drift (issue #18)

urlpatterns = [
    path("login/", login_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset"),
    path("datasets/<int:pk>/live/", views.dataset_live, name="dataset-live"),
    path("datasets/<int:pk>/upload/", views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:pk>/snapshot/", views.dataset_snapshot, name="dataset-snapshot"),
    path("datasets/<int:pk>/redaction/", derived_views.start_redaction, name="dataset-redaction-start"),
    path("datasets/<int:pk>/versions/<int:version_pk>/derive/", derived_views.derive, name="dataset-derive"),
    path("datasets/<int:pk>/derived/<int:derived_pk>/share/", derived_views.share, name="dataset-share"),
    path("datasets/<int:pk>/shares/<int:share_pk>/revoke/", derived_views.revoke_share, name="dataset-share-revoke"),
    path("datasets/<int:pk>/raw-access/", raw_access_views.grant, name="dataset-raw-grant"),
    path("datasets/<int:pk>/raw-access/<int:grant_pk>/revoke/", raw_access_views.revoke, name="dataset-raw-revoke"),
    path("sequences/<int:pk>/", views.sequence_detail, name="sequence"),
    path("projects/<int:pk>/label/", views.label, name="label"),
    path("projects/<int:pk>/label/<int:frame_id>/", views.label, name="label-frame"),
    path("projects/<int:pk>/review/", review_views.review_queue, name="review-queue"),
    path("projects/<int:pk>/review/<int:item_pk>/", review_views.review_item, name="review-item"),
    path("projects/<int:pk>/review/<int:item_pk>/decide/", review_views.review_decide, name="review-decide"),
    path("projects/<int:pk>/review/<int:item_pk>/edit/", review_views.review_edit, name="review-edit"),
    path("projects/<int:pk>/review/<int:item_pk>/clear-sensitivity/", review_views.review_clear_sensitivity,
         name="review-clear-sensitivity"),
    path("projects/<int:pk>/quality/", review_views.quality, name="quality"),
    path("projects/<int:pk>/models/", model_views.models_page, name="models"),
    path("projects/<int:pk>/models/jobs/", model_views.models_jobs, name="models-jobs"),
    path("projects/<int:pk>/models/train/", model_views.train, name="models-train"),
    path("projects/<int:pk>/models/rescore/", model_views.rescore, name="models-rescore"),
    path("projects/<int:pk>/models/evaluate/", evaluation_views.evaluate, name="models-evaluate"),
    path("projects/<int:pk>/models/<int:version_pk>/current/", model_views.make_current, name="models-current"),
    path("protection/", protection_views.protection, name="protection"),
    path("protection/update/", protection_views.protection_update, name="protection-update"),
    path("projects/<int:pk>/protection/", protection_views.team, name="protection-team"),
    path("projects/<int:pk>/protection/policy/", protection_views.team_policy, name="protection-policy"),
    path("projects/<int:pk>/exports/", export_views.exports_page, name="exports"),
    path("projects/<int:pk>/exports/new/", export_views.export_create, name="export-create"),
    path("projects/<int:pk>/exports/<int:export_pk>/download/", export_views.export_download, name="export-download"),
    path("projects/<int:pk>/imports/", export_views.import_upload, name="import-upload"),
    path("audit/", audit_views.audit_page, name="audit"),
    path("audit/export.jsonl", audit_views.audit_export, name="audit-export-page"),
    path("audit/seal/", audit_views.audit_seal, name="audit-seal-page"),
    path("frames/<int:pk>/<str:variant>", views.frame_image, name="frame-image"),
    path("shares/<str:token>/", share_views.share_download, name="share-download"),
    path("frames/<int:pk>/redaction/", redaction_views.redaction_page, name="frame-redaction"),
    path("frames/<int:pk>/redaction/add/", redaction_views.redaction_add, name="frame-redaction-add"),
    path("frames/<int:pk>/redaction/<int:region_pk>/remove/", redaction_views.redaction_remove,
         name="frame-redaction-remove"),
    # --- quarantine and drift (issue #18) ---
    path("projects/<int:pk>/quality/drift/", quarantine_views.drift_page, name="drift"),
    path("projects/<int:pk>/quality/quarantine/", quarantine_views.quarantine_create, name="quarantine-create"),
    path("projects/<int:pk>/quality/quarantine/<int:quarantine_pk>/lift/", quarantine_views.quarantine_lift,
         name="quarantine-lift"),
    # --- end quarantine and drift ---
]

# --- model governance: model cards, promotion, incidents (card_views) ---
from . import card_views  # noqa: E402

urlpatterns += [
    path("models/<int:version_pk>/card/", card_views.model_card, name="model-card"),
    path("models/<int:version_pk>/card/propose/", card_views.propose, name="model-card-propose"),
    path("models/<int:version_pk>/card/promotions/<int:promotion_pk>/decide/", card_views.decide,
         name="model-card-decide"),
    path("models/<int:version_pk>/card/describe/", card_views.describe, name="model-card-describe"),
    path("projects/<int:pk>/incidents/", card_views.incidents_page, name="incidents"),
    path("projects/<int:pk>/incidents/<int:incident_pk>/triage/", card_views.triage, name="incident-triage"),
]
# --- end model governance: promotion ---
