from django.urls import include, path
from rest_framework.routers import DefaultRouter

from labeling.api import (
    audit_views,
    auth_views,
    export_views,
    labeling_views,
    model_views,
    raw_access_views,
    redaction_views,
    review_views,
    share_views,
    views,
)
from labeling.api import agreement_views, evaluation_views
from labeling.api import retention_views as rv
from labeling.api import ontology_views as ontology_api
from labeling.api import (
    protection_views as pv,
)

# No format-suffix URLs (/api/datasets/1/ingest.json): nothing uses them, and every custom action
# answered them with a 500 (the actions take no `format` argument).
router = DefaultRouter()
router.include_format_suffixes = False
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("sequences", views.SequenceViewSet, basename="sequence")
router.register("frames", views.FrameViewSet, basename="frame")
router.register("ingest-jobs", views.IngestJobViewSet, basename="ingestjob")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("assignments", labeling_views.AssignmentViewSet, basename="assignment")
router.register("annotations", labeling_views.AnnotationViewSet, basename="annotation")
router.register("ontologies", ontology_api.OntologyViewSet, basename="ontology")
router.register("ontology-versions", ontology_api.OntologyVersionViewSet, basename="ontologyversion")
router.register("label-classes", ontology_api.LabelClassViewSet, basename="labelclass")
router.register("ontology-migrations", ontology_api.MigrationViewSet, basename="ontologymigration")

members = views.MemberViewSet.as_view({"get": "list", "post": "create"})
member = views.MemberViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    path("auth/token/", auth_views.TokenView.as_view(), name="api-token"),
    path("audit/", audit_views.AuditEventList.as_view(), name="audit-events"),
    path("audit/export/", audit_views.AuditExportView.as_view(), name="audit-export"),
    path("audit/chain/", audit_views.AuditChainView.as_view(), name="audit-chain"),
    path("audit/seal/", audit_views.AuditSealView.as_view(), name="audit-seal"),
    path("projects/<int:project_pk>/members/", members, name="project-members"),
    path("propagations/<int:pk>/", labeling_views.PropagationView.as_view(), name="propagation-detail"),
    path("projects/<int:project_pk>/next/", labeling_views.NextFrameView.as_view(), name="project-next"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/state/", labeling_views.FrameStateView.as_view(),
         name="project-frame-state"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    path("projects/<int:project_pk>/review/", review_views.ReviewQueueView.as_view(), name="project-review"),
    path("projects/<int:project_pk>/review/<int:pk>/", review_views.ReviewItemView.as_view(),
         name="project-review-item"),
    path("projects/<int:project_pk>/gold/", review_views.GoldView.as_view(), name="project-gold"),
    path("projects/<int:project_pk>/quality/", review_views.QualityView.as_view(), name="project-quality"),
    path("projects/<int:project_pk>/agreement/rescore/", agreement_views.AgreementRescoreView.as_view(),
         name="project-agreement-rescore"),
    path("projects/<int:project_pk>/models/", model_views.ModelListView.as_view(), name="project-models"),
    path("projects/<int:project_pk>/models/<int:pk>/verify/", model_views.VerifyModelView.as_view(),
         name="project-model-verify"),
    path("projects/<int:project_pk>/models/<int:pk>/current/", model_views.MakeCurrentView.as_view(),
         name="project-model-current"),
    path("projects/<int:project_pk>/training/", model_views.TrainingView.as_view(), name="project-training"),
    path("projects/<int:project_pk>/scoring/", model_views.ScoringView.as_view(), name="project-scoring"),
    path("projects/<int:project_pk>/exports/", export_views.ExportListView.as_view(), name="project-exports"),
    path("projects/<int:project_pk>/exports/<int:pk>/", export_views.ExportDetailView.as_view(),
         name="project-export"),
    path("projects/<int:project_pk>/exports/<int:pk>/download/", export_views.ExportDownloadView.as_view(),
         name="project-export-download"),
    path("projects/<int:project_pk>/imports/", export_views.ImportView.as_view(), name="project-imports"),
    path("assignments/<int:pk>/flag/", review_views.FlagView.as_view(), name="assignment-flag"),
    path("protection/me/", pv.MeView.as_view(), name="protection-me"),
    path("protection/consent/", pv.ConsentView.as_view(), name="protection-consent"),
    path("protection/checkin/", pv.CheckinView.as_view(), name="protection-checkin"),
    path("reveals/<int:pk>/end/", pv.RevealEndView.as_view(), name="reveal-end"),
    path("projects/<int:project_pk>/protection/", pv.TeamView.as_view(), name="project-protection"),
    path("projects/<int:project_pk>/break/", pv.BreakView.as_view(), name="project-break"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/reveal/", pv.RevealView.as_view(), name="frame-reveal"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/report/", pv.ReportView.as_view(), name="frame-report"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/sensitivity/clear/", pv.ClearSensitivityView.as_view(),
         name="frame-sensitivity-clear"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/sensitivity/", pv.SensitivityView.as_view(),
         name="frame-sensitivity"),
    path("datasets/<int:pk>/raw-access/", raw_access_views.DatasetRawAccessView.as_view(), name="dataset-raw-access"),
    path("dataset-versions/<int:pk>/derive/", share_views.DeriveVersionView.as_view(), name="dataset-version-derive"),
    path("derived-versions/<int:pk>/shares/", share_views.VersionSharesView.as_view(), name="derived-version-shares"),
    path("shares/<int:pk>/revoke/", share_views.RevokeShareView.as_view(), name="share-revoke"),
    path("raw-access/<int:pk>/revoke/", raw_access_views.RevokeRawAccessView.as_view(), name="raw-access-revoke"),
    path("datasets/<int:pk>/redaction/", redaction_views.DatasetRedactionView.as_view(), name="dataset-redaction"),
    path("frames/<int:pk>/redaction-regions/", redaction_views.FrameRegionsView.as_view(),
         name="frame-redaction-regions"),
    path("redaction-regions/<int:pk>/remove/", redaction_views.RemoveRegionView.as_view(),
         name="redaction-region-remove"),
    path("datasets/<int:pk>/sensitive/", pv.DatasetSensitiveView.as_view(), name="dataset-sensitive"),
    path("sequences/<int:pk>/sensitive/", pv.SequenceSensitiveView.as_view(), name="sequence-sensitive"),
    # --- retention and legal holds (labeling/api/retention_views.py) ---
    path("datasets/<int:pk>/retention/", rv.DatasetRetentionView.as_view(), name="dataset-retention"),
    path("datasets/<int:pk>/retention/preview/", rv.RetentionPreviewView.as_view(), name="dataset-retention-preview"),
    path("datasets/<int:pk>/retention/run/", rv.RetentionRunView.as_view(), name="dataset-retention-run"),
    path("retention-runs/<int:pk>/", rv.RetentionRunDetailView.as_view(), name="retention-run"),
    path("datasets/<int:pk>/holds/", rv.DatasetHoldView.as_view(), name="dataset-holds"),
    path("sequences/<int:pk>/holds/", rv.SequenceHoldView.as_view(), name="sequence-holds"),
    path("holds/<int:pk>/lift/", rv.LiftHoldView.as_view(), name="hold-lift"),
    # --- model evaluation (labeling/api/evaluation_views.py) ---
    path("projects/<int:project_pk>/evaluation-sets/", evaluation_views.EvaluationSetListView.as_view(),
         name="project-evaluation-sets"),
    path("evaluation-sets/<int:pk>/verify/", evaluation_views.EvaluationSetVerifyView.as_view(),
         name="evaluation-set-verify"),
    path("evaluation-sets/<int:pk>/changes/", evaluation_views.EvaluationSetChangesView.as_view(),
         name="evaluation-set-changes"),
    path("model-versions/<int:pk>/evaluations/", evaluation_views.EvaluationRunsView.as_view(),
         name="model-version-evaluations"),
    path("model-versions/<int:a>/compare/<int:b>/", evaluation_views.CompareView.as_view(),
         name="model-version-compare"),
    # --- end model evaluation ---
    path("", include(router.urls)),
]

