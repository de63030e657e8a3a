"""Promotion to deployed (gates, two-person rule), model cards (signed), incidents (filing and
triage). Evaluation sets and runs are made here directly with chosen metrics: this file does not
depend on how they are computed."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.access import signing
from labeling.governance import cards, compare, incidents, promotion
from labeling.models import (
    AuditEvent,
    EvaluationRun,
    EvaluationSet,
    Incident,
    ModelVersion,
    Promotion,
    TrainingRun,
)
from tests.conftest import api_client, make_frames

SLICES = ("night", "day", "thermal", "altitude:low")


def metrics(map50=0.6, **slices) -> dict:
    """A run's metrics (the shared contract) with every slice at `map50` unless given."""
    values = {name: map50 for name in SLICES}
    values.update({k.replace("__", ":"): v for k, v in slices.items()})
    return {"overall": {"map": map50 / 2, "map50": map50, "frames": 40, "boxes": 90},
            "per_class": {"person": {"ap": 0.3, "ap50": map50, "boxes": 60}},
            "slices": {k: {"map": None if v is None else v / 2, "map50": v, "frames": 10} for k, v in values.items()},
            "thresholds": {"person": {"threshold": 0.42, "precision": 0.8, "recall": 0.7}},
            "confusions": [{"truth": "car", "predicted": "truck", "count": 3},
                           {"truth": "person", "predicted": "car", "count": 7}]}


def version(project, user=None, **kw) -> ModelVersion:
    n = ModelVersion.objects.count()
    fields = dict(project=project, kind=ModelVersion.DETECTOR, architecture="fasterrcnn_mobilenet_v3_large_320_fpn",
                  ontology_version=project.ontology_version, class_map=["person", "car", "truck"],
                  blob_name=f"models/x/{n}.pt", sha256=f"{n:064x}", signature="c2ln", key_id="k" * 16,
                  created_by=user, lineage={"dataset_version": 3, "ontology_version": project.ontology_version_id,
                                            "approved_snapshot": {"frames": 40, "frame_ids_sha256": "ab" * 32}})
    fields.update(kw)
    return ModelVersion.objects.create(**fields)


def trained(project, trainer, **kw) -> ModelVersion:
    """A version registered by the system (no uploader) from a training run started by `trainer`."""
    v = version(project, None, **kw)
    TrainingRun.objects.create(project=project, kind=v.kind, architecture=v.architecture, status="done",
                               result=v, created_by=trainer)
    return v


def eval_set(project, name="hold-out", required=True) -> EvaluationSet:
    return EvaluationSet.objects.create(project=project, name=name, frame_ids=[1], annotation_ids=[1],
                                        required=required, manifest_sha256="0" * 64, signature="x", key_id="k")


def run(v, evaluation_set, m=None, status=EvaluationRun.DONE, **kw) -> EvaluationRun:
    return EvaluationRun.objects.create(project=v.project, model_version=v, evaluation_set=evaluation_set,
                                        status=status, metrics=m if m is not None else metrics(),
                                        finished_at=timezone.now(), latency_ms_b1=12.5, hardware="CPU test", **kw)


def deploy(v, proposer, approver):
    return promotion.approve(promotion.propose(v, proposer, "ship it"), approver, "looks good")


# compare (pure)

def test_compare_marks_slices_that_lost_more_than_the_tolerance_worst_first():
    a = metrics(0.6)
    b = metrics(0.6, night=0.5, thermal=0.59, day=0.7, altitude__low=None)
    rows = compare.compare(a, b, tolerance=0.02)
    assert [r["slice"] for r in rows][:4] == ["overall", "night", "thermal", "day"]  # overall, then worst first
    assert rows[-1]["slice"] == "altitude:low" and rows[-1]["delta"] is None and not rows[-1]["worse"]
    assert [r["slice"] for r in compare.worse(rows)] == ["night"]
    assert rows[1]["delta"] == pytest.approx(-0.1)
    assert compare.worse(compare.compare(a, b, tolerance=0.2)) == []
    with pytest.raises(ValueError):
        compare.compare(a, b, tolerance=-1)


# promotion

