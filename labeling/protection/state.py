"""A person's protection state: consent, preferences, and their exposure today and this week.

The queue's protection gate and reveals lock the person's row (`locked`) before they decide, so
whatever a person does in several tabs at once, the caps hold."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.access import cache
from labeling.footage import thermal
from labeling.models import ConsentEvent, ProtectionState
from labeling.models.built import build
from labeling.protection import days
from labeling.protection.policy import consent_version
from labeling.protection.rules import Totals
from labeling.work import prepared

_STATE_FIELDS = ("consent", "consent_version", "timezone", "greyscale", "streak", "stretch_started_at",
                 "last_active_at", "sensitive_since_break", "break_until", "break_reason", "micro_reminded_at",
                 "warned_at", "checkin_due")

# Make the row if the person has none, and lock it, in one statement (DO UPDATE returns and locks
# the row either way).
_LOCK = f"""
INSERT INTO labeling_protectionstate (user_id, consent, consent_version, greyscale, timezone, streak,
                                      sensitive_since_break, break_reason, checkin_due, thermal_palette)
VALUES (%(user)s, false, '', false, '', 0, 0, '', '', 'white-hot')
ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
RETURNING {", ".join(_STATE_FIELDS)}
"""

SAVE = f"""
UPDATE labeling_protectionstate SET {", ".join(f"{f} = %({f})s" for f in _STATE_FIELDS[4:])}
WHERE user_id = %(user)s
"""

# Exposure in [since, until): sensitive frames served, and seconds of reveals. A reveal whose end
# the page never reported counts as long as it has lasted, up to AERIE_REVEAL_MAX_SECONDS.
_TOTALS = """
SELECT count(*) FILTER (WHERE kind = 'frame'),
       coalesce(sum(CASE WHEN kind = 'reveal' THEN coalesce(duration_s,
                    least(greatest(extract(epoch FROM (%(now)s - started_at)), 0), %(max)s)) END), 0)
FROM labeling_exposure
WHERE user_id = %(user)s AND started_at >= %(since)s AND started_at < %(until)s
"""


def under_caps_sql(user_id: int, since: datetime, now: datetime, frames_cap: int, exposure_s_cap: float):
    """An SQL condition (with its values) that holds while the person is under both daily caps:
    the queue puts it into its candidate query, after the lock on the person's row, so it reads
    exposures that other tabs committed meanwhile, with no round trip of its own."""
    sql = ("(SELECT count(*) FILTER (WHERE e.kind = 'frame') < %s AND coalesce(sum(CASE WHEN e.kind = 'reveal' "
           "THEN coalesce(e.duration_s, least(greatest(extract(epoch FROM (%s - e.started_at)), 0), %s)) END), 0) < %s "
           "FROM labeling_exposure e WHERE e.user_id = %s AND e.started_at >= %s)")
    return sql, [frames_cap, now, float(settings.AERIE_REVEAL_MAX_SECONDS), float(exposure_s_cap), user_id, since]


def locked(user_id: int) -> ProtectionState:
    """The person's state row, made if needed and locked until the end of the transaction."""
    assert transaction.get_connection().in_atomic_block, "lock the protection state inside a transaction"
    row = prepared.fetchone(_LOCK, {"user": user_id})
    state = build(ProtectionState, user_id=user_id, **dict(zip(_STATE_FIELDS, row)))
    state._state.adding = False
    return state


def trial_copy(state: ProtectionState) -> ProtectionState:
    """A copy of a locked state to work out a change on (kept only if the change is made)."""
    values = {k: v for k, v in state.__dict__.items() if k != "_state"}
    trial = build(ProtectionState, **values)
    trial._state.adding = state._state.adding
    return trial


def save_cte(name: str, prefix: str, only_if: str) -> str:
    """SAVE as a CTE called `name`, its parameters prefixed, writing only if `only_if` (an SQL
    condition) holds: for the queue's lease statement (labeling.work.queue.LeaseRider)."""
    sets = ", ".join(f"{f} = %({prefix}{f})s" for f in _STATE_FIELDS[4:])
    return f"{name} AS (UPDATE labeling_protectionstate SET {sets} WHERE user_id = %({prefix}user)s AND {only_if})"


