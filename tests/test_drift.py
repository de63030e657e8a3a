"""Per-annotator drift against consensus and gold: the simulated poisoning flags the poisoner's
A→B only; the pure functions' edge cases."""
import numpy as np
import pytest

from labeling.governance import drift, simulate
from labeling.governance.drift import DriftParams
from labeling.models import Membership
from tests.conftest import make_frames

CLASSES = ["car", "truck"]


def counts_for(per_annotator):
    """{annotator index: {(truth, given): n}} → (annotators × 2 × 2) counts."""
    out = np.zeros((len(per_annotator), 2, 2), dtype=int)
    for a, cells in per_annotator.items():
        for (t, g), n in cells.items():
            out[a, CLASSES.index(t), CLASSES.index(g)] = n
    return out


def test_shared_noise_is_not_flagged_and_one_flipper_is():
    honest = {("car", "car"): 490, ("car", "truck"): 10, ("truck", "truck"): 294, ("truck", "car"): 6}
    flipper = {("car", "car"): 390, ("car", "truck"): 110, ("truck", "truck"): 294, ("truck", "car"): 6}
    assert drift.flag_pairs(counts_for({0: honest, 1: honest, 2: honest}), CLASSES) == []
    flags = drift.flag_pairs(counts_for({0: honest, 1: flipper, 2: honest}), CLASSES)
    assert [(f.annotator, f.truth, f.given, f.flips, f.boxes) for f in flags] == [(1, "car", "truck", 110, 500)]
    assert flags[0].rate == pytest.approx(0.22) and flags[0].baseline == pytest.approx(20.5 / 1001)


def test_too_few_boxes_or_no_one_to_compare_with_flags_nothing():
    few = {("car", "car"): 5, ("car", "truck"): 10}
    honest = {("car", "car"): 500}
    assert drift.flag_pairs(counts_for({0: honest, 1: few}), CLASSES) == []  # 15 < min_boxes
    assert drift.flag_pairs(counts_for({0: {("car", "truck"): 400}}), CLASSES) == []  # alone
    assert drift.flag_pairs(np.zeros((3, 1, 1), dtype=int), ["car"]) == []  # one class: nothing to confuse
    assert drift.flag_pairs(np.zeros((0, 2, 2), dtype=int), CLASSES) == []
    # a small but significant excess is not enough: the rate must clear the baseline by min_excess
    big = {("car", "car"): 9700, ("car", "truck"): 300}
    slightly = {("car", "car"): 9600, ("car", "truck"): 400}
    assert drift.flag_pairs(counts_for({0: big, 1: big, 2: slightly}), CLASSES) == []
    assert drift.flag_pairs(counts_for({0: big, 1: big, 2: slightly}), CLASSES,
                            DriftParams(min_excess=0.0, min_ratio=1.0))


def test_everyone_clean_against_no_errors_flags_a_rare_slip_only_if_it_is_large():
    clean = {("car", "car"): 200}
    one_slip = {("car", "car"): 199, ("car", "truck"): 1}
    assert drift.flag_pairs(counts_for({0: clean, 1: clean, 2: one_slip}), CLASSES) == []


def test_matched_classes_ignores_unmatched_boxes_and_keeps_confusions():
    ref = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [100, 100, 5, 5]], dtype=float)
    mine = np.array([[1, 0, 10, 10], [51, 50, 10, 10], [300, 300, 5, 5]], dtype=float)
    pairs = drift.matched_classes(ref, ["car", "car", "truck"], mine, ["car", "truck", "car"])
    assert sorted(pairs) == [("car", "car"), ("car", "truck")]
    assert drift.matched_classes(np.empty((0, 4)), [], mine, ["car"] * 3) == []


def test_build_counts_per_week_and_rate_table():
    rows = [(7, "2024-W01", "car", "truck"), (7, "2024-W01", "car", "car"), (7, "2024-W02", "car", "truck"),
            (9, "2024-W02", "truck", "truck")]
    report = drift.build("consensus", rows)
    assert report.annotators == [7, 9] and report.classes == ["car", "truck"]
    assert report.counts[0].tolist() == [[1, 2], [0, 0]]
    assert sorted(report.by_bucket) == ["2024-W01", "2024-W02"]
    assert report.by_bucket["2024-W02"][0].tolist() == [[0, 1], [0, 0]]
    assert drift.rate_table(report.counts[0], report.classes) == [
        {"truth": "car", "given": "truck", "flips": 2, "boxes": 3, "rate": round(2 / 3, 4)}]
    assert drift.build("gold", []).flags == []