def test_a_version_without_a_run_on_a_required_set_is_refused_naming_the_set(project, users):
    v = trained(project, users["trainer"])
    eval_set(project, "campus-night")
    eval_set(project, "optional", required=False)
    run(v, eval_set(project, "hold-out"))
    run(v, EvaluationSet.objects.get(name="campus-night"), status=EvaluationRun.RUNNING)
    with pytest.raises(promotion.PromotionError, match="'campus-night'"):
        promotion.propose(v, users["trainer"])
    assert not Promotion.objects.exists() and not AuditEvent.objects.filter(verb__startswith="model.promotion").exists()


def test_two_person_rule_both_ways_and_deployed_stays_unique(project, users, make_user):
    s = eval_set(project)
    first = trained(project, users["trainer"])
    run(first, s)
    proposal = promotion.propose(first, users["trainer"], "first")
    assert proposal.checks["passed"] and proposal.checks["baseline"] is None
    # the trainer holds no approver permission; an admin who trained it is refused by the rule
    with pytest.raises(promotion.PromotionError, match="approver permission"):
        promotion.approve(proposal, users["trainer"])
    TrainingRun.objects.filter(result=first).update(created_by=users["admin"])
    with pytest.raises(promotion.PromotionError, match="two-person rule"):
        promotion.approve(proposal, users["admin"])
    TrainingRun.objects.filter(result=first).update(created_by=users["trainer"])
    promotion.approve(proposal, users["admin"], "fine")
    first.refresh_from_db()
    assert first.is_deployed and first.deployed_at and not first.is_current  # current stays independent

    # uploaded by an admin: that admin may not approve it, another admin may
    other_admin = make_user("ada", "admin")
    second = version(project, users["admin"])
    run(second, s)
    p2 = promotion.propose(second, users["trainer"])
    with pytest.raises(promotion.PromotionError, match="two-person rule"):
        promotion.approve(p2, users["admin"])
    assert Promotion.objects.get(pk=p2.pk).status == Promotion.PROPOSED
    promotion.approve(p2, other_admin)
    assert list(ModelVersion.objects.filter(is_deployed=True)) == [second]
    assert promotion.deployed(project, ModelVersion.DETECTOR) == second
    verbs = list(AuditEvent.objects.filter(verb__startswith="model.").values_list("verb", flat=True).order_by("pk"))
    assert verbs.count("model.deploy") == 2 and verbs.count("model.promotion.approve") == 2
    assert AuditEvent.objects.filter(verb="model.deploy", object_id=str(second.pk)).get().data["previous"] == [first.pk]


def test_the_proposer_does_not_approve_their_own_proposal(project, users, make_user):
    s = eval_set(project)
    v = trained(project, users["trainer"])
    run(v, s)
    p = promotion.propose(v, users["admin"])
    with pytest.raises(promotion.PromotionError, match="you proposed"):
        promotion.approve(p, users["admin"])


def test_tolerance_gate_both_ways(project, users):
    s = eval_set(project)
    base = trained(project, users["trainer"])
    run(base, s, metrics(0.60))
    deploy(base, users["trainer"], users["admin"])

    slightly = trained(project, users["trainer"])
    run(slightly, s, metrics(0.60, night=0.585))  # lost 0.015 < 0.02
    p = promotion.propose(slightly, users["trainer"])
    night = next(r for r in p.checks["sets"][0]["slices"] if r["slice"] == "night")
    assert night["delta"] == pytest.approx(-0.015) and not night["worse"] and p.checks["baseline"] == base.pk

    worse = trained(project, users["trainer"])
    run(worse, s, metrics(0.65, thermal=0.55))  # better overall, but thermal lost 0.05
    with pytest.raises(promotion.PromotionError, match="slice thermal"):
        promotion.propose(worse, users["trainer"])
    project.promotion_tolerance = 0.1
    project.save()
    worse.project.refresh_from_db()
    p3 = promotion.propose(worse, users["trainer"])
    assert p3.checks["passed"]
    # the gate is checked again at approval: tighten the tolerance and approval is refused
    project.promotion_tolerance = 0.02
    project.save()
    with pytest.raises(promotion.PromotionError, match="slice thermal"):
        promotion.approve(Promotion.objects.get(pk=p3.pk), users["admin"])
    assert ModelVersion.objects.get(is_deployed=True) == base


