"""Which image of a frame a person gets, decided in one place (the image route is a thin caller).

- A frame that is not sensitive: the variant asked for.
- A sensitive one (the frame, its sequence or its dataset marked): its blurred preview, at the
  blur strength of the project the request names (greyscale for people who prefer it); its
  original only with a reveal token signed for this person and this frame (`reveal.allowed`), and
  never cached by the browser."""
from __future__ import annotations

from dataclasses import dataclass

from labeling.access import roles
from labeling.footage import blobstore
from labeling.models import Frame
from labeling.protection import policy, renditions, reveal
from labeling.protection import state as states

VARIANTS = ("thumbnail", "preview", "original")


class RevealRequired(PermissionError):
    """The original of a sensitive frame, asked for without a valid reveal of one's own."""


@dataclass(frozen=True)
class Image:
    """A stored blob to stream (`name`) or bytes made for this request (`data`), and how long the
    browser may keep it."""

    cache_control: str
    name: str | None = None
    data: bytes | None = None


def is_sensitive(frame: Frame) -> bool:
    """A frame is shown blurred when it, its sequence or its dataset is marked sensitive."""
    return frame.sensitive or frame.sequence.sensitive or frame.sequence.dataset.sensitive


def image_for(user, frame: Frame, variant: str, *, reveal_token: str = "", project_id=None) -> Image:
    """What `user` gets for `frame`'s `variant` (the frame with its sequence and dataset loaded).
    Raises RevealRequired for a sensitive original without a reveal, FileNotFoundError when a
    stored file is missing."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown image variant '{variant}'")
    if not is_sensitive(frame):
        name = {"thumbnail": frame.thumbnail_name, "preview": frame.preview_name, "original": frame.image_name}[variant]
        return Image("private, max-age=3600", name=name)
    grey = states.preferences(user.pk)["greyscale"]
    if variant == "original":
        if not reveal.allowed(reveal_token, user, frame.pk):
            raise RevealRequired("This frame is marked sensitive: its original is shown only through a reveal of "
                                 "your own (press and hold Reveal on the labeling page).")
        if not grey:
            return Image("no-store", name=frame.image_name)
        with blobstore.open_blob(frame.image_name) as fh:
            return Image("no-store", data=renditions.greyscale(fh.read(), quality=90))
    project = roles.visible_project(user, project_id) if project_id else None
    radius = policy.blur_radius(project if project and project.dataset_id == frame.sequence.dataset_id else None)
    # short: a change of blur strength or of the greyscale preference shows within a minute
    return Image("private, max-age=60", name=renditions.blurred_name(frame, radius, grey))
