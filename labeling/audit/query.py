"""Reading the audit trail: who may see which events, the filters of the audit pages and API,
and the JSON-lines export.

Admins see every event. QA leads see the events of the projects they are members of, and of
those projects' datasets (ingest, dataset versions, sensitivity flags); installation-wide
events (sign-ins, ontologies, admin changes) are for admins only. Nobody else sees any."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from labeling.access import roles
from labeling.models import AuditEvent, Project


class FilterError(ValueError):
    """A filter that cannot be read; the message says which and why."""


def can_view(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.has_perm("labeling.view_auditevent")


def visible_events(user) -> QuerySet:
    if not can_view(user):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.all()
    if roles.is_admin(user):
        return events
    projects = Project.objects.filter(memberships__user=user)
    return events.filter(Q(project__in=projects.values("pk"))
                         | Q(project__isnull=True, dataset__in=projects.values("dataset_id")))


@dataclass
class Filters:
    verb: str = ""  # a verb, or its start ("auth." for every sign-in event)
    actor: str = ""  # a username, or "system" for events no person caused
    object: str = ""  # "type:id", "type" or "id", e.g. labeling.annotation:42
    project: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive

    @classmethod
    def parse(cls, params) -> Filters:
        """From query parameters (verb, actor, object, project, since, until); dates are whole
        days (until inclusive) or ISO date-times."""
        def when(name: str, end: bool) -> dt.datetime | None:
            raw = (params.get(name) or "").strip()
            if not raw:
                return None
            try:
                day = parse_date(raw) if len(raw) == 10 else None
                moment = None if day else parse_datetime(raw)
            except ValueError:
                day = moment = None
            if day is not None:  # a whole day: from its start, or (until) to its end
                moment = dt.datetime.combine(day + dt.timedelta(days=end), dt.time())
            elif moment is None:
                raise FilterError(f"{name}: give a date (YYYY-MM-DD) or a date-time")
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

        project = (params.get("project") or "").strip()
        if project and not project.isdigit():
            raise FilterError("project: give a project id")
        return cls(verb=(params.get("verb") or "").strip()[:64], actor=(params.get("actor") or "").strip()[:150],
                   object=(params.get("object") or "").strip()[:140], project=int(project) if project else None,
                   since=when("since", False), until=when("until", True))

    def apply(self, events: QuerySet) -> QuerySet:
        if self.verb:
            events = events.filter(verb__startswith=self.verb)
        if self.actor == "system":
            events = events.filter(actor__isnull=True)
        elif self.actor:
            events = events.filter(actor__username=self.actor)
        if self.object:
            kind, sep, ident = self.object.rpartition(":")
            if not sep:
                kind, ident = (self.object, "") if "." in self.object else ("", self.object)
            if kind:
                events = events.filter(object_type=kind)
            if ident:
                events = events.filter(object_id=ident)
        if self.project is not None:
            events = events.filter(project_id=self.project)
        if self.since:
            events = events.filter(at__gte=self.since)
        if self.until:
            events = events.filter(at__lt=self.until)
        return events

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in vars(self).items()
                if v not in ("", None)}


def as_record(event: AuditEvent) -> dict:
    """One event as the API and the export show it, with its place in the chain."""
    link = getattr(event, "link", None) if _has_link(event) else None
    return {
        "id": event.pk, "seq": link.seq if link else None,
        "at": event.at.isoformat(), "actor": event.actor.username if event.actor_id else None,
        "actor_id": event.actor_id, "verb": event.verb, "object_type": event.object_type,
        "object_id": event.object_id, "project": event.project_id, "dataset": event.dataset_id, "data": event.data,
        "prev_hash": link.prev_hash if link else None, "hash": link.hash if link else None,
    }


def _has_link(event: AuditEvent) -> bool:
    try:
        event.link
    except AuditEvent.link.RelatedObjectDoesNotExist:
        return False  # not committed yet (or the chain was tampered with)
    return True


def export(user, filters: Filters, events: QuerySet):
    """Record who exports what, then the JSON lines of the events recorded before that (chained
    first, so that every line carries its hash)."""
    from labeling.audit import chain, record

    chain.link_pending()
    exported = record(user, "audit.export", None, {"filters": filters.as_dict()}, project=filters.project)
    return export_lines(events.filter(pk__lt=exported.pk))


def export_lines(events: QuerySet):
    """The events as JSON lines, oldest first, streamed from a server-side cursor (never the
    whole trail in memory)."""
    for event in events.select_related("actor", "link").order_by("id").iterator(chunk_size=2000):
        yield json.dumps(as_record(event), ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