def test_confirmed_incidents_block_promotion_per_project_setting(project, users):
    s = eval_set(project)
    v = trained(project, users["trainer"])
    run(v, s)
    filed = incidents.file(project, v, users["annotator"], Incident.FALSE_DETECTION, "a bush as a person")
    assert promotion.propose(v, users["trainer"]).checks["passed"]  # open, not confirmed: no block
    Promotion.objects.update(status=Promotion.WITHDRAWN)
    incidents.triage(filed, users["qa"], Incident.CONFIRMED, "yes")
    with pytest.raises(promotion.PromotionError, match="confirmed incident"):
        promotion.propose(v, users["trainer"])
    project.incidents_block_promotion = False
    project.save()
    v.project.refresh_from_db()
    p = promotion.propose(v, users["trainer"])
    assert p.checks["passed"] and p.checks["confirmed_incidents"] == [filed.pk] and not p.checks["incidents_block"]


def test_reject_needs_a_reason_and_withdraw_closes_the_proposal(project, users):
    s = eval_set(project)
    v = trained(project, users["trainer"])
    run(v, s)
    p = promotion.propose(v, users["trainer"])
    with pytest.raises(promotion.PromotionError, match="already has an open proposal"):
        promotion.propose(v, users["trainer"])
    with pytest.raises(promotion.PromotionError, match="reason"):
        promotion.reject(p, users["admin"], "  ")
    with pytest.raises(promotion.PromotionError, match="approver permission"):
        promotion.reject(p, users["qa"], "no")
    promotion.reject(p, users["admin"], "night slice too thin")
    with pytest.raises(promotion.PromotionError, match="already rejected"):
        promotion.approve(p, users["admin"])
    p2 = promotion.propose(v, users["trainer"])
    with pytest.raises(promotion.PromotionError, match="trainers and admins"):
        promotion.withdraw(p2, users["annotator"])
    promotion.withdraw(p2, users["trainer"], "retraining")
    assert list(Promotion.objects.order_by("pk").values_list("status", flat=True)) == ["rejected", "withdrawn"]
    assert not ModelVersion.objects.filter(is_deployed=True).exists()
    assert set(AuditEvent.objects.filter(verb__startswith="model.promotion").values_list("verb", flat=True)) == {
        "model.promotion.propose", "model.promotion.reject", "model.promotion.withdraw"}
    assert AuditEvent.objects.get(verb="model.promotion.reject").data["reason"] == "night slice too thin"


# incidents

def test_filing_and_triage_permissions_and_checks(project, users):
    v = trained(project, users["trainer"])
    frame = make_frames(project, 1)[0]
    from labeling.models import Project
    other = Project.objects.exclude(pk=project.pk).get()
    foreign = make_frames(other, 1, sequence_name="theirs")[0]
    with pytest.raises(incidents.IncidentError, match="people on the project"):
        incidents.file(project, v, users["outsider"], Incident.MISSED_OBJECT, "missed a car")
    with pytest.raises(incidents.IncidentError, match="note"):
        incidents.file(project, v, users["annotator"], Incident.MISSED_OBJECT, "   ")
    with pytest.raises(incidents.IncidentError, match="kind"):
        incidents.file(project, v, users["annotator"], "bad", "x")
    with pytest.raises(incidents.IncidentError, match="frame"):
        incidents.file(project, v, users["annotator"], Incident.MISSED_OBJECT, "x", frame=foreign)
    assert not Incident.objects.exists()
    i = incidents.file(project, v, users["annotator"], Incident.MISSED_OBJECT, "missed a car", frame=frame)
    assert (i.status, i.frame_id, i.filed_by) == (Incident.OPEN, frame.pk, users["annotator"])
    for who in ("annotator", "trainer"):
        with pytest.raises(incidents.IncidentError, match="QA leads and admins"):
            incidents.triage(i, users[who], Incident.CONFIRMED)
    with pytest.raises(incidents.IncidentError, match="fixed_in"):
        incidents.triage(i, users["qa"], Incident.FIXED)
    older = version(project)
    ModelVersion.objects.filter(pk=older.pk).update(created_at=v.created_at - timedelta(days=1))
    older.refresh_from_db()
    with pytest.raises(incidents.IncidentError, match="later version"):
        incidents.triage(i, users["qa"], Incident.FIXED, fixed_in=older)
    later = version(project)
    incidents.triage(i, users["qa"], Incident.CONFIRMED, "seen it")
    i = incidents.triage(i, users["admin"], Incident.FIXED, "retrained", fixed_in=later)
    assert (i.status, i.fixed_in, i.triaged_by) == (Incident.FIXED, later, users["admin"])
    events = AuditEvent.objects.filter(verb__startswith="incident.").order_by("pk")
    assert [(e.verb, e.data.get("to")) for e in events] == [("incident.file", None), ("incident.triage", "confirmed"),
                                                           ("incident.triage", "fixed")]
    assert all(e.project_id == project.pk for e in events)


