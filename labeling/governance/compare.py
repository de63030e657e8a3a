"""Two evaluation results side by side, slice by slice (pure: dicts in, rows out).

`a` is the baseline (the deployed version), `b` the candidate. The comparison is in mAP@0.5, the
unit of the project's `promotion_tolerance`: a slice is *worse* when the candidate's mAP@0.5 fell
by more than the tolerance; a slice that one side could not measure (null: no truth boxes) has
no delta and is never worse. The overall figure comes first as the row `overall`; the slices
follow worst first, the unmeasurable ones last."""
from __future__ import annotations

OVERALL = "overall"
METRIC = "map50"


def _map50(metrics: dict | None, name: str):
    metrics = metrics or {}
    entry = metrics.get("overall") if name == OVERALL else (metrics.get("slices") or {}).get(name)
    value = (entry or {}).get("map50")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare(a: dict | None, b: dict | None, tolerance: float = 0.0) -> list[dict]:
    """[{slice, a, b, delta, worse, frames}] for `overall` and every slice of either side."""
    if tolerance < 0:
        raise ValueError("tolerance: zero or more")
    names = [OVERALL] + sorted(set((a or {}).get("slices") or {}) | set((b or {}).get("slices") or {}))
    rows = []
    for name in names:
        va, vb = _map50(a, name), _map50(b, name)
        delta = None if va is None or vb is None else vb - va
        rows.append({"slice": name, "a": va, "b": vb, "delta": delta,
                     "worse": delta is not None and delta < -tolerance - 1e-12, "frames": _frames(b, a, name)})
    head, rest = rows[:1], rows[1:]
    rest.sort(key=lambda r: (r["delta"] is None, r["delta"] if r["delta"] is not None else 0.0, r["slice"]))
    return head + rest


def _frames(b: dict | None, a: dict | None, name: str):
    for metrics in (b, a):
        entry = (metrics or {}).get("overall") if name == OVERALL else ((metrics or {}).get("slices") or {}).get(name)
        if (entry or {}).get("frames") is not None:
            return entry["frames"]
    return None


def worse(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["worse"]]


def regressions(a: dict | None, b: dict | None, tolerance: float) -> list[dict]:
    """The rows of `compare` where `b` is worse."""
    return worse(compare(a, b, tolerance))


def worst_first(slices: dict | None) -> list[dict]:
    """One run's slices as rows [{slice, map, map50, frames}], lowest mAP@0.5 first (null last)."""
    rows = [{"slice": name, "map": (v or {}).get("map"), "map50": (v or {}).get("map50"),
             "frames": (v or {}).get("frames")} for name, v in (slices or {}).items()]
    rows.sort(key=lambda r: (r["map50"] is None, r["map50"] if r["map50"] is not None else 0.0, r["slice"]))
    return rows
