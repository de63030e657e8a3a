"""Breaks a person takes, wellbeing check-ins (private: only their author sees their answers) and what leads see:
team aggregates of exposure, who is near a cap (to rebalance work; names in alphabetical order,
no figures per person, no ranking), and check-in averages only over groups of at least the
project's minimum size."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from labeling.models import Exposure, Project, ProtectionState, WellbeingCheckin
from labeling.protection import days, rules
from labeling.protection import state as states
from labeling.protection.policy import policy_for

NEAR_CAP = 0.8  # a person at 80% of a daily cap is "near" it


class CheckinError(ValueError):
    pass


def take_break(user, project: Project) -> tuple[str, str, object]:
    """The person takes a break now, of the project's break length: the queue serves them nothing
    until it ends. Returns what the queue will say meanwhile: (kind, message, until)."""
    limits = rules.Limits.of(policy_for(project))
    with transaction.atomic():
        state = states.locked(user.pk)  # the queue's lock: a break and a lease never cross
        admission = rules.start_break(state, timezone.now(), limits.break_length, "You chose to take a break.")
        states.save(state)
    return admission.withheld


def checkin(user, score, moment: str, project: Project | None = None) -> WellbeingCheckin | None:
    """Answer (1–5) or skip (None) the check-in; either way it is not asked again until the
    next stretch of work."""
    if moment not in dict(WellbeingCheckin.MOMENTS):
        raise CheckinError(f"moment: one of {', '.join(dict(WellbeingCheckin.MOMENTS))}")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise CheckinError("score: a whole number from 1 to 5, or null to skip")
    with transaction.atomic():
        states.locked(user.pk)
        ProtectionState.objects.filter(user_id=user.pk).update(checkin_due="")
        if score is None:
            return None
        return WellbeingCheckin.objects.create(user=user, project=project, score=score, moment=moment)


def mine(user, limit: int = 20) -> list[WellbeingCheckin]:
    return list(WellbeingCheckin.objects.filter(user=user).order_by("-at")[:limit])


def team(project: Project, now=None) -> dict:
    """The lead's view of a project: exposure in this project today and this week (the server's
    day), who is near a daily cap (their own day, all projects), and check-in averages."""
    now = now or timezone.now()
    policy = policy_for(project)
    limits = rules.Limits.of(policy)
    tz = days.zone(None)
    day, week = days.day_start(now, tz), days.week_start(now, tz)
    exposures = Exposure.objects.filter(project=project)

    def period(since):
        rows = exposures.filter(started_at__gte=since).aggregate(
            frames=Count("pk", filter=Q(kind=Exposure.FRAME)),
            seconds=Sum("duration_s", filter=Q(kind=Exposure.REVEAL)),
            people=Count("user", distinct=True))
        return {"sensitive_frames": rows["frames"], "unblurred_minutes": (rows["seconds"] or 0.0) / 60,
                "people": rows["people"]}

    User = get_user_model()
    members = list(User.objects.filter(memberships__project=project).order_by("username"))
    near = []
    for person in members:
        st = states.get(person)
        totals = states.today(st, now)
        if (totals.frames >= NEAR_CAP * limits.frames_per_day
                or totals.exposure_s >= NEAR_CAP * limits.exposure_s_per_day):
            near.append(person.username)
    since = now - timedelta(days=7)
    checkins = WellbeingCheckin.objects.filter(project=project, at__gte=since)
    group = checkins.values("user").distinct().count()
    shown = group >= policy.wellbeing_min_group
    average = checkins.aggregate(avg=Avg("score"), n=Count("pk")) if shown else None
    return {
        "today": period(day), "week": period(week), "near_cap": near, "members": len(members),
        "caps": {"sensitive_frames": limits.frames_per_day, "unblurred_minutes": limits.exposure_s_per_day / 60},
        "wellbeing": {"shown": shown, "min_group": policy.wellbeing_min_group, "people": group if shown else None,
                      "average": round(average["avg"], 2) if shown and average["avg"] is not None else None,
                      "answers": average["n"] if shown else None, "days": 7},
    }
