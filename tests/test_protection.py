"""Annotator protection, enforced on the server: consent, daily caps (with time zones and day
boundaries), interleaving, breaks, reveals with signed per-person URLs, sensitivity flags and
their sources, blur strength and greyscale, the leads' aggregates."""
from __future__ import annotations

import io
import random
import threading
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from django.utils import timezone
from PIL import Image

from labeling.footage import ingest
from labeling.work import queue, submissions
from labeling.models import (Assignment, ConsentEvent, Exposure, Frame, Membership, ModelVersion, ProtectionPolicy,
                             ProtectionState, SensitivityFlag, WellbeingCheckin)
from labeling.protection import days, flags, policy as policies, reveal, rules, state as states, wellbeing
from ontology import services as ontology_services
from ontology.models import LabelClass
from tests import media
from tests.conftest import api_client, make_frames

pytestmark = pytest.mark.django_db


def consent(user):
    states.set_consent(user, True, policies.consent_version())


def set_policy(project, **values):
    policy = ProtectionPolicy.objects.filter(project=project).first() or ProtectionPolicy(project=project)
    for key, value in values.items():
        setattr(policy, key, value)
    policies.save_policy(policy)
    return policy


def draw(project, user):
    """Lease the next frame and submit it empty; the frame, or the Withheld."""
    try:
        a = queue.next_assignment(project, user)
    except queue.Withheld as withheld:
        return withheld
    if a is None:
        return None
    submissions.submit(a, user, {"boxes": [], "tags": []})
    return a.frame


class Clock:
    """timezone.now() under the test's control (the queue, the gate and reveals all read it)."""

    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **kw):
        self.now += timedelta(**kw)


# ------------------------------------------------------------------------------ pure rules and days

def test_local_days_and_weeks_with_time_zones_and_dst():
    berlin, tokyo = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")
    # 00:30 UTC on the day Berlin switches to summer time is 01:30 in Berlin: the day began at
    # 23:00 UTC the evening before
    now = datetime(2026, 3, 29, 0, 30, tzinfo=dt_timezone.utc)
    assert days.day_start(now, berlin) == datetime(2026, 3, 28, 23, 0, tzinfo=dt_timezone.utc)
    assert days.day_start(now, tokyo) == datetime(2026, 3, 28, 15, 0, tzinfo=dt_timezone.utc)
    assert days.week_start(now, berlin).astimezone(berlin).weekday() == 0  # a Monday, local midnight
    assert days.week_start(now, berlin).astimezone(berlin).hour == 0
    assert days.zone("Not/AZone") == ZoneInfo("UTC")


def test_rules_breaks_idle_rest_and_interleaving():
    limits = rules.Limits.of(ProtectionPolicy(break_after_minutes=50, break_after_sensitive=3, max_sensitive_in_a_row=2))
    st = ProtectionState(consent=True, consent_version="1")
    t0 = datetime(2026, 5, 4, 9, 0, tzinfo=dt_timezone.utc)
    first = rules.admit(st, limits, rules.Totals(), t0, "1")
    assert first.withheld is None and first.sensitive_ok and st.checkin_due == "start"
    notes = rules.leased(st, limits, True, False, t0)
    assert notes["content_warning"] and notes["checkin"] == "start"
    rules.leased(st, limits, True, False, t0)
    assert rules.admit(st, limits, rules.Totals(), t0 + timedelta(minutes=1), "1").interleave  # 2 in a row
    rules.leased(st, limits, False, False, t0)
    assert not rules.admit(st, limits, rules.Totals(), t0 + timedelta(minutes=2), "1").interleave
    rules.leased(st, limits, True, False, t0)  # 3 sensitive since the break: the next asks for one
    took = rules.admit(st, limits, rules.Totals(), t0 + timedelta(minutes=3), "1")
    assert took.withheld[0] == "break" and took.withheld[2] == t0 + timedelta(minutes=13)
    assert rules.admit(st, limits, rules.Totals(), t0 + timedelta(minutes=12), "1").withheld  # still on it
    after = rules.admit(st, limits, rules.Totals(), t0 + timedelta(minutes=14), "1")
    assert after.withheld is None and st.checkin_due == "after_break" and st.sensitive_since_break == 0
    # 50 minutes of continuous work (no idle gap as long as a lease) also calls a break
    now = t0 + timedelta(minutes=14)
    while True:
        now += timedelta(minutes=5)
        decision = rules.admit(st, limits, rules.Totals(), now, "1")
        if decision.withheld:
            break
        rules.leased(st, limits, False, False, now)
    assert now - (t0 + timedelta(minutes=14)) >= timedelta(minutes=50)
    # an idle gap as long as a lease counts as a rest: a new stretch, and a check-in
    st2 = ProtectionState(consent=True, consent_version="1", last_active_at=t0, stretch_started_at=t0 - timedelta(minutes=45))
    rules.admit(st2, limits, rules.Totals(), t0 + timedelta(minutes=16), "1")
    assert st2.stretch_started_at == t0 + timedelta(minutes=16) and st2.checkin_due == "start"