# --- model governance: promotion, model cards, the deployed version, incidents (promotion_views) ---
from labeling.api import promotion_views as gov  # noqa: E402

urlpatterns[-1:-1] = [
    path("projects/<int:project_pk>/models/<int:pk>/promotions/", gov.PromotionsView.as_view(),
         name="project-model-promotions"),
    path("projects/<int:project_pk>/promotions/<int:pk>/approve/", gov.ApproveView.as_view(),
         name="project-promotion-approve"),
    path("projects/<int:project_pk>/promotions/<int:pk>/reject/", gov.RejectView.as_view(),
         name="project-promotion-reject"),
    path("projects/<int:project_pk>/promotions/<int:pk>/withdraw/", gov.WithdrawView.as_view(),
         name="project-promotion-withdraw"),
    path("projects/<int:project_pk>/models/<int:pk>/card/", gov.CardView.as_view(), name="project-model-card"),
    path("projects/<int:project_pk>/models/<int:pk>/card.md", gov.CardMarkdownView.as_view(),
         name="project-model-card-markdown"),
    path("projects/<int:project_pk>/models/<int:pk>/card/signature/", gov.CardSignatureView.as_view(),
         name="project-model-card-signature"),
    path("projects/<int:project_pk>/models/<int:pk>/weights/", gov.WeightsView.as_view(),
         name="project-model-weights"),
    path("projects/<int:project_pk>/deployed/", gov.DeployedView.as_view(), name="project-deployed"),
    path("projects/<int:project_pk>/incidents/", gov.IncidentsView.as_view(), name="project-incidents"),
    path("projects/<int:project_pk>/incidents/<int:pk>/triage/", gov.TriageView.as_view(),
         name="project-incident-triage"),
]
# --- end model governance: promotion ---

# --- the response to poisoned labels: drift and quarantines (quarantine_views) ---
from labeling.api import quarantine_views  # noqa: E402

urlpatterns[-1:-1] = [
    path("projects/<int:project_pk>/drift/", quarantine_views.DriftView.as_view(), name="project-drift"),
    path("projects/<int:project_pk>/quarantines/", quarantine_views.QuarantinesView.as_view(),
         name="project-quarantines"),
    path("projects/<int:project_pk>/quarantines/<int:pk>/lift/", quarantine_views.LiftView.as_view(),
         name="project-quarantine-lift"),
]

