"""Markup in everything people type or upload — class names, attribute names and values,
comments, skip reasons, flag and report notes, file and sequence names, dataset and project
names — is shown as text on every page that shows it, in Chromium: no dialog opens (each payload
calls alert) and the payload's text is on the page."""
import pytest

from labeling.footage import ingest
from labeling.work import queue, submissions
from labeling.quality import review
from labeling.models import Dataset, Membership, Project, ReviewItem
from ontology import services as ontology_services
from ontology.models import LabelClass
from tests import media
from tests.hostile.corpus import XSS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMG = XSS[1]  # <img src=x onerror=alert('xss-img')>


@pytest.fixture
def poisoned(users, make_user):
    version = ontology_services.create_ontology(f"Ontology {XSS[0]}")
    ontology_services.add_class(version, key="person", name=f"Person {IMG}", kind=LabelClass.BOX, shortcut="1",
                                attributes=[{"key": "note", "name": f"Note {XSS[2]}", "type": "text"},
                                            {"key": "kind", "name": f"Kind {XSS[4]}", "type": "enum",
                                             "options": [f"a {IMG}", "b"]}])
    ontology_services.add_class(version, key="crowd", name=f"Crowd {XSS[2]}", kind=LabelClass.TAG, shortcut="c")
    ontology_services.add_class(version, key="moved", name=f"Moved {XSS[4]}", kind=LabelClass.CHANGE, shortcut="m")
    version = ontology_services.publish(version)
    dataset = Dataset.objects.create(name=f"Footage {IMG}", description=XSS[0])
    project = Project.objects.create(name=f"Project {IMG}", dataset=dataset, ontology_version=version, overlap=2)
    peer = make_user("peer", "annotator")
    for user in (users["admin"], users["annotator"], users["qa"], users["trainer"], peer):
        Membership.objects.create(project=project, user=user)
    archive = media.zip_bytes({f"{IMG} {i}.png": media.png_bytes(320, 240, color=(60, 90, 40 * i)) for i in range(3)})
    job = ingest.run_job(ingest.create_job(dataset, media.upload(archive, f"{IMG}.zip"),
                                           sequence_name=f"seq {XSS[2]}").pk)
    assert job.status == "done", job.message
    payload = {"boxes": [{"class": "person", "x": 10, "y": 10, "w": 50, "h": 80,
                          "attributes": {"note": XSS[0], "kind": f"a {IMG}"}}], "tags": [{"class": "crowd"}]}
    first = queue.next_assignment(project, users["annotator"])
    submissions.submit(first, users["annotator"], payload)
    submissions.submit(queue.next_assignment(project, peer), peer, {"boxes": []})
    lease = queue.next_assignment(project, users["annotator"])
    review.flag(project, lease.frame, users["annotator"], f"flag {IMG}")
    queue.skip(lease, users["annotator"], f"skip {IMG}")
    item = ReviewItem.objects.filter(project=project).order_by("pk").first()
    return project, item


def test_markup_is_shown_as_text_everywhere(page, login, live_server, users, poisoned):
    project, item = poisoned
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server.url
    seen = {}

    def visit(path, *texts):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        body = page.inner_text("body")
        seen[path] = body
        for text in texts:
            assert text in body, (path, text)
        assert not page.locator("img[src='x']").count(), path  # no payload became an element

    login(users["qa"])
    page.evaluate("alert('probe')")  # the listener hears a dialog when there is one
    assert dialogs == ["probe"]
    dialogs.clear()
    visit("/", f"Project {IMG}")
    visit(f"/datasets/{project.dataset_id}/", f"Footage {IMG}")
    sequence = project.dataset.sequences.get()
    visit(f"/sequences/{sequence.pk}/")
    visit(f"/projects/{project.pk}/review/", f"flag {IMG}")
    visit(f"/projects/{project.pk}/review/{item.pk}/")
    visit(f"/projects/{project.pk}/review/{item.pk}/edit/")
    visit(f"/projects/{project.pk}/quality/")
    visit(f"/projects/{project.pk}/protection/")
    visit(f"/projects/{project.pk}/exports/")
    page.context.clear_cookies()
    login(users["annotator"])
    visit(f"/projects/{project.pk}/label/{item.frame_id}/", f"Crowd {XSS[2]}")
    page.locator("svg, canvas").first.wait_for()
    visit("/protection/")
    page.context.clear_cookies()
    login(users["trainer"])
    visit(f"/projects/{project.pk}/models/")
    assert dialogs == [], dialogs
    assert not [e for e in errors if "xss" in e], errors
