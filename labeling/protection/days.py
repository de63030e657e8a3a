"""Days and weeks in a person's own time zone: caps reset at their local midnight."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings


def zone(name: str | None) -> ZoneInfo:
    """The person's zone, else the server's TIME_ZONE (an unknown name falls back too)."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def valid_zone(name: str) -> bool:
    return name in available_timezones()


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight that began the day `now` falls in, as an aware datetime (DST-safe: the
    wall-clock midnight of that date in that zone)."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the Monday of `now`'s week."""
    start = day_start(now, tz)
    monday = start.date() - timedelta(days=start.weekday())
    return datetime.combine(monday, time(0), tzinfo=tz)
