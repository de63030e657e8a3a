"""The protection rules at their boundaries, with no database: caps reached exactly, breaks due
exactly at their limit, idle rests, interleaving, local days at midnight, and the reveal token
check. (`make mutation` runs these against mutants of labeling/protection.)"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core import signing

from labeling.models import ProtectionPolicy, ProtectionState
from labeling.protection import days, reveal, rules

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=dt_timezone.utc)
US = timedelta(microseconds=1)

CONSENT_MESSAGE = ("The frames left for you here may show graphic content, and you have not opted in to see such "
                   "frames. You can opt in (or not) on your protection page.")


def limits(**kw) -> rules.Limits:
    values = dict(frames_per_day=10, exposure_s_per_day=600.0, in_a_row=3, break_after=timedelta(minutes=50),
                  break_after_sensitive=40, break_length=timedelta(minutes=10), micro_every=timedelta(minutes=20))
    values.update(kw)
    return rules.Limits(**values)


def working(started=T0, last=None, **kw) -> ProtectionState:
    """A person who opted in (notice "1") and has been working since `started`."""
    return ProtectionState(consent=True, consent_version="1", stretch_started_at=started,
                           last_active_at=last or started, **kw)


@pytest.fixture(autouse=True)
def lease_minutes(settings):
    settings.AERIE_LEASE_MINUTES = 15  # the idle rest: max(break length, a lease)


# ------------------------------------------------------------------------------ Limits.of

def test_limits_of_a_policy_converts_units_and_turns_zeros_off():
    got = rules.Limits.of(ProtectionPolicy(daily_sensitive_frames=7, daily_exposure_minutes=1.5,
                                           max_sensitive_in_a_row=4, break_after_minutes=50, break_after_sensitive=30,
                                           break_minutes=10, micro_break_minutes=20))
    assert got == rules.Limits(frames_per_day=7, exposure_s_per_day=90.0, in_a_row=4, break_after=timedelta(minutes=50),
                               break_after_sensitive=30, break_length=timedelta(minutes=10),
                               micro_every=timedelta(minutes=20))
    off = rules.Limits.of(ProtectionPolicy(max_sensitive_in_a_row=0, break_after_minutes=0, break_after_sensitive=0,
                                           break_minutes=0, micro_break_minutes=0))
    assert off.break_after is None and off.break_after_sensitive is None and off.micro_every is None
    assert off.in_a_row == 1 and off.break_length == timedelta(minutes=1)  # floors, not zeros
    one = rules.Limits.of(ProtectionPolicy(max_sensitive_in_a_row=1, break_minutes=1))
    assert one.in_a_row == 1 and one.break_length == timedelta(minutes=1)


def test_idle_rest_is_one_lease(settings):
    settings.AERIE_LEASE_MINUTES = 7
    assert rules.idle_rest() == timedelta(minutes=7)


# ------------------------------------------------------------------------------ caps

@pytest.mark.parametrize("frames, exposure_s, capped", [
    (9, 599.0, False),  # one frame and one second under both caps
    (10, 0.0, True),  # the frame cap reached exactly
    (0, 600.0, True),  # the exposure cap reached exactly
    (11, 700.0, True),
])
def test_at_cap_counts_a_cap_reached_exactly(frames, exposure_s, capped):
    assert rules.at_cap(limits(), rules.Totals(frames=frames, exposure_s=exposure_s)) is capped


def test_admit_at_the_cap_withholds_only_sensitive_frames():
    st = working()
    under = rules.admit(st, limits(), rules.Totals(frames=9, exposure_s=599.0), T0, "1")
    assert under.sensitive_ok and under.why_not == "" and under.message == "" and under.withheld is None
    at = rules.admit(st, limits(), rules.Totals(frames=10), T0, "1")
    assert (at.sensitive_ok, at.why_not, at.message, at.withheld) == (False, "cap", rules.CAP_MESSAGE, None)
    # None: the caller applies the caps itself (in SQL), so the rules do not
    assert rules.admit(st, limits(), None, T0, "1").sensitive_ok


@pytest.mark.parametrize("consent, version", [(False, "1"), (True, "0"), (True, "")])
def test_admit_without_consent_to_the_current_notice(consent, version):
    st = ProtectionState(consent=consent, consent_version=version)
    got = rules.admit(st, limits(), rules.Totals(), T0, "1")
    assert (got.sensitive_ok, got.why_not, got.message, got.withheld) == (False, "consent", CONSENT_MESSAGE, None)
    # consent comes first: at the cap too, the reason given is consent
    assert rules.admit(st, limits(), rules.Totals(frames=99), T0, "1").why_not == "consent"


# ------------------------------------------------------------------------------ interleaving

@pytest.mark.parametrize("streak, interleave", [(2, False), (3, True), (4, True)])
def test_interleave_once_the_streak_reaches_the_limit(streak, interleave):
    st = working(streak=streak)
    assert rules.admit(st, limits(in_a_row=3), rules.Totals(), T0 + timedelta(minutes=1), "1").interleave is interleave


# ------------------------------------------------------------------------------ stretches and idle rest

def test_the_first_admission_starts_a_stretch_with_a_check_in():
    st = ProtectionState(consent=True, consent_version="1", streak=2, sensitive_since_break=5,
                         micro_reminded_at=T0 - timedelta(hours=1))
    got = rules.admit(st, limits(), rules.Totals(), T0, "1")
    assert got.withheld is None and got.sensitive_ok and not got.interleave
    assert (st.stretch_started_at, st.last_active_at, st.checkin_due) == (T0, T0, "start")
    assert (st.streak, st.sensitive_since_break, st.micro_reminded_at) == (0, 0, None)


@pytest.mark.parametrize("break_minutes, gap, new_stretch", [
    (10, timedelta(minutes=15) - US, False),  # the idle rest is the longer of a break and a lease (15)
    (10, timedelta(minutes=12), False),  # longer than a break, shorter than a lease: still working
    (10, timedelta(minutes=15), True),  # exactly the rest
    (20, timedelta(minutes=16), False),  # a lease is shorter than this break: the break counts
    (20, timedelta(minutes=20), True),
])
def test_an_idle_gap_as_long_as_the_rest_starts_a_new_stretch(break_minutes, gap, new_stretch):
    started = T0 - timedelta(minutes=30)
    st = working(started, last=T0, streak=2, sensitive_since_break=3, checkin_due="")
    rules.admit(st, limits(break_length=timedelta(minutes=break_minutes)), rules.Totals(), T0 + gap, "1")
    assert st.last_active_at == T0 + gap
    if new_stretch:
        assert (st.stretch_started_at, st.checkin_due, st.streak, st.sensitive_since_break) == (T0 + gap, "start", 0, 0)
    else:
        assert (st.stretch_started_at, st.checkin_due, st.streak, st.sensitive_since_break) == (started, "", 2, 3)


def test_a_state_without_a_stretch_gets_one():
    st = ProtectionState(consent=True, consent_version="1", last_active_at=T0, checkin_due="")
    rules.admit(st, limits(), rules.Totals(), T0 + timedelta(minutes=1), "1")
    assert st.stretch_started_at == T0 + timedelta(minutes=1) and st.checkin_due == "start"


# ------------------------------------------------------------------------------ breaks

def test_a_break_is_due_after_exactly_the_minutes_of_work():
    worked = limits(break_after=timedelta(minutes=50), break_after_sensitive=None)
    # active all along (a minute ago), the stretch began 50 minutes ago less a microsecond
    st = working(T0 - timedelta(minutes=50) + US, last=T0 - timedelta(minutes=1))
    assert rules.admit(st, worked, rules.Totals(), T0, "1").withheld is None
    st = working(T0 - timedelta(minutes=50), last=T0 - timedelta(minutes=1))
    got = rules.admit(st, worked, rules.Totals(), T0, "1")
    message = "You have worked 50 minutes without a break. Take 10 minutes away from the screen; the queue is paused until then."
    assert got.withheld == ("break", message, T0 + timedelta(minutes=10))
    assert st.break_until == T0 + timedelta(minutes=10)
    assert st.break_reason == "You have worked 50 minutes without a break."


@pytest.mark.parametrize("limit, seen, due", [(3, 2, False), (3, 3, True), (1, 1, True)])
def test_a_break_is_due_after_exactly_n_sensitive_frames(limit, seen, due):
    st = working(T0 - timedelta(minutes=5), last=T0 - timedelta(minutes=1), sensitive_since_break=seen)
    got = rules.admit(st, limits(break_after_sensitive=limit), rules.Totals(), T0, "1")
    if not due:
        assert got.withheld is None and st.break_until is None
        return
    frames = "frame" if seen == 1 else "frames"
    reason = f"You have seen {seen} sensitive {frames} since your last break."
    assert got.withheld == ("break", f"{reason} Take 10 minutes away from the screen; the queue is paused until then.",
                            T0 + timedelta(minutes=10))
    assert st.break_reason == reason


def test_break_rules_turned_off_never_call_a_break():
    st = working(T0 - timedelta(hours=5), last=T0 - timedelta(minutes=1), sensitive_since_break=500)
    got = rules.admit(st, limits(break_after=None, break_after_sensitive=None), rules.Totals(), T0, "1")
    assert got.withheld is None and st.break_until is None


def test_a_break_holds_until_exactly_its_end_then_a_new_stretch_begins():
    until = T0 + timedelta(minutes=10)
    st = working(T0 - timedelta(minutes=50), last=T0, break_until=until, break_reason="tired", streak=3,
                 sensitive_since_break=40)
    got = rules.admit(st, limits(), rules.Totals(), until - US, "1")
    assert got.withheld == ("break", "Time for a break. The queue is paused until the break ends.", until)
    assert st.break_until == until and st.last_active_at == T0  # nothing else changes during the break
    got = rules.admit(st, limits(), rules.Totals(), until, "1")
    assert got.withheld is None and got.sensitive_ok
    assert (st.break_until, st.break_reason, st.checkin_due) == (None, "", "after_break")
    assert (st.stretch_started_at, st.last_active_at, st.streak, st.sensitive_since_break) == (until, until, 0, 0)


def test_start_break_wording_and_a_long_reason():
    st = working()
    got = rules.start_break(st, T0, timedelta(minutes=1), "x" * 250)
    assert got.withheld == ("break", "x" * 250 + " Take 1 minute away from the screen; the queue is paused until then.",
                            T0 + timedelta(minutes=1))
    assert st.break_reason == "x" * 200 and st.break_until == T0 + timedelta(minutes=1)
    # minutes are rounded: 90 s is "2 minutes"
    assert "Take 2 minutes away" in rules.start_break(st, T0, timedelta(seconds=90), "r").withheld[1]


# ------------------------------------------------------------------------------ leased

def test_leased_counts_sensitive_frames_and_a_plain_frame_ends_the_streak():
    lim = limits(micro_every=None)
    st = working(streak=2, sensitive_since_break=5, warned_at=T0, checkin_due="")
    assert rules.leased(st, lim, True, False, T0) == {}
    assert (st.streak, st.sensitive_since_break) == (3, 6)
    assert rules.leased(st, lim, False, False, T0) == {}
    assert (st.streak, st.sensitive_since_break) == (0, 6)
    rules.leased(st, lim, True, True, T0)  # a resumed lease counts nothing again
    assert (st.streak, st.sensitive_since_break) == (0, 6)


def test_a_content_warning_once_per_stretch():
    lim = limits(micro_every=None)
    st = working(checkin_due="")
    assert rules.leased(st, lim, False, False, T0) == {} and st.warned_at is None  # plain frames: none
    assert rules.leased(st, lim, True, False, T0 + US) == {"content_warning": True} and st.warned_at == T0 + US
    assert rules.leased(st, lim, True, False, T0 + 2 * US) == {}
    # warned exactly when the stretch started: that counts as warned in this stretch
    st = working(warned_at=T0, checkin_due="")
    assert rules.leased(st, lim, True, False, T0 + US) == {}
    st = working(warned_at=T0 - US, checkin_due="")  # warned in an earlier stretch
    assert rules.leased(st, lim, True, True, T0 + US) == {"content_warning": True}


def test_micro_break_reminders_every_few_minutes():
    lim = limits(micro_every=timedelta(minutes=20))
    st = working(warned_at=T0, checkin_due="")
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=20) - US) == {}
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=20)) == {"micro_break": True}
    assert st.micro_reminded_at == T0 + timedelta(minutes=20)
    # the next one counts from the last reminder, not from the start of the stretch
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=39)) == {}
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=40)) == {"micro_break": True}
    # a reminder from an earlier stretch does not count
    st = working(warned_at=T0, checkin_due="", micro_reminded_at=T0 - timedelta(minutes=15))
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=6)) == {}
    assert rules.leased(st, lim, False, False, T0 + timedelta(minutes=20)) == {"micro_break": True}
    assert rules.leased(working(checkin_due=""), limits(micro_every=None), False, False, T0 + timedelta(hours=3)) == {}


def test_leased_passes_the_check_in_on():
    st = working(warned_at=T0, checkin_due="after_break")
    assert rules.leased(st, limits(micro_every=None), False, False, T0) == {"checkin": "after_break"}


# ------------------------------------------------------------------------------ days

def test_zone_falls_back_to_the_servers(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    assert days.zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    for name in ("", None, "Not/AZone", "../etc/passwd"):
        assert days.zone(name) == ZoneInfo("Asia/Tokyo")
    assert days.valid_zone("Europe/Kyiv") and not days.valid_zone("Not/AZone")


def test_a_local_day_starts_at_local_midnight_inclusive():
    berlin = ZoneInfo("Europe/Berlin")  # UTC+2 in May
    midnight = datetime(2026, 5, 5, 0, 0, tzinfo=berlin)
    assert days.day_start(midnight, berlin) == midnight
    assert days.day_start(midnight - US, berlin) == datetime(2026, 5, 4, 0, 0, tzinfo=berlin)
    assert days.day_start(datetime(2026, 5, 4, 22, 30, tzinfo=dt_timezone.utc), berlin) == midnight
    assert days.day_start(midnight, berlin).utcoffset() == timedelta(hours=2)


def test_a_local_week_starts_on_monday_midnight():
    berlin = ZoneInfo("Europe/Berlin")
    monday = datetime(2026, 5, 4, 0, 0, tzinfo=berlin)
    assert days.week_start(monday, berlin) == monday
    assert days.week_start(monday - US, berlin) == datetime(2026, 4, 27, 0, 0, tzinfo=berlin)
    assert days.week_start(datetime(2026, 5, 10, 23, 59, tzinfo=berlin), berlin) == monday  # Sunday night
    assert days.week_start(datetime(2026, 5, 6, 12, 0, tzinfo=berlin), berlin) == monday
    # the week of the switch to summer time began at UTC+1
    assert days.week_start(datetime(2026, 3, 29, 12, 0, tzinfo=berlin), berlin).utcoffset() == timedelta(hours=1)


# ------------------------------------------------------------------------------ reveal tokens

def person(pk=7, authenticated=True):
    return SimpleNamespace(pk=pk, is_authenticated=authenticated)


def token(frame=11, user=7, salt=reveal.SALT):
    return signing.dumps({"f": frame, "u": user, "x": 99}, salt=salt, compress=True)


def test_a_reveal_token_opens_one_frame_for_one_person():
    good = token()
    assert reveal.reveal_of(good, person(), 11) == 99  # the reveal it was issued for
    assert reveal.reveal_of(good, person(pk=8), 11) is None  # someone else's token
    assert reveal.reveal_of(good, person(), 12) is None  # another frame
    assert reveal.reveal_of(good, person(authenticated=False), 11) is None
    assert reveal.reveal_of(good, SimpleNamespace(pk=7), 11) is None  # not a signed-in user at all
    assert reveal.reveal_of("", person(), 11) is None
    assert reveal.reveal_of(good[:-1] + ("A" if good[-1] != "A" else "B"), person(), 11) is None  # tampered
    assert reveal.reveal_of(token(salt="another.purpose"), person(), 11) is None  # signed for something else
    no_reveal = signing.dumps({"f": 11, "u": 7}, salt=reveal.SALT, compress=True)
    assert reveal.reveal_of(no_reveal, person(), 11) is None  # an old-style token names no reveal


def test_a_reveal_token_expires_after_exactly_its_lifetime(settings, monkeypatch):
    settings.AERIE_REVEAL_URL_SECONDS = 60
    clock = SimpleNamespace(time=lambda: 1_800_000_000.0)
    monkeypatch.setattr(signing, "time", clock)
    issued = token()
    clock.time = lambda: 1_800_000_060.0  # exactly its lifetime: still valid
    assert reveal.reveal_of(issued, person(), 11) == 99
    clock.time = lambda: 1_800_000_060.5
    assert reveal.reveal_of(issued, person(), 11) is None


def test_a_refused_reveal_says_why():
    refused = reveal.RevealRefused("cap", "enough for today")
    assert (refused.kind, refused.message, str(refused)) == ("cap", "enough for today", "enough for today")