# ------------------------------------------------------------------------------ the queue

def test_a_project_without_sensitive_frames_keeps_the_one_statement_path(project, users, monkeypatch):
    make_frames(project, 3)
    called = []
    monkeypatch.setattr(queue, "_next_general", lambda *a, **k: called.append(1))
    assert queue.next_assignment(project, users["annotator"]) is not None
    assert not called and not ProtectionState.objects.exists()


def test_without_consent_only_plain_frames_then_a_kind_message(project, users):
    make_frames(project, 4, sensitive={0, 2})
    annotator = users["annotator"]
    got = [draw(project, annotator), draw(project, annotator)]
    assert [f.index for f in got] == [1, 3]
    withheld = draw(project, annotator)
    assert isinstance(withheld, queue.Withheld) and withheld.kind == "consent"
    response = api_client(annotator).post(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 200  # never an error
    assert response.json()["withheld"]["kind"] == "consent" and response.json()["frame"] is None
    consent(annotator)
    frame = draw(project, annotator)
    assert frame.index == 0 and frame.sensitive
    assert Exposure.objects.filter(user=annotator, kind=Exposure.FRAME, frame=frame).count() == 1


def test_interleaving_holds_over_a_long_queue(project, users):
    """Property-style: random sensitive patterns and priorities; whenever a non-sensitive frame
    was still open, no more than k sensitive frames came in a row."""
    rng = random.Random(7)
    annotator = users["annotator"]
    consent(annotator)
    k = 3
    set_policy(project, max_sensitive_in_a_row=k, daily_sensitive_frames=10_000, break_after_sensitive=0,
               break_after_minutes=0)
    for trial in range(3):
        n = 60
        sensitive = {i for i in range(n) if rng.random() < 0.7}
        frames = make_frames(project, n, sequence_name=f"long{trial}", sensitive=sensitive)
        from labeling.models import QueueItem

        for f in frames:
            QueueItem.objects.filter(project=project, frame=f).update(priority=rng.random())
        seen, run = [], 0
        for _ in range(n):
            frame = draw(project, annotator)
            assert frame is not None and not isinstance(frame, queue.Withheld)
            plain_left = sum(1 for f in frames if not f.sensitive and f.pk not in {s.pk for s in seen})
            run = run + 1 if frame.sensitive else 0
            if plain_left or not frame.sensitive:
                assert run <= k, f"trial {trial}: {run} sensitive in a row while plain frames were left"
            seen.append(frame)
        assert draw(project, annotator) is None
        Exposure.objects.filter(user=annotator)  # (exposures are history; the next trial goes on)


def test_daily_frame_cap_then_only_plain_frames_and_a_kind_message(project, users):
    annotator = users["annotator"]
    consent(annotator)
    set_policy(project, daily_sensitive_frames=2, max_sensitive_in_a_row=5)
    make_frames(project, 5, sensitive={0, 1, 2, 3})
    order = [draw(project, annotator) for _ in range(3)]
    assert [f.sensitive for f in order] == [True, True, False]  # at the cap: the plain frame
    withheld = draw(project, annotator)
    assert isinstance(withheld, queue.Withheld) and withheld.kind == "cap"
    assert Exposure.objects.filter(user=annotator, kind=Exposure.FRAME).count() == 2


def test_the_cap_resets_at_the_persons_local_midnight(project, users, monkeypatch):
    annotator = users["annotator"]
    consent(annotator)
    states.set_preferences(annotator, tz="Asia/Tokyo")  # midnight in Tokyo is 15:00 UTC
    set_policy(project, daily_sensitive_frames=1, max_sensitive_in_a_row=5)
    make_frames(project, 4, sensitive={0, 1, 2, 3})
    clock = Clock(monkeypatch, datetime(2026, 6, 1, 14, 50, tzinfo=dt_timezone.utc))  # 23:50 in Tokyo
    assert draw(project, annotator).sensitive
    clock.advance(minutes=5)  # 23:55: still the same day
    assert isinstance(draw(project, annotator), queue.Withheld)
    clock.advance(minutes=6)  # 00:01 the next day in Tokyo (still 1 June in UTC)
    assert draw(project, annotator).sensitive
    # and for a person in UTC, the same instants are one day
    other = users["qa"]
    consent(other)
    ProtectionState.objects.filter(user=other).update(timezone="UTC")
    clock.now = datetime(2026, 6, 2, 14, 50, tzinfo=dt_timezone.utc)
    assert draw(project, other).sensitive
    clock.advance(minutes=11)
    assert isinstance(draw(project, other), queue.Withheld)


def test_unblurred_minutes_cap_counts_reveal_durations(project, users, monkeypatch):
    annotator = users["annotator"]
    consent(annotator)
    set_policy(project, daily_exposure_minutes=1.0, max_sensitive_in_a_row=5)
    frames = make_frames(project, 4, sensitive={0, 1, 2})
    clock = Clock(monkeypatch, datetime(2026, 6, 3, 10, 0, tzinfo=dt_timezone.utc))
    a = queue.next_assignment(project, annotator)
    issued = reveal.issue(annotator, a.frame, project)
    clock.advance(seconds=45)
    assert reveal.end(annotator, issued["reveal"]).duration_s == pytest.approx(45)
    assert reveal.end(annotator, issued["reveal"]).duration_s == pytest.approx(45)  # idempotent
    second = reveal.issue(annotator, a.frame, project)
    clock.advance(seconds=20)  # never ended: counts as long as it has lasted
    submissions.submit(a, annotator, {"boxes": [], "tags": []})
    nxt = queue.next_assignment(project, annotator)
    assert not nxt.frame.sensitive and nxt.frame.pk == frames[3].pk  # 65 s > 1 min: plain frames only
    with pytest.raises(reveal.RevealRefused) as refused:
        reveal.issue(annotator, frames[1], project)
    assert refused.value.kind == "cap"
    assert Exposure.objects.get(pk=second["reveal"]).ended_at is None


def test_withdrawing_consent_takes_effect_on_the_next_frame(project, users):
    annotator = users["annotator"]
    consent(annotator)
    make_frames(project, 4, sensitive={0, 1})
    held = queue.next_assignment(project, annotator)
    assert held.frame.sensitive
    states.set_consent(annotator, False)
    nxt = queue.next_assignment(project, annotator)  # the held sensitive lease goes back
    assert not nxt.frame.sensitive
    assert Assignment.objects.get(pk=held.pk).status == Assignment.EXPIRED
    assert list(ConsentEvent.objects.filter(user=annotator).values_list("given", flat=True)) == [False, True]
    with pytest.raises(reveal.RevealRefused):
        reveal.issue(annotator, held.frame, project)


def test_break_after_sensitive_frames_pauses_the_queue(project, users, monkeypatch):
    annotator = users["annotator"]
    consent(annotator)
    set_policy(project, break_after_sensitive=2, break_minutes=10, max_sensitive_in_a_row=5)
    make_frames(project, 6, sensitive={0, 1, 2})
    clock = Clock(monkeypatch, datetime(2026, 6, 4, 9, 0, tzinfo=dt_timezone.utc))
    assert draw(project, annotator).sensitive and draw(project, annotator).sensitive
    withheld = draw(project, annotator)
    assert withheld.kind == "break" and withheld.until == clock.now + timedelta(minutes=10)
    clock.advance(minutes=5)
    response = api_client(annotator).post(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 200 and response.json()["withheld"]["kind"] == "break"
    clock.advance(minutes=6)
    response = api_client(annotator).post(f"/api/projects/{project.pk}/next/")
    assert response.json()["frame"] is not None
    assert response.json()["protection"]["checkin"] == "after_break"


def test_caps_hold_with_two_tabs_at_once(project, users, transactional_db):
    """Several threads of one person ask and submit at once: the row lock on their protection
    state keeps the sensitive frames they get within the cap."""
    annotator = users["annotator"]
    consent(annotator)
    set_policy(project, daily_sensitive_frames=3, max_sensitive_in_a_row=50, break_after_sensitive=0)
    make_frames(project, 40, sensitive=set(range(30)))
    errors = []

    def tab():
        try:
            for _ in range(12):
                try:
                    a = queue.next_assignment(project, annotator)
                except queue.Withheld:
                    break
                if a is None:
                    break
                try:
                    submissions.submit(a, annotator, {"boxes": [], "tags": []})
                except submissions.SubmissionError:
                    pass  # the other tab submitted it
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert Exposure.objects.filter(user=annotator, kind=Exposure.FRAME).count() == 3
    served = Assignment.objects.filter(annotator=annotator, frame__sensitive=True).exclude(status="expired").count()
    assert served == 3


def test_a_stale_per_process_answer_never_serves_a_sensitive_frame_unguarded(project, users):
    annotator = users["annotator"]
    frames = make_frames(project, 3)
    assert not policies.has_sensitive(project.pk)  # cached: no sensitive frames
    Frame.objects.filter(pk=frames[0].pk).update(sensitive=True)  # behind the cache's back
    got = queue.next_assignment(project, annotator)
    assert not got.frame.sensitive  # no consent: the fast path's lease was given back
    assert Assignment.objects.get(frame=frames[0], annotator=annotator).status == Assignment.EXPIRED


# ------------------------------------------------------------------------------ reveals and images

def patterned_png(width: int, height: int, seed: int) -> bytes:
    """A checkerboard with a colour per seed: detail that blur visibly removes."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    board = (((x // 8) + (y // 8)) % 2).astype(np.uint8) * 255
    rgb = np.stack([board, np.full_like(board, 40 * seed), 255 - board], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def real_frames(project):
    """Three real 320×240 images; the middle one marked sensitive by an uploader's range."""
    archive = media.zip_bytes({f"f{i}.png": patterned_png(320, 240, i) for i in range(3)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "cam.zip"), sequence_name="cam").pk)
    frames = list(job.sequence.frames.order_by("index"))
    flags.mark_sequence(job.sequence, None, first_index=1, last_index=1, note="body")
    frames[1].refresh_from_db()
    return frames


def _image(response) -> Image.Image:
    return Image.open(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def test_originals_need_a_reveal_of_your_own(project, users, real_frames, settings):
    annotator, qa = users["annotator"], users["qa"]
    frame = real_frames[1]
    assert frame.sensitive
    me = api_client(annotator)
    assert me.get(f"/frames/{frame.pk}/original").status_code == 403
    assert me.get(f"/frames/{frame.pk}/original?reveal=forged").status_code == 403
    assert me.get(f"/frames/{real_frames[0].pk}/original").status_code == 200  # ordinary frames as before
    assert me.post(f"/api/projects/{project.pk}/frames/{frame.pk}/reveal/").status_code == 403  # no consent
    consent(annotator)
    consent(qa)
    issued = me.post(f"/api/projects/{project.pk}/frames/{frame.pk}/reveal/").json()
    response = me.get(issued["url"])
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert _image(response).size == (320, 240)
    assert me.get(issued["url"]).status_code == 403  # good for one image: a copied or replayed link shows nothing
    again = me.post(f"/api/projects/{project.pk}/frames/{frame.pk}/reveal/").json()
    assert api_client(qa).get(again["url"]).status_code == 403  # someone else's reveal (and it stays unused)
    me.post(f"/api/reveals/{again['reveal']}/end/")
    assert me.get(again["url"]).status_code == 403  # an ended reveal's link is worth nothing either
    token = issued["url"].split("reveal=")[1]
    assert me.get(f"/frames/{real_frames[0].pk}/original?reveal={token}").status_code == 200  # not sensitive anyway
    assert me.get(f"/frames/{real_frames[2].pk}/original?reveal={token}").status_code == 200
    settings.AERIE_REVEAL_URL_SECONDS = -1
    assert me.get(issued["url"]).status_code == 403  # expired
    ended = me.post(f"/api/reveals/{issued['reveal']}/end/").json()
    assert ended["duration_s"] >= 0
    assert api_client(qa).post(f"/api/reveals/{issued['reveal']}/end/").status_code == 404


def test_sensitive_thumbnails_and_previews_are_blurred_everywhere(project, users, real_frames):
    from datetime import timedelta

    from labeling.access import raw
    from labeling.redaction import served

    client = api_client(users["annotator"])
    frame = real_frames[1]
    thumb = _image(client.get(f"/frames/{frame.pk}/thumbnail"))
    preview = _image(client.get(f"/frames/{frame.pk}/preview"))
    media_root = __import__('django.conf').conf.settings.MEDIA_ROOT
    # without raw access: the blurred preview of the derived (redacted) frame, never the raw one's
    with open(f"{media_root}/{served.preview_name(frame, policies.blur_radius(None))}", "rb") as fh:
        assert thumb.tobytes() == Image.open(fh).tobytes()  # the thumbnail of a sensitive frame is its blurred preview
    assert preview.size == thumb.size
    raw.grant(project.dataset, users["annotator"], users["admin"], "checks", timezone.now() + timedelta(days=1))
    with open(f"{media_root}/{frame.preview_name}", "rb") as fh:  # with raw access: the raw frame's
        assert _image(client.get(f"/frames/{frame.pk}/thumbnail")).tobytes() == Image.open(fh).tobytes()
    listed = client.get(f"/api/frames/?sequence={frame.sequence_id}").json()["results"]
    urls = {f["id"]: (f["image_url"], f["thumbnail_url"]) for f in listed}
    assert urls[frame.pk] == (f"/frames/{frame.pk}/preview", f"/frames/{frame.pk}/thumbnail")


def test_blur_strength_per_project_and_greyscale_per_person(project, users, real_frames):
    client = api_client(users["annotator"])
    frame = real_frames[1]
    default = _image(client.get(f"/frames/{frame.pk}/preview?p={project.pk}")).convert("RGB")
    set_policy(project, blur_radius=32)
    stronger = _image(client.get(f"/frames/{frame.pk}/preview?p={project.pk}")).convert("RGB")
    assert stronger.size == default.size and stronger.tobytes() != default.tobytes()
    assert default.mode == "RGB"
    states.set_preferences(users["annotator"], greyscale=True)
    assert _image(client.get(f"/frames/{frame.pk}/preview?p={project.pk}")).mode == "L"
    consent(users["annotator"])
    issued = reveal.issue(users["annotator"], frame, project)
    assert _image(client.get(issued["url"])).mode == "L"
    assert _image(client.get(f"/frames/{real_frames[0].pk}/preview")).mode == "RGB"  # only sensitive frames


# ------------------------------------------------------------------------------ flags and their sources

def test_every_source_of_sensitivity_is_recorded(project, users, make_user):
    annotator, admin = users["annotator"], users["admin"]
    frames = make_frames(project, 6)
    client = api_client(annotator)
    response = client.post(f"/api/projects/{project.pk}/frames/{frames[0].pk}/report/", {"note": "burned body"},
                           format="json")
    assert response.status_code == 201
    frames[0].refresh_from_db()
    assert frames[0].sensitive
    # a sensitive class in an annotation (the casualty class of a new ontology version)
    version = ontology_services.create_ontology("With casualty")
    ontology_services.add_class(version, key="casualty", name="Casualty", kind=LabelClass.BOX, sensitive=True)
    ontology_services.add_class(version, key="car", name="Car", kind=LabelClass.BOX)
    project.ontology_version = ontology_services.publish(version)
    project.save()
    consent(annotator)
    a = queue.next_assignment(project, annotator)
    while a.frame.pk != frames[1].pk:
        queue.skip(a, annotator, "test")
        a = queue.next_assignment(project, annotator)
    submissions.submit(a, annotator, {"boxes": [{"class": "casualty", "x": 1, "y": 1, "w": 5, "h": 5}]})
    frames[1].refresh_from_db()
    assert frames[1].sensitive
    # the uploader: a range of a sequence, then the whole dataset
    assert api_client(annotator).post(f"/api/sequences/{frames[2].sequence_id}/sensitive/",
                                      {"first_index": 2, "last_index": 3}, format="json").status_code == 403
    marked = api_client(admin).post(f"/api/sequences/{frames[2].sequence_id}/sensitive/",
                                    {"first_index": 2, "last_index": 3}, format="json")
    assert marked.status_code == 201 and marked.json()["frames"] == 2
    # the model
    model = ModelVersion.objects.create(project=project, kind="detector", architecture="x",
                                        ontology_version=project.ontology_version, class_map=["casualty"],
                                        blob_name="m", sha256="0" * 64, signature="s", key_id="k")
    assert flags.flag_from_model(project, {frames[4].pk: 0.95, frames[5].pk: 0.2}, model) == [frames[4].pk]
    assert flags.flag_from_model(project, [(frames[4].pk, 0.97)], model) == []  # idempotent
    set_policy(project, model_threshold=0.1)
    assert flags.flag_from_model(project, {frames[5].pk: 0.2, 10**9: 0.99}, model) == [frames[5].pk]  # foreign id ignored
    sensitive = set(Frame.objects.filter(sequence=frames[0].sequence, sensitive=True).values_list("index", flat=True))
    assert sensitive == {0, 1, 2, 3, 4, 5}
    why = {f["source"] for i in range(6) for f in flags.sources(frames[i].pk)}
    assert why == {"report", "annotation", "uploader", "model"}
    qa_view = api_client(users["qa"]).get(f"/api/projects/{project.pk}/frames/{frames[0].pk}/sensitivity/").json()
    assert qa_view["flags"][0]["note"] == "burned body" and qa_view["flags"][0]["by"] == "ann"
    assert client.get(f"/api/projects/{project.pk}/frames/{frames[0].pk}/sensitivity/").status_code == 403
    flag = SensitivityFlag.objects.filter(source="annotation").get()
    assert flag.label_class.key == "casualty" and flag.annotation_id is not None
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():  # history: append-only in the database
        SensitivityFlag.objects.filter(pk=flag.pk).update(note="changed")


def test_a_graphic_upload_and_a_sensitive_dataset(project, users):
    archive = media.zip_bytes({f"f{i}.png": media.png_bytes(64, 48) for i in range(2)})
    job = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "a.zip"), sequence_name="a",
                                           sensitive=True, user=users["admin"]).pk)
    assert all(f.sensitive for f in job.sequence.frames.all())
    assert SensitivityFlag.objects.get(sequence=job.sequence).source == "uploader"
    api_client(users["admin"]).patch(f"/api/datasets/{project.dataset_id}/", {"sensitive": True}, format="json")
    job2 = ingest.run_job(ingest.create_job(project.dataset, media.upload(archive, "b.zip"), sequence_name="b").pk)
    assert all(f.sensitive for f in job2.sequence.frames.all())