# cards

def test_card_has_worst_slices_first_incidents_history_and_lineage(project, users):
    s = eval_set(project)
    v = trained(project, users["trainer"], lineage={
        "dataset_version": 3, "ontology_version": project.ontology_version_id,
        "approved_snapshot": {"frames": 40, "frame_ids_sha256": "ab" * 32},
        "evaluation_sets_excluded": [s.pk], "quarantine_flags": [{"annotator": 7, "submissions": 12}]})
    m = metrics(0.6, night=0.2, thermal=None, day=0.9)
    m["tracking"] = {"overall": {"idf1": 0.8125, "mota": 0.5, "id_switches": 3, "gt_boxes": 90, "fp": 4, "fn": 38}}
    run(v, s, m)
    cards.describe(v, users["trainer"], intended_use="Counting vehicles from 60-120 m by day",
                   limitations="Not for night footage")
    incidents.file(project, v, users["annotator"], Incident.HARMFUL, "missed a person on the road")
    deploy(v, users["trainer"], users["admin"])
    v.refresh_from_db()
    c = cards.card(v)
    ev = c["evaluations"][0]
    assert [x["slice"] for x in ev["slices"]][0] == "night" and ev["slices"][-1]["slice"] == "thermal"
    assert ev["confusions"][0] == {"truth": "person", "predicted": "car", "count": 7}
    assert ev["thresholds"]["person"]["precision"] == 0.8 and ev["latency_ms_b1"] == 12.5
    assert c["lineage"]["approved_snapshot_sha256"] == "ab" * 32 and c["lineage"]["evaluation_sets_excluded"] == [s.pk]
    assert c["intended_use"].startswith("Counting") and c["limitations"] == "Not for night footage"
    assert [i["note"] for i in c["open_incidents"]] == ["missed a person on the road"]
    assert c["approvals"][0]["decided_by"] == "boss" and c["is_deployed"]
    assert c["flags"][0]["flag"] == "trained_on_quarantined_submissions"
    md = cards.card_markdown(c)
    assert md.index("| night |") < md.index("| day |") and "Not for night footage" in md and "quarantined" in md
    assert "IDF1 0.812" in md and "3 identity switches" in md and ev["tracking"]["mota"] == 0.5
    with pytest.raises(cards.CardError, match="trainers and admins"):
        cards.describe(v, users["qa"], limitations="x")
    assert AuditEvent.objects.filter(verb="model.card.describe").count() == 1


def test_card_signature_verifies_and_tampering_fails(project, users):
    v = trained(project, users["trainer"])
    data, sig = cards.signed(cards.card(v))
    assert sig["sha256"] == hashlib.sha256(data).hexdigest() and sig["key_id"] == signing.key_id()
    assert cards.verify_card(data, sig["signature"])
    assert data == cards.signed(cards.card(v))[0]  # deterministic: a separate fetch still matches
    tampered = json.loads(data)
    tampered["limitations"] = "none at all"
    assert not cards.verify_card(signing.canonical_json(tampered), sig["signature"])
    assert not cards.verify_card(data, "not base64!")
    # a weights-style signature over the same hash is not a card signature (domain separation)
    assert not cards.verify_card(data, signing.sign(sig["sha256"].encode()))


# the API

def _registered(project, user, seed=0):
    import io

    import torch

    from labeling.sampling import registry
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(registry.build("mobilenet_v3_small", 1).state_dict(), buffer)
    data = buffer.getvalue()
    return registry.register(project, data, architecture="mobilenet_v3_small", class_map=["crowd"],
                             signature=registry.sign(data, "mobilenet_v3_small", ["crowd"]), user=user), data


