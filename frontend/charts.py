"""Small server-rendered SVG charts for the QA dashboard: horizontal bars, a heatmap and a line
chart. Every label is escaped; the SVG scales with its container (viewBox)."""
from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

GOOD, MID, BAD = "#1f8a5b", "#c98a00", "#c0392b"


def _tone(value: float | None, threshold: float) -> str:
    if value is None:
        return "#b9c2cf"
    return GOOD if value >= threshold else (MID if value >= threshold - 0.2 else BAD)


def bars(rows: list[tuple[str, float | None, str]], *, threshold: float = 0.7, title: str = "") -> SafeString:
    """One horizontal bar per row (label, value in 0..1 or None, note); a dashed line marks the
    threshold."""
    if not rows:
        return mark_safe('<p class="muted">No data yet.</p>')
    label_w, bar_w, row_h = 110, 250, 26
    height = row_h * len(rows) + 24
    parts = []
    for n, (label, value, note) in enumerate(rows):
        y = 8 + n * row_h
        width = 0 if value is None else max(1.0, bar_w * max(0.0, min(1.0, value)))
        shown = "—" if value is None else f"{value:.2f}"
        parts.append(format_html(
            '<text x="{}" y="{}" text-anchor="end" class="axis">{}</text>'
            '<rect x="{}" y="{}" width="{}" height="16" rx="3" fill="{}"><title>{}: {} {}</title></rect>'
            '<text x="{}" y="{}" class="val">{} <tspan class="muted">{}</tspan></text>',
            label_w - 8, y + 12, label, label_w, y, f"{width:.1f}", _tone(value, threshold), label, shown, note,
            label_w + width + 6, y + 12, shown, note))
    tx = label_w + bar_w * threshold
    parts.append(format_html('<line x1="{}" x2="{}" y1="2" y2="{}" class="threshold"/>'
                             '<text x="{}" y="{}" class="axis" text-anchor="middle">threshold {}</text>',
                             f"{tx:.1f}", f"{tx:.1f}", height - 14, f"{tx:.1f}", height - 2, threshold))
    return format_html('<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
                       label_w + bar_w + 110, height, title, mark_safe("".join(parts)))


def heatmap(names: list[str], cells: list[list], *, threshold: float = 0.7, title: str = "") -> SafeString:
    """A symmetric annotator × annotator matrix; each cell is (value, frames) or None."""
    if not names:
        return mark_safe('<p class="muted">No pairs yet.</p>')
    size, pad = 58, 120
    parts = []
    for i, name in enumerate(names):
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end" class="axis">{}</text>',
                                 pad - 6, pad + i * size + size / 2 + 4, name))
        parts.append(format_html('<text x="{}" y="{}" text-anchor="start" class="axis" transform="rotate(-35 {} {})">{}</text>',
                                 pad + i * size + size / 2, pad - 8, pad + i * size + size / 2, pad - 8, name))
        for j in range(len(names)):
            cell = cells[i][j]
            value, frames = cell if cell else (None, 0)
            x, y = pad + j * size, pad + i * size
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="{}" stroke="#fff">'
                '<title>{} × {}: {} over {} frames</title></rect>',
                x, y, size, size, _tone(value, threshold), "0.85" if value is not None else "0.3",
                names[i], names[j], "—" if value is None else f"{value:.2f}", frames))
            if value is not None:
                parts.append(format_html('<text x="{}" y="{}" text-anchor="middle" class="cell">{}</text>',
                                         x + size / 2, y + size / 2 + 5, f"{value:.2f}"))
    total = pad + size * len(names) + 10
    return format_html('<svg class="chart heat" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
                       total + 70, total, title, mark_safe("".join(parts)))


