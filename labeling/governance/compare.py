"""Two evaluation runs of one set, slice by slice (pure: metrics documents in, rows out).

The comparison is in mAP@0.5, the unit of the project's `promotion_tolerance`: a slice is
*worse* when `b` scores more than `tolerance` below `a` on it. A slice either run could not
measure (null) is reported with a null delta and never counts as worse. The overall figure comes
first as the slice `overall`; the rest follow worst delta first."""
from __future__ import annotations

METRIC = "map50"


def compare(a: dict, b: dict, tolerance: float, metric: str = METRIC) -> list[dict]:
    """[{slice, a, b, delta, worse, frames}] for `overall` and every slice of either document."""
    rows = []
    names = ["overall", *sorted(set(a.get("slices", {})) | set(b.get("slices", {})))]
    for name in names:
        ma = a.get("overall", {}) if name == "overall" else a.get("slices", {}).get(name, {})
        mb = b.get("overall", {}) if name == "overall" else b.get("slices", {}).get(name, {})
        va, vb = ma.get(metric), mb.get(metric)
        delta = None if va is None or vb is None else round(vb - va, 4)
        rows.append({"slice": name, "a": va, "b": vb, "delta": delta,
                     "worse": delta is not None and delta < -tolerance - 1e-9,
                     "frames": mb.get("frames", ma.get("frames"))})
    head, rest = rows[:1], rows[1:]
    rest.sort(key=lambda r: (r["delta"] is None, r["delta"] if r["delta"] is not None else 0, r["slice"]))
    return head + rest


def regressions(a: dict, b: dict, tolerance: float, metric: str = METRIC) -> list[dict]:
    """The rows of `compare` where `b` is worse."""
    return [row for row in compare(a, b, tolerance, metric) if row["worse"]]