def poisoned(project, users, make_user, n):
    """Three annotators label n frames; the third flips 20 % of cars into trucks."""
    people = [users["annotator"], make_user("hana", "annotator"), make_user("pete", "annotator")]
    for person in people[1:]:
        Membership.objects.create(project=project, user=person)
    project.overlap = 3
    project.save(update_fields=["overlap"])
    make_frames(project, n)
    done = simulate.label_through_queue(project, people, people[2], n)
    from labeling.models import FrameAgreement

    # scored by the submissions' own jobs after their commits, or (inside a test's transaction) by the catch-up
    assert done["submitted"] == 3 * n and FrameAgreement.objects.filter(project=project).count() == n
    return people


def test_simulated_poisoning_through_the_database_flags_the_poisoner_only(project, users, make_user):
    poisoner = poisoned(project, users, make_user, 150)[2]

    report = drift.project_drift(project)["consensus"]
    assert [(report.annotators[f.annotator], f.truth, f.given) for f in report.flags] == [(poisoner.pk, "car",
                                                                                           "truck")]
    summary = drift.summary(project)
    assert [(f["annotator_name"], f["truth"], f["given"], f["reference"]) for f in summary["flags"]] == [
        ("pete", "car", "truck", "consensus")]
    pete = next(a for a in summary["annotators"] if a["annotator_name"] == "pete")
    assert pete["references"]["consensus"]["confusions"][0]["truth"] == "car"
    assert pete["references"]["consensus"]["weeks"]


def test_qa_lead_sees_the_flag_and_quarantines_from_it(page, login, live_server, project, users, make_user):
    from labeling.models import AuditEvent, Quarantine, QueueItem
    from tests.conftest import ARTIFACTS

    poisoner = poisoned(project, users, make_user, 120)[2]
    login(users["qa"])
    page.goto(f"{live_server.url}/projects/{project.pk}/quality/")
    page.click("text=Annotator drift and quarantine")
    rows = page.locator("[data-testid=flag-row]")
    assert rows.count() == 1
    assert "pete" in rows.inner_text() and "car → truck" in rows.inner_text()
    assert page.locator("[data-testid=annotator-drift]").count() == 3
    page.screenshot(path=str(ARTIFACTS / "drift.png"), full_page=True)
    rows.locator("summary").click()
    page.locator("[data-testid=quarantine-form] button").click()
    page.wait_for_selector("[data-testid=quarantine-row]")
    assert "standing" in page.locator("[data-testid=quarantine-row]").inner_text()
    assert page.locator("[data-testid=flag-quarantined]").count() == 1  # the flag shows it is dealt with
    page.screenshot(path=str(ARTIFACTS / "drift-quarantined.png"), full_page=True)
    q = Quarantine.objects.get()
    assert q.annotator == poisoner and "car labelled as truck" in q.reason and q.created_by == users["qa"]
    assert AuditEvent.objects.filter(verb="quarantine.create", actor=users["qa"]).exists()
    assert QueueItem.objects.filter(project=project, is_open=True).count() == 120  # two of three left each

    page.fill("[data-testid=quarantine-row] input[name=reason]", "checked: an honest misunderstanding")
    page.click("[data-testid=quarantine-row] button")
    page.wait_for_selector("text=lifted")
    assert QueueItem.objects.filter(project=project, is_open=True).count() == 0


def test_annotators_cannot_see_drift_or_quarantine(project, users):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import Quarantine
    from tests.conftest import api_client

    client = api_client(users["annotator"])
    assert client.get(f"/projects/{project.pk}/quality/drift/").status_code in (302, 403)
    now = timezone.now()
    response = client.post(f"/projects/{project.pk}/quality/quarantine/", {
        "annotator": users["annotator"].pk, "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": now.isoformat(), "reason": "me"})
    assert response.status_code in (302, 403) and not Quarantine.objects.exists()
