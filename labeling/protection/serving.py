"""Which image of a frame a person gets, decided in one place (the image route is a thin caller).

- Raw or derived: a person holding raw access to the frame's dataset (labeling.access.raw) gets
  the raw file and its thumbnail and preview; everyone else gets the derived rendition (faces and
  other regions hidden, labeling.redaction) and the thumbnail and preview made from it. Each raw
  original served is an audit event ("raw.use").
- A frame that is not sensitive: the variant asked for.
- A sensitive one (the frame, its sequence or its dataset marked): its blurred preview, at the
  blur strength of the project the request names (greyscale for people who prefer it); its
  original (raw or derived, as above) only with a reveal token signed for this person, this frame
  and this reveal (`reveal.allowed`, good once), and never cached by the browser.
- Retention (labeling.custody): once a sequence's raw frames expired, everyone gets the derived
  images, raw-access holders too; once its derived renditions expired, nothing (`Gone`)."""
from __future__ import annotations

from dataclasses import dataclass

from labeling.access import raw, roles
from labeling.custody import state as custody
from labeling.footage import blobstore, thermal
from labeling.models import Frame
from labeling.protection import policy, renditions, reveal
from labeling.protection import state as states
from labeling.redaction import served as derived

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


def image_for(user, frame: Frame, variant: str, *, reveal_token: str = "", project_id=None,
              palette: str | None = None) -> Image:
    """What `user` gets for `frame`'s `variant` (the frame with its sequence and dataset loaded).
    A 16-bit (thermal) frame comes in `palette` (else the person's choice), except where the
    person asked for greyscale on sensitive frames. Raises RevealRequired for a sensitive original
    without a reveal, custody.Gone when the frame's images were deleted under retention,
    FileNotFoundError when a stored file is missing."""
    image = _image_for(user, frame, variant, reveal_token=reveal_token, project_id=project_id)
    if frame.sequence.bits != 16 or image.name is None:
        return image
    if palette not in thermal.PALETTES:
        palette = states.preferences(user.pk)["thermal_palette"]
    if is_sensitive(frame) and states.preferences(user.pk)["greyscale"]:
        return image
    return Image(image.cache_control, name=renditions.in_palette(image.name, palette))


def _image_for(user, frame: Frame, variant: str, *, reveal_token: str = "", project_id=None) -> Image:
    if variant not in VARIANTS:
        raise ValueError(f"unknown image variant '{variant}'")
    custody.check_derived(frame.sequence)
    holds_raw = raw.holds(user, frame.sequence.dataset_id) and not custody.raw_expired(frame.sequence)
    if not is_sensitive(frame):
        # derived images change when a person adds or removes a region: kept a minute, not an hour
        keep = "private, max-age=3600" if holds_raw else "private, max-age=60"
        if variant == "original":
            return Image(keep, name=_original(user, frame, holds_raw))
        if not holds_raw:
            return Image(keep, name=derived.thumbnail_name(frame) if variant == "thumbnail"
                         else derived.preview_name(frame, policy.blur_radius(None)))
        name = {"thumbnail": frame.thumbnail_name, "preview": frame.preview_name}[variant]
        return Image("private, max-age=3600", name=name)
    grey = states.preferences(user.pk)["greyscale"]
    if variant == "original":
        if not reveal.allowed(reveal_token, user, frame.pk):
            raise RevealRequired("This frame is marked sensitive: its original is shown only through a reveal of "
                                 "your own (press and hold Reveal on the labeling page).")
        name = _original(user, frame, holds_raw)
        if not grey:
            return Image("no-store", name=name)
        with blobstore.open_blob(name) as fh:
            return Image("no-store", data=renditions.greyscale(fh.read(), quality=90))
    project = roles.visible_project(user, project_id) if project_id else None
    radius = policy.blur_radius(project if project and project.dataset_id == frame.sequence.dataset_id else None)
    # short: a change of blur strength or of the greyscale preference shows within a minute
    if not holds_raw:
        return Image("private, max-age=60", name=derived.preview_name(frame, radius, grey))
    return Image("private, max-age=60", name=renditions.blurred_name(frame, radius, grey))


def _original(user, frame: Frame, holds_raw: bool) -> str:
    if not holds_raw:
        return derived.original_name(frame)
    raw.used(user, frame.sequence.dataset_id, "original", frame)
    return frame.image_name
