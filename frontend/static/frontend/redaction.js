// The redaction page: drag on the derived frame to mark a region; its frame-pixel box goes into
// the form, which the server checks (inside the frame, a reason) before it re-renders the frame.
const svg = document.getElementById("redaction-stage");
const drawn = document.getElementById("drawn");
const field = (k) => document.getElementById(`region-${k}`);
let start = null;

function point(e) {
  const p = svg.createSVGPoint();
  p.x = e.clientX; p.y = e.clientY;
  const q = p.matrixTransform(svg.getScreenCTM().inverse());
  const w = Number(svg.dataset.width), h = Number(svg.dataset.height);
  return { x: Math.min(Math.max(0, q.x), w), y: Math.min(Math.max(0, q.y), h) };
}

function box(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
}

function show(r) {
  drawn.setAttribute("x", r.x); drawn.setAttribute("y", r.y);
  drawn.setAttribute("width", r.w); drawn.setAttribute("height", r.h);
  drawn.setAttribute("visibility", "visible");
}

svg.addEventListener("pointerdown", (e) => { start = point(e); svg.setPointerCapture(e.pointerId); });
svg.addEventListener("pointermove", (e) => { if (start) show(box(start, point(e))); });
svg.addEventListener("pointerup", (e) => {
  if (!start) return;
  const r = box(start, point(e));
  start = null;
  if (r.w < 2 || r.h < 2) return;
  show(r);
  for (const k of ["x", "y", "w", "h"]) field(k).value = Math.round(r[k] * 100) / 100;
  document.getElementById("add-region").disabled = false;
  document.getElementById("region-reason").focus();
});
