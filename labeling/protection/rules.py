"""The protection rules as pure decisions over a person's state, the project's policy and their
exposure today. No database here: `gate` loads and locks, calls these, and writes the result.

- consent: sensitive frames only to a person who opted in to the current notice version;
- daily caps: sensitive frames served, and minutes of unblurred viewing (the sum of reveal
  durations), in the person's local day; at a cap, only non-sensitive frames;
- interleaving: after k sensitive frames in a row the next one is non-sensitive if one is left;
- breaks: after N minutes of continuous work or M sensitive frames since the last break, a timed
  break during which nothing is served; an idle gap at least as long as a break (and the lease)
  counts as a rest and starts a new stretch;
- micro-breaks: a reminder every few minutes of continuous work;
- the first sensitive frame of a stretch comes with a content warning; a check-in is offered at
  the start of a stretch and after a break.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class Limits:
    frames_per_day: int
    exposure_s_per_day: float
    in_a_row: int
    break_after: timedelta | None
    break_after_sensitive: int | None
    break_length: timedelta
    micro_every: timedelta | None

    @classmethod
    def of(cls, policy) -> "Limits":
        return cls(
            frames_per_day=policy.daily_sensitive_frames,
            exposure_s_per_day=policy.daily_exposure_minutes * 60.0,
            in_a_row=max(1, policy.max_sensitive_in_a_row),
            break_after=timedelta(minutes=policy.break_after_minutes) if policy.break_after_minutes else None,
            break_after_sensitive=policy.break_after_sensitive or None,
            break_length=timedelta(minutes=max(1, policy.break_minutes)),
            micro_every=timedelta(minutes=policy.micro_break_minutes) if policy.micro_break_minutes else None,
        )


@dataclass(frozen=True)
class Totals:
    """A person's exposure in a period."""
    frames: int = 0
    exposure_s: float = 0.0


@dataclass
class Admission:
    withheld: tuple[str, str, datetime | None] | None = None  # (kind, message, until)
    sensitive_ok: bool = True
    why_not: str = ""  # consent | cap: why sensitive frames are not served now
    message: str = ""
    interleave: bool = False  # the next frame should be non-sensitive if one is left
    notes: dict = field(default_factory=dict)


def idle_rest() -> timedelta:
    return timedelta(minutes=settings.AERIE_LEASE_MINUTES)


def _new_stretch(state, now: datetime, checkin: str) -> None:
    state.stretch_started_at = now
    state.sensitive_since_break = 0
    state.streak = 0
    state.micro_reminded_at = None
    state.checkin_due = checkin


CAP_MESSAGE = ("You have reached today's limit for sensitive content, and nothing else is left for you in this "
               "project. Thank you: please come back tomorrow.")


def at_cap(limits: Limits, today: Totals) -> bool:
    return today.frames >= limits.frames_per_day or today.exposure_s >= limits.exposure_s_per_day


def admit(state, limits: Limits, today: Totals | None, now: datetime, consent_version: str) -> Admission:
    """Decide what this person may get now; updates `state` (the caller saves it). `today`
    None: the caller enforces the caps itself (the queue does, in SQL: `state.under_caps_sql`)."""
    if state.break_until is not None:
        if now < state.break_until:
            return Admission(withheld=("break", "Time for a break. The queue is paused until the break ends.",
                                       state.break_until))
        state.break_until, state.break_reason = None, ""
        _new_stretch(state, now, "after_break")
    elif state.last_active_at is None or now - state.last_active_at >= max(limits.break_length, idle_rest()):
        _new_stretch(state, now, "start")
    state.last_active_at = now
    if state.stretch_started_at is None:
        _new_stretch(state, now, "start")

    reason = None
    if limits.break_after and now - state.stretch_started_at >= limits.break_after:
        minutes = round(limits.break_after.total_seconds() / 60)
        reason = f"You have worked {minutes} minutes without a break."
    elif limits.break_after_sensitive and state.sensitive_since_break >= limits.break_after_sensitive:
        n = state.sensitive_since_break
        reason = f"You have seen {n} sensitive frame{'s' if n != 1 else ''} since your last break."
    if reason:
        return start_break(state, now, limits.break_length, reason)

    admission = Admission(interleave=state.streak >= limits.in_a_row)
    if not state.consent or state.consent_version != consent_version:
        admission.sensitive_ok, admission.why_not = False, "consent"
        admission.message = ("The frames left for you here may show graphic content, and you have not opted in to "
                             "see such frames. You can opt in (or not) on your protection page.")
    elif today is not None and at_cap(limits, today):
        admission.sensitive_ok, admission.why_not, admission.message = False, "cap", CAP_MESSAGE
    return admission


def start_break(state, now: datetime, length: timedelta, reason: str) -> Admission:
    state.break_until = now + length
    state.break_reason = reason[:200]
    minutes = round(length.total_seconds() / 60)
    return Admission(withheld=("break", f"{reason} Take {minutes} minute{'s' if minutes != 1 else ''} away from the "
                                        "screen; the queue is paused until then.", state.break_until))


def leased(state, limits: Limits, sensitive: bool, resumed: bool, now: datetime, frames: int = 1) -> dict:
    """A frame was leased (or a held lease resumed): update the counters; what the page should
    show with it (a content warning, a micro-break reminder, a check-in). A segment is one lease
    for the streak (interleaving), and its `frames` sensitive frames for the count since the
    last break."""
    notes = {}
    if not resumed:
        if sensitive:
            state.streak += 1
            state.sensitive_since_break += max(1, frames)
        else:
            state.streak = 0
    if sensitive and (state.warned_at is None or state.warned_at < state.stretch_started_at):
        notes["content_warning"] = True
        state.warned_at = now
    if limits.micro_every and state.stretch_started_at:
        last = max(state.stretch_started_at, state.micro_reminded_at or state.stretch_started_at)
        if now - last >= limits.micro_every:
            notes["micro_break"] = True
            state.micro_reminded_at = now
    if state.checkin_due:
        notes["checkin"] = state.checkin_due
    return notes
