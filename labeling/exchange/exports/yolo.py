"""YOLO exports in the Ultralytics layout: `yolo` (detection) and `yolo_obb` (oriented boxes).

- `images/default/<sequence>_<index>.<ext>` (with images) and `labels/default/<same stem>.txt`:
  one line per box. aerie has no train/val split of its own: both point at `images/default`
  (split it with your own tooling, or export dataset versions).
- `yolo`: `class cx cy w h`, normalised to 0–1 by the frame's size. An oriented box is written
  as its enclosing axis-aligned box (what Ultralytics itself trains a detector on).
- `yolo_obb`: `class x1 y1 x2 y2 x3 y3 x4 y4`, the corners normalised, clockwise on screen from
  the unrotated top-left (labeling.work.oriented); an axis-aligned box as its four corners.
  Corners are clipped to 0–1 (Ultralytics refuses points outside the image; an oriented box may
  pass the edge by 0.05 px).
- Class ids are 0-based in the ontology version's class order over the box classes (the COCO
  category id − 1); `data.yaml` has `train`, `val`, `nc` and `names` (id: class key).
  It has no `path`: Ultralytics resolves a relative one against its working directory or
  datasets folder, and without one it takes the folder that holds data.yaml.
- Numbers are plain decimals with up to 10 places (no exponent: datumaro's reader checks fields
  with isdigit).
"""
from __future__ import annotations

from labeling.exchange.exports import perimage
from labeling.exchange.exports import selection as scopes
from labeling.exchange.exports.coco import categories
from labeling.work import oriented
from ontology.models import LabelClass

SPLIT = "default"
DATA_YAML = "data.yaml"


def data_yaml(names: list[str], *, obb: bool) -> str:
    import json

    lines = [f"# aerie export ({'YOLO-OBB' if obb else 'YOLO'}): no 'path', so the folder of this file is the root",
             f"train: images/{SPLIT}", f"val: images/{SPLIT}", f"nc: {len(names)}", "names:"]
    lines += [f"  {n}: {json.dumps(name)}" for n, name in enumerate(names)]  # JSON strings are YAML strings
    return "\n".join(lines) + "\n"


def _writer(obb: bool):
    def write(archive, scope: scopes.Scope, classes: dict[str, LabelClass], *, images=None,
              progress=lambda n: None) -> dict:
        cats = categories(classes)
        class_of = {c.pk: n for n, c in enumerate(cats)}
        f = perimage.fixed

        def lines(frame: scopes.FrameLabels) -> list[str]:
            out = []
            for box in perimage.boxes(frame):
                W, H = frame.width, frame.height
                if obb:
                    pts = oriented.corners(box.x, box.y, box.w, box.h, box.angle)
                    coords = " ".join(f"{f(min(max(px / W, 0.0), 1.0))} {f(min(max(py / H, 0.0), 1.0))}"
                                      for px, py in pts)
                    out.append(f"{class_of[box.class_id]} {coords}\n")
                else:
                    x, y, w, h = perimage.axis_aligned(box, W, H)
                    out.append(f"{class_of[box.class_id]} {f((x + w / 2) / W)} {f((y + h / 2) / H)} "
                               f"{f(w / W)} {f(h / H)}\n")
            return out

        stats = perimage.write(archive, scope, label_path=lambda stem: f"labels/{SPLIT}/{stem}.txt",
                               image_path=lambda stem, ext: f"images/{SPLIT}/{stem}.{ext}", lines=lines,
                               images=images, progress=progress)
        archive.add_bytes(DATA_YAML, data_yaml([c.key for c in cats], obb=obb).encode())
        return stats

    return write


write = _writer(obb=False)
write_obb = _writer(obb=True)
