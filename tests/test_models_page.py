"""A trainer in Chromium: starts a training run from the page, watches it finish, sees the new
signed version with its metrics, lineage and learning curve, and re-scores the queue. Annotators
are kept out."""
import pytest
from playwright.sync_api import expect

from labeling.models import ModelVersion, QueueItem, ScoringRun, TrainingRun
from tests.conftest import ARTIFACTS
from tests.test_sampler import footage  # noqa: F401 - the fixture: real frames with approved labels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_trainer_trains_scores_and_reads_the_curve(page, login, live_server, users, project, footage):  # noqa: F811
    login(users["trainer"])
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Models and sampling").click()
    expect(page.locator("p.lead")).to_contain_text("8 frames have approved labels")
    form = page.get_by_test_id("train-form")
    form.locator("select[name=kind]").select_option("detector")
    form.locator("input[name=epochs]").fill("1")
    form.get_by_role("button", name="Train").click(timeout=240_000)  # trains and scores inline here (eager Celery)
    expect(page.locator(".msg-success")).to_contain_text("Training run")
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.DONE, run.message
    version = ModelVersion.objects.get(is_current=True)
    # making it current started a scoring run, which re-ranked the queue
    assert ScoringRun.objects.get().status == ScoringRun.DONE
    assert not QueueItem.objects.filter(project=project, is_open=True, priority__isnull=True).exists()
    page.reload()
    versions = page.get_by_test_id("versions")
    expect(versions.locator("tr.current")).to_contain_text(version.sha256[:12])
    expect(versions.locator("tr.current")).to_contain_text("validation split: sequence")
    expect(versions.locator("tr.current")).to_contain_text("from scratch")
    expect(page.get_by_test_id("training-runs")).to_contain_text("epoch 1 / 1")
    expect(page.get_by_test_id("scoring-runs")).to_contain_text("new current model")
    expect(page.locator("svg.chart").first).to_be_visible()
    page.get_by_role("button", name="Re-score now").click(timeout=180_000)  # scores inline here
    expect(page.locator(".msg-success")).to_contain_text("Scoring run")
    page.screenshot(path=str(ARTIFACTS / "models-page.png"), full_page=True)
    assert ScoringRun.objects.filter(reason="by hand", status=ScoringRun.DONE).exists()


def test_annotators_see_nothing_of_the_models(page, login, live_server, users, project):
    login(users["annotator"])
    expect(page.get_by_role("link", name="Models and sampling")).to_have_count(0)
    response = page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    assert response.status == 403