def save_params(state: ProtectionState) -> dict:
    return {"user": state.user_id, **{f: getattr(state, f) for f in _STATE_FIELDS[4:]}}


def save(state: ProtectionState) -> None:
    prepared.run(SAVE, save_params(state))


def get(user) -> ProtectionState:
    """The person's state (unlocked; defaults if they have none yet)."""
    return ProtectionState.objects.filter(user_id=user.pk).first() or ProtectionState(user_id=user.pk)


def totals(user_id: int, since: datetime, until: datetime, now: datetime | None = None) -> Totals:
    now = now or timezone.now()
    frames, seconds = prepared.fetchone(_TOTALS, {"user": user_id, "since": since, "until": until, "now": now,
                                                "max": float(settings.AERIE_REVEAL_MAX_SECONDS)})
    return Totals(frames=frames, exposure_s=float(seconds))


def today(state: ProtectionState, now: datetime) -> Totals:
    start = days.day_start(now, days.zone(state.timezone))
    return totals(state.user_id, start, now + timedelta(seconds=1), now)


def exposure_summary(user, now: datetime | None = None) -> dict:
    """What a person sees of their own exposure: today and this week, in their time zone."""
    now = now or timezone.now()
    state = get(user)
    tz = days.zone(state.timezone)
    end = now + timedelta(seconds=1)
    day, week = totals(user.pk, days.day_start(now, tz), end, now), totals(user.pk, days.week_start(now, tz), end, now)
    return {"timezone": str(tz), "today": {"sensitive_frames": day.frames, "unblurred_minutes": day.exposure_s / 60},
            "week": {"sensitive_frames": week.frames, "unblurred_minutes": week.exposure_s / 60}}


def preferences(user_id: int) -> dict:
    """Greyscale, time zone and thermal palette, cached per process a few seconds (read on every
    image of a sensitive or thermal frame)."""
    def load():
        row = ProtectionState.objects.filter(user_id=user_id).values("greyscale", "timezone", "thermal_palette").first()
        return row or {"greyscale": False, "timezone": "", "thermal_palette": "white-hot"}

    return cache.cached("protection-prefs", user_id, load)


def set_preferences(user, *, greyscale: bool | None = None, tz: str | None = None,
                    palette: str | None = None) -> ProtectionState:
    if tz is not None and tz and not days.valid_zone(tz):
        raise ValueError(f"timezone: '{tz}' is not a known time zone (e.g. Europe/Kyiv)")
    if palette is not None and palette not in thermal.PALETTES:
        raise ValueError(f"thermal_palette: one of {', '.join(thermal.PALETTES)}")
    with transaction.atomic():
        locked(user.pk)  # the person's row lock, to the end of the transaction
        changes = {}
        if greyscale is not None:
            changes["greyscale"] = bool(greyscale)
        if tz is not None:
            changes["timezone"] = tz
        if palette is not None:
            changes["thermal_palette"] = palette
        if changes:
            ProtectionState.objects.filter(user_id=user.pk).update(**changes)
            audit.record(user, "protection.preferences", None, changes)
    cache.forget("protection-prefs", user.pk)
    return get(user)


def set_consent(user, given: bool, version: str | None = None) -> ConsentEvent:
    """Opt in to (or withdraw from) sensitive frames. Takes effect on the next frame. Opting in
    names the notice version read; it must be the current one."""
    current = consent_version()
    version = version or current
    if given and version != current:
        raise ValueError(f"policy_version: the current protection notice is version {current}; read it and opt in again")
    with transaction.atomic():
        locked(user.pk)
        ProtectionState.objects.filter(user_id=user.pk).update(
            consent=bool(given), consent_version=version if given else "", consent_at=timezone.now())
        event = ConsentEvent.objects.create(user=user, given=bool(given), policy_version=version)
        audit.record(user, "protection.consent", event, {"given": bool(given), "policy_version": version})
    return event
