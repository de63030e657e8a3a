"""The model card in Chromium: a trainer proposes a version from its card, an admin who did not
train it approves it there, and the card shows the approval in its history. A QA lead reports a
model incident from the review page and triages it on the incidents page. On the models page a
trainer sees the evaluation runs, compares two versions slice by slice and starts a run."""
import pytest
from playwright.sync_api import expect

from labeling.models import Incident, ModelVersion, Promotion
from labeling.models.governance import EvaluationRun
from tests.conftest import ARTIFACTS
from tests.test_promotion import eval_set, metrics, run, trained
from tests.test_review_page import disputed  # noqa: F401 - the fixture: a review item on a real frame

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_trainer_proposes_and_an_admin_who_did_not_train_it_approves(page, login, live_server, users, project):
    version = trained(project, users["trainer"], intended_use="Vehicles from 60-120 m by day")
    run(version, eval_set(project, "campus hold-out"), metrics(0.6, night=0.21, day=0.8))
    login(users["trainer"])
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    page.get_by_test_id(f"card-{version.pk}").click()
    slices = page.get_by_test_id("slices")
    expect(slices.locator("tbody tr").first).to_contain_text("night")  # worst slice first
    page.get_by_placeholder("what changed, why deploy it").fill("better by day")
    page.get_by_role("button", name="Propose for deployment").click()
    expect(page.locator(".msg-success")).to_contain_text("Proposed for deployment")
    expect(page.get_by_role("button", name="Approve and deploy")).to_have_count(0)  # not the trainer's to approve

    page.context.clear_cookies()
    login(users["admin"])
    page.goto(f"{live_server.url}/models/{version.pk}/card/")
    page.get_by_placeholder("required to reject").fill("evaluated on the campus hold-out")
    page.get_by_role("button", name="Approve and deploy").click()
    expect(page.locator(".msg-success")).to_contain_text("now deployed")
    expect(page.get_by_test_id("deployed")).to_be_visible()
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("approved")
    expect(history).to_contain_text("boss")
    expect(history).to_contain_text("evaluated on the campus hold-out")
    page.screenshot(path=str(ARTIFACTS / "model-card.png"), full_page=True)
    version.refresh_from_db()
    assert version.is_deployed and Promotion.objects.get().decided_by == users["admin"]
    assert list(ModelVersion.objects.filter(is_deployed=True)) == [version]


def test_trainer_compares_two_versions_slice_by_slice_and_starts_an_evaluation(page, login, live_server, users,
                                                                             project):
    old, new = trained(project, users["trainer"]), trained(project, users["trainer"])
    hold_out, other = eval_set(project, "campus hold-out"), eval_set(project, "night only", required=False)
    ModelVersion.objects.filter(pk=old.pk).update(is_deployed=True)
    run(old, hold_out, metrics(0.6))
    tracked = metrics(0.6, night=0.45, thermal=0.59, day=0.7)
    tracked["tracking"] = {"overall": {"idf1": 0.71, "mota": 0.52, "id_switches": 4, "gt_boxes": 90, "fp": 9,
                                       "fn": 30}, "sequences": {}}
    run(new, hold_out, tracked)
    login(users["trainer"])
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    runs = page.get_by_test_id("evaluation-runs")
    expect(runs.locator("tbody tr")).to_have_count(2)
    expect(runs.locator(f"tr:has-text('#{new.pk}')")).to_contain_text("IDF1 0.710")
    table = page.get_by_test_id("comparison")  # by default the deployed version against the newest other
    expect(table.locator("tbody tr").first).to_contain_text("overall")
    expect(table.locator("tr.worse")).to_have_count(1)
    expect(table.locator("tr.worse")).to_have_attribute("data-slice", "night")
    expect(table.locator("tr[data-slice='thermal']")).not_to_have_class("worse")  # within the tolerance
    expect(table.locator("tr[data-slice='tracking:idf1']")).to_contain_text("0.710")
    page.screenshot(path=str(ARTIFACTS / "models-evaluation.png"), full_page=True)

    form = page.get_by_test_id("compare-form")
    form.locator("select[name=set]").select_option(label="night only")
    form.get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("compare-problem")).to_contain_text("no finished run on evaluation set 'night only'")

    evaluate = page.get_by_test_id("evaluate-form")
    evaluate.locator("select[name=version]").select_option(str(new.pk))
    evaluate.locator("select[name=set]").select_option(label="night only (1 frames)")
    evaluate.get_by_role("button", name="Evaluate").click()
    expect(page.locator(".messages")).to_contain_text("Evaluation not started")  # the hand-made set does not verify
    assert EvaluationRun.objects.count() == 2


def test_qa_lead_reports_an_incident_from_the_review_page_and_triages_it(page, login, live_server, users, project,
                                                                      disputed):  # noqa: F811
    item, _ = disputed
    from tests.test_promotion import version as make_version
    detector = make_version(project, users["trainer"], is_current=True)
    login(users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    page.get_by_test_id("report-incident").click()
    dialog = page.locator("#incident-dialog")
    dialog.locator("select[name=kind]").select_option("missed_object")
    dialog.locator("textarea[name=note]").fill("the truck on the left was not detected")
    page.screenshot(path=str(ARTIFACTS / "incident-dialog.png"))
    dialog.get_by_role("button", name="Send to QA").click()
    expect(page.locator("#incident-status")).to_contain_text("sent to QA")
    incident = Incident.objects.get()
    assert (incident.model_version, incident.frame_id, incident.filed_by) == (detector, item.frame_id, users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.get_by_test_id("incidents-link").click()
    row = page.get_by_test_id("incident-list").locator("tbody tr").first
    expect(row).to_contain_text("the truck on the left was not detected")
    row.locator("select[name=status]").select_option("confirmed")
    row.locator("input[name=note]").fill("reproduced")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".msg-success")).to_contain_text("triaged")
    page.screenshot(path=str(ARTIFACTS / "incidents.png"), full_page=True)
    incident.refresh_from_db()
    assert incident.status == Incident.CONFIRMED and incident.triaged_by == users["qa"]