def line(points: list[tuple[str, float | None]], *, top: float | None = None, threshold: float | None = None,
         title: str = "", fmt: str = "{:.2f}") -> SafeString:
    """A line over labelled points (e.g. days); `top` fixes the y range (else the maximum)."""
    values = [v for _, v in points if v is not None]
    if not values:
        return mark_safe('<p class="muted">No data yet.</p>')
    width, height, left, bottom = 460, 170, 40, 28
    top = top if top is not None else max(max(values), 1)
    step = (width - left - 10) / max(1, len(points) - 1)

    def y_of(v):
        return 10 + (height - bottom - 10) * (1 - v / top)

    coords = [(left + n * step, y_of(v)) for n, (_, v) in enumerate(points) if v is not None]
    path = " ".join(f"{'M' if n == 0 else 'L'}{x:.1f},{y:.1f}" for n, (x, y) in enumerate(coords))
    dots = format_html_join("", '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
                            ((f"{left + n * step:.1f}", f"{y_of(v):.1f}", label, fmt.format(v))
                             for n, (label, v) in enumerate(points) if v is not None))
    ticks = format_html_join("", '<text x="{}" y="{}" text-anchor="middle" class="axis">{}</text>',
                             ((f"{left + n * step:.1f}", height - 8, label)
                              for n, (label, _) in enumerate(points) if n % max(1, len(points) // 6) == 0))
    guide = (format_html('<line x1="{}" x2="{}" y1="{}" y2="{}" class="threshold"/>', left, width - 10,
                         f"{y_of(threshold):.1f}", f"{y_of(threshold):.1f}") if threshold is not None else "")
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="axisline"/>'
        '<text x="{}" y="14" class="axis" text-anchor="end">{}</text><text x="{}" y="{}" class="axis" text-anchor="end">0</text>'
        '{}<path d="{}" class="series"/>{}{}</svg>',
        width, height, title, left, width - 10, height - bottom, height - bottom,
        left - 6, fmt.format(top), left - 6, height - bottom, guide, path, dots, ticks)


def _n(value: float) -> str:
    return f"{value:.1f}"


def timelines(view: dict, colors: dict[str, str]) -> SafeString:
    """A segment's versions on one shared timeline: a band per annotator, a lane per track (its
    class's colour) from its first keyframe to where it ends, keyframes as ticks, the frames where
    the object is outside the view left open, and the disputed spans shaded across every band."""
    first, last = view["segment"]["first"], view["segment"]["last"]
    label_w, width, lane_h, gap = 120, 640, 12, 14
    span = max(1, last - first + 1)

    def x(frame: float) -> float:
        return label_w + (frame - first) / span * width

    parts, y = [], 18
    for version in view["versions"]:
        parts.append(format_html('<text x="4" y="{}" class="axis">{}</text>', y + 10, version["who"]))
        for track in version["tracks"] or [{"track_id": None, "class": "", "keyframes": []}]:
            color = colors.get(track["class"], "#666")
            keys = track["keyframes"]
            for k, key in enumerate(keys):
                if key.get("outside"):
                    continue
                end = keys[k + 1]["frame"] if k + 1 < len(keys) else last + 1
                parts.append(format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" opacity="0.55"><title>{} #{} · '
                    'frames {}–{}</title></rect>', _n(x(key["frame"])), y, _n(max(1.0, x(end) - x(key["frame"]))), lane_h - 3,
                    color, track["class"], track["track_id"], key["frame"], end - 1))
            for key in keys:
                parts.append(format_html('<rect x="{}" y="{}" width="2" height="{}" fill="#1b1f24"/>',
                                         _n(x(key["frame"])), y - 1, lane_h - 1))
            y += lane_h
        y += gap
    shade = format_html_join("", '<rect x="{}" y="4" width="{}" height="{}" class="disputed">'
                                 '<title>annotators differ: frames {}–{}</title></rect>',
                             ((_n(x(a)), _n(max(2.0, x(b + 1) - x(a))), y - 8, a, b) for a, b in view["disputed"]))
    ticks = format_html_join("", '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
                             ((_n(x(f)), y + 6, f) for f in range(first, last + 1, max(1, span // 10))))
    return format_html('<svg class="chart timelines" viewBox="0 0 {} {}" role="img" aria-label="Versions on the '
                       "segment's timeline\">{}{}{}</svg>", label_w + width + 10, y + 12, shade,
                       mark_safe("".join(parts)), ticks)