def test_the_api_answers_the_deployed_version_with_a_signature_that_verifies(project, users):
    from labeling.sampling import registry
    base = f"/api/projects/{project.pk}"
    trainer, admin = api_client(users["trainer"]), api_client(users["admin"])
    assert trainer.get(f"{base}/deployed/").json() == {"detector": None, "classifier": None}
    v, data = _registered(project, users["trainer"])
    run(v, eval_set(project))
    proposed = trainer.post(f"{base}/models/{v.pk}/promotions/", {"note": "ready"}, format="json")
    assert proposed.status_code == 201, proposed.content
    pk = proposed.json()["id"]
    refused = trainer.post(f"{base}/promotions/{pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    approved = admin.post(f"{base}/promotions/{pk}/approve/", {"reason": "evaluated"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    answer = trainer.get(f"{base}/deployed/").json()
    assert answer["detector"] is None
    got = answer["classifier"]
    assert (got["id"], got["sha256"], got["key_id"]) == (v.pk, hashlib.sha256(data).hexdigest(), signing.key_id())
    downloaded = trainer.get(got["weights_url"])
    weights = b"".join(downloaded.streaming_content)
    assert weights == data and hashlib.sha256(weights).hexdigest() == got["sha256"]
    statement = registry.statement(hashlib.sha256(weights).hexdigest(), got["architecture"], got["class_map"])
    assert statement.decode() == got["statement"] and signing.verify(statement, got["signature"])
    assert not signing.verify(registry.statement("0" * 64, got["architecture"], got["class_map"]), got["signature"])
    # an annotator neither reads what is deployed nor downloads weights
    assert api_client(users["annotator"]).get(f"{base}/deployed/").status_code == 403
    assert api_client(users["annotator"]).get(got["weights_url"]).status_code == 403


def test_card_downloads_over_the_api_verify_and_the_trainer_writes_the_card(project, users):
    v = trained(project, users["trainer"])
    base = f"/api/projects/{project.pk}/models/{v.pk}"
    trainer, qa = api_client(users["trainer"]), api_client(users["qa"])
    bad = trainer.patch(f"{base}/card/", {}, format="json")
    assert bad.status_code == 400 and "intended_use" in bad.json()["detail"]
    assert qa.patch(f"{base}/card/", {"limitations": "x"}, format="json").status_code == 403
    ok = trainer.patch(f"{base}/card/", {"intended_use": "Vehicles by day", "limitations": "No thermal"},
                       format="json")
    assert ok.status_code == 200 and ok.json()["limitations"] == "No thermal"
    body = qa.get(f"{base}/card/")
    sig = qa.get(f"{base}/card/signature/").json()
    assert body["Content-Type"] == "application/json" and body["X-Aerie-Signature"] == sig["signature"]
    assert cards.verify_card(body.content, sig["signature"]) and json.loads(body.content)["intended_use"] == \
        "Vehicles by day"
    assert not cards.verify_card(body.content.replace(b"No thermal", b"Anything"), sig["signature"])
    md = qa.get(f"{base}/card.md")
    assert md.status_code == 200 and sig["signature"] in md.content.decode() and "No thermal" in md.content.decode()
    assert api_client(users["annotator"]).get(f"{base}/card/").status_code == 403
    assert api_client(users["outsider"]).get(f"{base}/card/").status_code == 404


def test_incidents_over_the_api(project, users):
    v = trained(project, users["trainer"])
    frame = make_frames(project, 1)[0]
    base = f"/api/projects/{project.pk}/incidents/"
    ann, qa = api_client(users["annotator"]), api_client(users["qa"])
    filed = ann.post(base, {"model_version": v.pk, "kind": "false_detection", "note": "a shadow as a car",
                            "frame": frame.pk}, format="json")
    assert filed.status_code == 201, filed.content
    incident_id = filed.json()["id"]
    assert ann.post(base, {"model_version": v.pk, "kind": "other", "note": "x", "frame": 999999},
                    format="json").status_code == 400
    assert api_client(users["outsider"]).post(base, {"model_version": v.pk, "kind": "other", "note": "x"},
                                              format="json").status_code == 404
    qa.post(base, {"model_version": v.pk, "kind": "other", "note": "QA's own"}, format="json")
    assert [i["id"] for i in ann.get(base).json()] == [incident_id]  # annotators see what they filed
    assert len(qa.get(base).json()) == 2
    triage = f"{base}{incident_id}/triage/"
    assert ann.post(triage, {"status": "confirmed"}, format="json").status_code == 403
    assert qa.post(triage, {"status": "fixed"}, format="json").status_code == 400
    done = qa.post(triage, {"status": "confirmed", "note": "reproduced"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "confirmed" and done.json()["triaged_by"] == "quinn"
    assert Incident.objects.get(pk=incident_id).status == Incident.CONFIRMED
