"""The Django admin writes through the same services as the API: a project created there is queued
(it used to get no queue items) and audited, its members are audited, and a draft ontology version
is refused with a message."""
import re

import pytest
from django.test import Client

from labeling.models import AuditEvent, Dataset, Membership, Project, QueueItem
from labeling.work import queue
from ontology import services as ontology_services
from tests.conftest import make_frames

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def project_form(client, **fields) -> dict:
    """The admin's add form for a project, with its inline management forms, filled in."""
    html = client.get("/admin/labeling/project/add/").content.decode()
    data = {}
    for prefix in re.findall(r'name="([\w-]+)-TOTAL_FORMS"', html):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    data.update({"overlap": "1", "agreement_threshold": "0.7", "iou_threshold": "0.5", "gold_rate": "0",
                 "frame_stride": "1", "sampling_strategy": "margin", "sampling_batch": "50", "sampling_min_gap": "10",
                 "work_unit": "frame", "segment_length": "100", "segment_shared": "5", "blind_annotators": "1",
                 "promotion_tolerance": "0.02", "incidents_block_promotion": "on"})
    data.update(fields)
    return data


def test_a_project_created_in_the_admin_is_queued_and_can_be_labeled(project, users, published_version):
    frames = make_frames(project, 4)  # ready frames in the dataset, before the new project exists
    client = admin_client(users["admin"])
    data = project_form(client, name="Made in the admin", dataset=str(project.dataset_id),
                        ontology_version=str(published_version.pk),
                        **{"memberships-TOTAL_FORMS": "1", "memberships-0-user": str(users["annotator"].pk)})
    response = client.post("/admin/labeling/project/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    made = Project.objects.get(name="Made in the admin")
    assert QueueItem.objects.filter(project=made).count() == len(frames)
    assignment = queue.next_assignment(made, users["annotator"])
    assert assignment is not None and assignment.frame.pk in {f.pk for f in frames}
    verbs = list(AuditEvent.objects.filter(project_id=made.pk).order_by("pk").values_list("verb", "actor_id"))
    assert verbs[:2] == [("project.create", users["admin"].pk), ("project.member.add", users["admin"].pk)]


def test_the_admin_refuses_a_draft_ontology_version_and_writes_nothing(project, users):
    draft = ontology_services.create_ontology("Unfinished")
    ontology_services.add_class(draft, key="x", name="X")
    client = admin_client(users["admin"])
    before = (Project.objects.count(), AuditEvent.objects.count())
    response = client.post("/admin/labeling/project/add/",
                           project_form(client, name="Too early", dataset=str(project.dataset_id),
                                        ontology_version=str(draft.pk)))
    assert response.status_code == 200 and "publish it first" in response.content.decode()
    assert (Project.objects.count(), AuditEvent.objects.count()) == before


def test_members_removed_in_the_admin_are_audited(project, users):
    client = admin_client(users["admin"])
    html = client.get(f"/admin/labeling/project/{project.pk}/change/").content.decode()
    membership = Membership.objects.get(project=project, user=users["annotator"])
    data = {name: value for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)
            if not name.startswith("_") and name != "csrfmiddlewaretoken"}
    data.update(project_form(client, name=project.name, dataset=str(project.dataset_id),
                             ontology_version=str(project.ontology_version_id), overlap=str(project.overlap)))
    rows = Membership.objects.filter(project=project).order_by("user__username", "pk")  # the admin's ordering
    data.update({"memberships-TOTAL_FORMS": str(rows.count()), "memberships-INITIAL_FORMS": str(rows.count())})
    for i, row in enumerate(rows):
        data.update({f"memberships-{i}-id": str(row.pk), f"memberships-{i}-project": str(project.pk),
                     f"memberships-{i}-user": str(row.user_id)})
        if row.pk == membership.pk:
            data[f"memberships-{i}-DELETE"] = "on"
    response = client.post(f"/admin/labeling/project/{project.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(verb="project.member.remove", project_id=project.pk,
                                     data__user=users["annotator"].username).exists()
    assert Dataset.objects.filter(pk=project.dataset_id).exists()
