"""Where pages and the API get a frame's image: the one route that serves frame images (the URL
conf's `frame-image`, permission-checked), and the rule that a sensitive frame's original is never
linked: its blurred preview is, and a reveal issues a URL of its own (`reveal.issue`)."""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import get_script_prefix, reverse

_SENTINEL = 4_611_686_018_427_387_904  # a frame id no database hands out (2**62)
_routes: dict[tuple[str, str], tuple[str, str]] = {}


def frame_image(frame_id: int, variant: str, **query) -> str:
    """The image route for one frame and variant (thumbnail, preview, original). Every labeling
    request links two frames: the route is reversed once per variant (and script prefix) and
    the id put in its place, which is what `reverse` would answer, at a fraction of its cost."""
    key = (get_script_prefix(), variant)
    route = _routes.get(key)
    if route is None:
        head, _, tail = reverse("frame-image", kwargs={"pk": _SENTINEL, "variant": variant}).partition(str(_SENTINEL))
        route = _routes[key] = (head, tail)
    url = f"{route[0]}{int(frame_id)}{route[1]}"
    return f"{url}?{urlencode(query)}" if query else url


def for_page(frame_id: int, sensitive: bool, variant: str = "original", project_id: int | None = None,
             palette: str | None = None) -> str:
    """The URL a page shows for a frame: a sensitive frame's original is never linked (its blurred
    preview instead, at the blur strength of the project named by `p`). `palette`: a thermal
    frame's colouring, in the URL so that a new choice is not answered from the browser's cache."""
    if sensitive and variant == "original":
        variant = "preview"
    query = {}
    if sensitive and project_id:
        query["p"] = project_id
    if palette:
        query["palette"] = palette
    return frame_image(frame_id, variant, **query)
