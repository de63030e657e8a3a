"""The queue's rules, registered: what a policy may say about the frames a person gets next
(filter them in SQL, reorder or drop them, put one from outside the open queue first, withhold
everything for now, write with the lease), and the registry the queue consults.

The queue (labeling.work.queue) knows no policy by name; the app registers them at start
(labeling.apps: gold frames, annotator protection). Candidates are `queue.Candidate`s."""
from __future__ import annotations

from typing import Protocol

from labeling.models import Project


class QueuePolicy(Protocol):
    """A rule that filters or reorders the frames a person may get next."""

    #: how many candidates the policy wants to see (the queue locks that many rows)
    candidates: int
    #: False if `choose` never filters or reorders: the queue can then lease in one statement
    reorders: bool

    def sql_filter(self, project: Project, user) -> tuple[str, list] | None:
        """An extra SQL condition on the candidates (aliases: qi = queue item, f = frame)."""

    def choose(self, project: Project, user, candidates: list) -> list:
        """The candidates in the order this policy prefers; dropping one excludes it."""

    # Optional hooks:
    # - `engaged(project, user) -> bool`: False when the policy has nothing to say for this
    #   project and person (it is then skipped, and the one-statement path stays available);
    # - `pick(project, user) -> candidate or None` puts a frame from outside the open queue first
    #   (the gold policy mixes gold frames in this way); later policies still see it;
    # - `admit(project, user) -> policy`: called first in the general path's transaction (before a
    #   held lease is resumed); returns the object whose sql_filter/choose/leased apply to this one
    #   request, or a `Withheld` (its writes commit; the queue then raises it). That object may
    #   also have `allows(candidate) -> bool` (a held lease it refuses is given back),
    #   `leased(project, user, lease)` (after the lease, same transaction; it may add to lease.notes),
    #   `lease_rider(project, candidate) -> LeaseRider | None` (writes that go in the new lease's
    #   own statement, a round trip fewer than `leased` writing them) and
    #   `when_empty(project, user) -> Withheld | None` (why nothing was found, if it is the reason).


_registered: list[QueuePolicy] = []


def register(policy: QueuePolicy) -> None:
    """Add a policy (the app does it at start: labeling.apps); a policy of the same class is not
    added twice."""
    if not any(type(p) is type(policy) for p in _registered):
        _registered.append(policy)


def unregister(policy: QueuePolicy) -> None:
    _registered.remove(policy)


def registered() -> list[QueuePolicy]:
    return list(_registered)


def engaged(project: Project, user) -> list[QueuePolicy]:
    """The policies with something to say for this project and person."""
    return [p for p in _registered if getattr(p, "engaged", None) is None or p.engaged(project, user)]


def picked(project: Project, user, policies=None) -> list:
    """Candidates that policies put first from outside the open queue (a gold frame that is due)."""
    return [c for p in (_registered if policies is None else policies) if getattr(p, "pick", None)
            for c in [p.pick(project, user)] if c]


def allowed(applied, frame) -> bool:
    """Do the policies applied to this request allow this frame (a held lease, a picked frame)?"""
    return all(getattr(p, "allows", None) is None or p.allows(frame) for p in applied)


def after_lease(applied, project: Project, user, lease) -> None:
    for policy in applied:
        if getattr(policy, "leased", None):
            policy.leased(project, user, lease)


#: called when the one-statement path leased a sensitive frame: True if a policy that was not
#: engaged for the project should have been (the lease is then given back). Set by the app
#: (labeling.apps) to protection's check.
sensitive_check = None