# ------------------------------------------------------------------------------ people and leads

def test_consent_preferences_and_my_exposure_through_the_api(project, users):
    client = api_client(users["annotator"])
    me = client.get("/api/protection/me/").json()
    assert me["consent"] is False and me["current_policy_version"] == policies.consent_version()
    assert client.post("/api/protection/consent/", {"consent": True, "policy_version": "0"},
                       format="json").status_code == 400  # not the current notice
    assert client.post("/api/protection/consent/", {"consent": True, "policy_version": policies.consent_version()},
                       format="json").json()["consent"] is True
    assert client.patch("/api/protection/me/", {"timezone": "Mars/Olympus"}, format="json").status_code == 400
    me = client.patch("/api/protection/me/", {"timezone": "Europe/Kyiv", "greyscale": True}, format="json").json()
    assert me["timezone"] == "Europe/Kyiv" and me["greyscale"] and me["exposure"]["timezone"] == "Europe/Kyiv"
    assert client.post("/api/protection/checkin/", {"score": 6, "moment": "start"}, format="json").status_code == 400
    assert client.post("/api/protection/checkin/", {"score": 4, "moment": "start"}, format="json").status_code == 201
    assert client.post("/api/protection/checkin/", {"score": None, "moment": "start"}, format="json").status_code == 204
    assert [c["score"] for c in client.get("/api/protection/checkin/").json()] == [4]
    assert api_client(users["qa"]).get("/api/protection/checkin/").json() == []  # private


