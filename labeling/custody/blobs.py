"""The stored files a frame has, by retention kind. Every name is derived from a content address
(labeling.models.footage.blob_path), so the files are found without listing storage.

- raw: the frame file (for a 16-bit frame also its raw values, raw16/), and what is made from it
  without redaction: its thumbnail and blurred previews (at every blur strength a project uses,
  colour and greyscale), and a thermal frame's palette copies of them.
- derived: every derived rendition the frame had (labeling.redaction, the history too), with the
  thumbnails, previews and palette copies made from each.

A name may be shared: the same frame in two sequences or datasets has the same files. Each name
is returned with its key (the frame's sha256 for raw files, the rendition's for derived ones),
which is what retention asks "does anyone still need this?" about."""
from __future__ import annotations

import hashlib

from django.conf import settings

from labeling.footage import thermal
from labeling.models import DerivedFrame, ProtectionPolicy
from labeling.models.footage import blob_path

RAW, DERIVED = "raw", "derived"


def radii() -> list[float]:
    """Every blur strength a preview may have been made at: the default and each project's."""
    default = float(settings.AERIE_PREVIEW_BLUR_RADIUS)
    chosen = ProtectionPolicy.objects.exclude(blur_radius__isnull=True).values_list("blur_radius", flat=True)
    return sorted({default, *(float(r) for r in chosen if r)})


def _palettes(name: str) -> list[str]:
    """The palette copies of a thermal frame's image (labeling.protection.renditions.in_palette)."""
    ext = "png" if name.endswith(".png") else "jpg"
    key = hashlib.sha256(name.encode()).hexdigest()
    return [blob_path(f"palette-{p}", key, ext) for p in thermal.PALETTES[1:]]


def raw_names(sha: str, ext: str, bits: int, blur_radii: list[float]) -> list[str]:
    default = float(settings.AERIE_PREVIEW_BLUR_RADIUS)
    shown = [blob_path("frames", sha, ext), blob_path("thumbs", sha, "jpg")]
    for radius in blur_radii:
        kind = "blurred" if abs(radius - default) <= 1e-9 else f"blurred-r{radius:g}"
        shown += [blob_path(kind, sha, "jpg"), blob_path(kind + "-g", sha, "jpg")]
    names = list(shown)
    if bits == 16:
        names.append(blob_path("raw16", sha, "png"))
        names += [p for name in shown for p in _palettes(name)]
    return names


def derived_names(sha: str, bits: int, blur_radii: list[float]) -> list[str]:
    shown = [blob_path("derived", sha, "jpg"), blob_path("derived-thumbs", sha, "jpg")]
    for radius in blur_radii:
        shown += [blob_path(f"derived-blurred-r{radius:g}", sha, "jpg"),
                  blob_path(f"derived-blurred-r{radius:g}-g", sha, "jpg")]
    return shown + ([p for name in shown for p in _palettes(name)] if bits == 16 else [])


def of_frames(kind: str, frames: list[tuple[int, str, str]], bits: int, blur_radii: list[float]) -> dict[str, str]:
    """{name: key} of the files of `kind` of these frames ((id, sha256, ext) each, one sequence)."""
    out: dict[str, str] = {}
    if kind == RAW:
        for _, sha, ext in frames:
            out.update(dict.fromkeys(raw_names(sha, ext, bits, blur_radii), sha))
        return out
    shas = DerivedFrame.objects.filter(frame_id__in=[f[0] for f in frames]).values_list("sha256", flat=True)
    for sha in set(shas):
        out.update(dict.fromkeys(derived_names(sha, bits, blur_radii), sha))
    return out
