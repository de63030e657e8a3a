"""DOTA export: `default/labelTxt/<sequence>_<index>.txt` (and `default/images/<same stem>.<ext>`),
the layout of DOTA's own train/val folders and of datumaro's `dota` reader.

Each file starts with DOTA's two header lines, `imagesource:aerie` and `gsd:null` (aerie does not
know the ground sample distance), then one line per box: `x1 y1 x2 y2 x3 y3 x4 y4 category
difficult`, in pixels. The corners run clockwise on screen from the unrotated top-left
(labeling.work.oriented); an axis-aligned box is written as its four corners the same way.
`category` is the class key (DOTA names categories, it does not number them); `difficult` is 1
for a box marked occluded, else 0. Numbers are plain decimals with up to 6 places.
"""
from __future__ import annotations

from labeling.exchange.exports import perimage
from labeling.exchange.exports import selection as scopes
from labeling.work import oriented
from ontology.models import LabelClass

FOLDER = "default"
HEADER = "imagesource:aerie\ngsd:null\n"


def line(box: scopes.Box, key: str) -> str:
    pts = oriented.corners(box.x, box.y, box.w, box.h, box.angle)
    coords = " ".join(f"{perimage.fixed(px, 6)} {perimage.fixed(py, 6)}" for px, py in pts)
    return f"{coords} {key} {1 if box.occluded else 0}\n"


def write(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
          progress=lambda n: None) -> dict:
    key_of = {c.pk: c.key for c in classes.values()}
    return perimage.write(archive, scope, label_path=lambda stem: f"{FOLDER}/labelTxt/{stem}.txt",
                          image_path=lambda stem, ext: f"{FOLDER}/images/{stem}.{ext}",
                          lines=lambda frame: [line(box, key_of[box.class_id]) for box in perimage.boxes(frame)],
                          images=images, header=HEADER, progress=progress)