def test_leads_see_aggregates_near_cap_and_wellbeing_only_above_the_group_size(project, users, make_user):
    set_policy(project, daily_sensitive_frames=5, wellbeing_min_group=3, max_sensitive_in_a_row=5)
    make_frames(project, 12, sensitive=set(range(10)))
    people = [users["annotator"]] + [make_user(f"p{i}", "annotator") for i in range(3)]
    for person in people[1:]:
        Membership.objects.create(project=project, user=person)
    for person in people:
        consent(person)
    for _ in range(4):  # ann gets 4 sensitive frames: at 80% of the cap
        draw(project, people[0])
    wellbeing.checkin(people[0], 2, "start", project)
    wellbeing.checkin(people[1], 4, "start", project)
    lead = api_client(users["qa"])
    view = lead.get(f"/api/projects/{project.pk}/protection/").json()
    assert view["near_cap"] == ["ann"]
    assert view["today"]["sensitive_frames"] == 4 and view["today"]["people"] == 1
    assert view["wellbeing"]["shown"] is False and view["wellbeing"]["average"] is None  # 2 people < 3
    wellbeing.checkin(people[2], 3, "after_break", project)
    view = lead.get(f"/api/projects/{project.pk}/protection/").json()
    assert view["wellbeing"]["shown"] and view["wellbeing"]["average"] == 3.0 and view["wellbeing"]["people"] == 3
    assert "p0" not in str(view["wellbeing"])  # no one's answers by name
    assert api_client(users["annotator"]).get(f"/api/projects/{project.pk}/protection/").status_code == 403
    assert lead.patch(f"/api/projects/{project.pk}/protection/", {"max_sensitive_in_a_row": 2},
                      format="json").status_code == 403  # QA leads see, admins change
    changed = api_client(users["admin"]).patch(f"/api/projects/{project.pk}/protection/",
                                               {"max_sensitive_in_a_row": 2, "blur_radius": 2}, format="json")
    assert changed.status_code == 400  # blur below the minimum
    changed = api_client(users["admin"]).patch(f"/api/projects/{project.pk}/protection/",
                                               {"max_sensitive_in_a_row": 2}, format="json")
    assert changed.status_code == 200 and policies.policy_for(project).max_sensitive_in_a_row == 2
    assert WellbeingCheckin.objects.count() == 3


