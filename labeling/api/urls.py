from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from ontology import api as ontology_api

from . import export_views, labeling_views, model_views, review_views, views

router = DefaultRouter()
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
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("projects/<int:project_pk>/members/", members, name="project-members"),
    path("projects/<int:project_pk>/next/", labeling_views.NextFrameView.as_view(), name="project-next"),
    path("projects/<int:project_pk>/frames/<int:frame_pk>/state/", labeling_views.FrameStateView.as_view(),
         name="project-frame-state"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    path("projects/<int:project_pk>/review/", review_views.ReviewQueueView.as_view(), name="project-review"),
    path("projects/<int:project_pk>/review/<int:pk>/", review_views.ReviewItemView.as_view(),
         name="project-review-item"),
    path("projects/<int:project_pk>/gold/", review_views.GoldView.as_view(), name="project-gold"),
    path("projects/<int:project_pk>/quality/", review_views.QualityView.as_view(), name="project-quality"),
    path("projects/<int:project_pk>/models/", model_views.ModelListView.as_view(), name="project-models"),
    path("projects/<int:project_pk>/models/<int:pk>/current/", model_views.MakeCurrentView.as_view(),
         name="project-model-current"),
    path("projects/<int:project_pk>/exports/", export_views.ExportListView.as_view(), name="project-exports"),
    path("projects/<int:project_pk>/exports/<int:pk>/", export_views.ExportDetailView.as_view(),
         name="project-export"),
    path("projects/<int:project_pk>/exports/<int:pk>/download/", export_views.ExportDownloadView.as_view(),
         name="project-export-download"),
    path("projects/<int:project_pk>/imports/", export_views.ImportView.as_view(), name="project-imports"),
    path("assignments/<int:pk>/flag/", review_views.FlagView.as_view(), name="assignment-flag"),
    path("", include(router.urls)),
]
