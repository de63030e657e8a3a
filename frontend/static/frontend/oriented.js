// Oriented boxes in the box editor: the geometry of labeling/work/oriented.py in the browser.
// A box of an oriented class (kind "obox") is its unrotated rectangle {x, y, w, h} plus `angle`:
// degrees, clockwise on screen, about the rectangle's centre, kept in (-90, 90].
// Rotate: drag the round handle above the box (Shift snaps to 15°), or [ and ] (1°; with Shift 15°).

export const ROTATE_GAP = 22; // screen pixels between the box's top edge and its rotate handle

export const isOriented = (cls) => cls?.kind === "obox";

export function normalize(angle) {
  const out = 90 - ((((90 - angle) % 180) + 180) % 180);
  return Object.is(out, -0) ? 0 : out;
}

const rad = (deg) => (deg * Math.PI) / 180;

// p turned by `angle` degrees (clockwise on screen) about c
export function turn(p, c, angle) {
  const cos = Math.cos(rad(angle)), sin = Math.sin(rad(angle));
  const dx = p.x - c.x, dy = p.y - c.y;
  return { x: c.x + dx * cos - dy * sin, y: c.y + dx * sin + dy * cos };
}

export const centre = (b) => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 });

export function corners(b) {
  const c = centre(b);
  return [[b.x, b.y], [b.x + b.w, b.y], [b.x + b.w, b.y + b.h], [b.x, b.y + b.h]]
    .map(([x, y]) => turn({ x, y }, c, b.angle || 0));
}

export function enclosing(b) {
  const pts = corners(b);
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  return { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs),
           h: Math.max(...ys) - Math.min(...ys) };
}

// The box moved (not turned, not resized) so that its turned corners lie in the frame.
export function clampInside(b, width, height) {
  const e = enclosing(b);
  const dx = e.x < 0 ? -e.x : Math.min(0, width - (e.x + e.w));
  const dy = e.y < 0 ? -e.y : Math.min(0, height - (e.y + e.h));
  return { ...b, x: b.x + dx, y: b.y + dy };
}

// The angle that points the rotate handle (above the unrotated top edge) at p.
export function angleTowards(b, p, snap = false) {
  const c = centre(b);
  let angle = (Math.atan2(p.y - c.y, p.x - c.x) * 180) / Math.PI + 90;
  if (snap) angle = Math.round(angle / 15) * 15;
  return normalize(angle);
}

// Resize a turned box by one corner handle: the pointer is read in the box's own (unrotated)
// frame and the opposite corner stays where it is on screen.
export function resize(b, handle, p) {
  const c0 = centre(b);
  const local = turn(p, c0, -(b.angle || 0));
  let x1 = b.x, y1 = b.y, x2 = b.x + b.w, y2 = b.y + b.h;
  if (handle.includes("w")) x1 = local.x;
  if (handle.includes("e")) x2 = local.x;
  if (handle.includes("n")) y1 = local.y;
  if (handle.includes("s")) y2 = local.y;
  const r = { x: Math.min(x1, x2), y: Math.min(y1, y2), w: Math.abs(x2 - x1), h: Math.abs(y2 - y1) };
  const c1 = centre(r);
  const placed = turn(c1, c0, b.angle || 0); // where the new centre lands once turned about the old one
  return { ...r, x: placed.x - r.w / 2, y: placed.y - r.h / 2 };
}