def test_the_demo_marks_a_range_of_the_street_clip_once(project, users):
    from labeling import demo

    project.dataset.name = demo.DATASET
    project.dataset.save()
    make_frames(project, 30, sequence_name="street-bikes")
    assert demo._demo_sensitive(users["admin"])
    assert demo._demo_sensitive(users["admin"]) == []  # once
    marked = Frame.objects.filter(sequence__name="street-bikes", sensitive=True).values_list("index", flat=True)
    assert sorted(marked) == list(range(8, 20))


def test_a_qa_lead_clears_a_false_flag_with_a_reason_and_the_history_stays(project, users, real_frames):
    """A model's false alarm: the QA lead clears it with a reason (audited); the frame is plain again,
    its segment too, no model flags it again, and a person's report still can."""
    from labeling.models import AuditEvent, Segment

    frame = real_frames[0]
    assert not frame.sensitive
    version = ModelVersion.objects.create(project=project, kind=ModelVersion.DETECTOR, architecture="test",
                                          ontology_version=project.ontology_version, class_map=["person"],
                                          blob_name="none", sha256="0" * 64, signature="-", key_id="-")
    assert flags.flag_from_model(project, {frame.pk: 0.97}, version) == [frame.pk]
    segment = Segment.objects.create(project=project, sequence=frame.sequence, number=0, first_index=0,
                                     last_index=0, sensitive=True)
    qa = api_client(users["qa"])
    url = f"/api/projects/{project.pk}/frames/{frame.pk}/sensitivity/clear/"
    for body in ({}, {"reason": "   "}, {"reason": 5}):
        refused = qa.post(url, body, format="json")
        assert refused.status_code == 400 and "reason" in refused.json()["detail"]
    assert Frame.objects.get(pk=frame.pk).sensitive  # nothing changed
    assert api_client(users["annotator"]).post(url, {"reason": "fine"}, format="json").status_code == 403
    cleared = qa.post(url, {"reason": "a shadow, not a casualty"}, format="json")
    assert cleared.status_code == 201, cleared.json()
    assert not Frame.objects.get(pk=frame.pk).sensitive and not Segment.objects.get(pk=segment.pk).sensitive
    history = qa.get(f"/api/projects/{project.pk}/frames/{frame.pk}/sensitivity/").json()["flags"]
    assert {f["source"] for f in history} == {"model", "cleared"}
    assert [f["note"] for f in history if f["source"] == "cleared"] == ["a shadow, not a casualty"]
    event = AuditEvent.objects.get(verb="protection.clear")
    assert event.actor_id == users["qa"].pk and event.data["reason"] == "a shadow, not a casualty"
    assert qa.post(url, {"reason": "again"}, format="json").status_code == 400  # not sensitive: nothing to clear
    newer = ModelVersion.objects.create(project=project, kind=ModelVersion.DETECTOR, architecture="test",
                                        ontology_version=project.ontology_version, class_map=["person"],
                                        blob_name="none2", sha256="1" * 64, signature="-", key_id="-")
    assert flags.flag_from_model(project, {frame.pk: 0.99}, newer) == []  # the clearance holds against models
    assert not Frame.objects.get(pk=frame.pk).sensitive
    flags.report(Frame.objects.get(pk=frame.pk), users["annotator"], "it is graphic, look again")
    assert Frame.objects.get(pk=frame.pk).sensitive  # a person can still flag it


