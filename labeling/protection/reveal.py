"""Reveal on demand. The original of a sensitive frame is reachable only through a short-lived
URL signed for one person, one frame and one reveal (HMAC with the installation's secret key,
Django's TimestampSigner), served once: `issue` records the reveal as an exposure, `end` stores its duration when the
page reports that the frame is blurred again. Without a valid token of your own, the image route
answers 403 (`allowed`)."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from labeling import audit
from labeling.models import Exposure, Frame, Project
from labeling.protection import image_urls, rules
from labeling.protection import state as states
from labeling.protection.policy import consent_version, policy_for

SALT = "aerie.protection.reveal"


class RevealRefused(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def issue(user, frame: Frame, project: Project) -> dict:  # pragma: no mutate block
    """A reveal of `frame` for `user`: a signed URL to the original, valid for
    AERIE_REVEAL_URL_SECONDS, and the exposure that counts it. Refused without consent or at
    the daily limit of unblurred minutes."""
    if not frame.sensitive:
        return {"reveal": None, "url": image_urls.frame_image(frame.pk, "original"), "expires_in": None}
    now = timezone.now()
    with transaction.atomic():
        state = states.locked(user.pk)  # the same lock as the queue's: caps hold across tabs
        if not state.consent or state.consent_version != consent_version():
            raise RevealRefused("consent", "Opt in on your protection page to reveal graphic frames; "
                                           "you can label on the blurred view meanwhile.")
        limits = rules.Limits.of(policy_for(project))
        today = states.today(state, now)
        # a segment leased under the cap may pass it: the person finishes it blurred
        if today.exposure_s >= limits.exposure_s_per_day or today.frames > limits.frames_per_day:
            what = "unblurred viewing" if today.exposure_s >= limits.exposure_s_per_day else "sensitive frames"
            raise RevealRefused("cap", f"You have reached today's limit of {what}. The blurred view "
                                       "stays available; thank you for looking after yourself.")
        exposure = Exposure.objects.create(user_id=user.pk, project=project, frame=frame, kind=Exposure.REVEAL,
                                           started_at=now)
        audit.record(user, "protection.reveal", exposure, {"frame": frame.pk, "project": project.pk})
    token = signing.dumps({"f": frame.pk, "u": user.pk, "x": exposure.pk}, salt=SALT, compress=True)
    return {"reveal": exposure.pk, "url": image_urls.frame_image(frame.pk, "original", reveal=token),
            "expires_in": settings.AERIE_REVEAL_URL_SECONDS}


def reveal_of(token: str, user, frame_id: int) -> int | None:
    """The reveal (exposure id) a token was signed for, if it is this person's token for this
    frame and still within its lifetime; None otherwise. Pure: no database."""
    if not token or not getattr(user, "is_authenticated", False):
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.AERIE_REVEAL_URL_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if data.get("u") != user.pk or data.get("f") != frame_id or not isinstance(data.get("x"), int):
        return None
    return data["x"]


def allowed(token: str, user, frame_id: int) -> bool:  # pragma: no mutate block
    """Does this token let this person see this frame's original now? A token is good for the one
    reveal it was issued for, once: the first image served under it uses it up (as does the end
    of the reveal), so a copied or replayed link is worth nothing."""
    exposure_id = reveal_of(token, user, frame_id)
    if exposure_id is None:
        return False
    return Exposure.objects.filter(pk=exposure_id, user_id=user.pk, frame_id=frame_id, kind=Exposure.REVEAL,
                                   served_at__isnull=True, ended_at__isnull=True).update(
        served_at=timezone.now()) == 1


def end(user, exposure_id: int) -> Exposure:  # pragma: no mutate block
    """The page blurred the frame again: the reveal's duration is the server's own clock from
    issue to now (at most AERIE_REVEAL_MAX_SECONDS). Ending twice changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        exposure = Exposure.objects.select_for_update().get(pk=exposure_id, user_id=user.pk, kind=Exposure.REVEAL)
        if exposure.ended_at is None:
            limit = timedelta(seconds=settings.AERIE_REVEAL_MAX_SECONDS)
            exposure.ended_at = min(now, exposure.started_at + limit)
            exposure.duration_s = max(0.0, (exposure.ended_at - exposure.started_at).total_seconds())
            exposure.save(update_fields=["ended_at", "duration_s"])
    return exposure