def test_a_qa_lead_clears_a_false_sensitive_flag_from_the_review_page(client, project, users):
    """The review page of a sensitive frame offers to clear the flag, with a reason."""
    from labeling.models import Frame, ReviewItem, SensitivityFlag
    from labeling.protection import flags

    frame = make_frames(project, 1)[0]
    flags.report(frame, users["annotator"], "blood?")
    item = ReviewItem.objects.create(project=project, frame=frame, sequence=frame.sequence,
                                     reason=ReviewItem.FLAGGED, note="blood?", severity=0.0)
    client.force_login(users["qa"])
    page = client.get(f"/projects/{project.pk}/review/{item.pk}/").content.decode()
    assert "Clear the sensitive flag" in page
    url = f"/projects/{project.pk}/review/{item.pk}/clear-sensitivity/"
    client.post(url, {"reason": ""})
    assert Frame.objects.get(pk=frame.pk).sensitive  # no reason, nothing changed
    client.post(url, {"reason": "red paint on a wall"})
    assert not Frame.objects.get(pk=frame.pk).sensitive
    assert SensitivityFlag.objects.get(source="cleared").note == "red paint on a wall"
    assert "Clear the sensitive flag" not in client.get(f"/projects/{project.pk}/review/{item.pk}/").content.decode()
