// The box editor: an SVG whose user units are frame pixels, so every coordinate the page
// shows or sends is in frame pixels whatever the zoom. Draw, select, move, resize, delete,
// cycle, undo/redo, zoom and pan; boxes of oriented classes also turn (oriented.js: a rotate
// handle, and [ ]). It knows nothing of the server; labeler.js does.
import { ROTATE_GAP, angleTowards, clampInside, enclosing, isOriented, normalize, resize } from "./oriented.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SIZE = 3;
const HANDLE = 7; // screen pixels

let uid = 0;
export const newUid = () => `b${++uid}`;

export class BoxEditor {
  constructor(svg, { onChange, onSelect }) {
    this.svg = svg;
    this.layer = svg.querySelector("#boxes");
    this.rubber = svg.querySelector("#rubber");
    this.image = svg.querySelector("#frame-image");
    this.onChange = onChange;
    this.onSelect = onSelect;
    this.boxes = [];
    this.classes = {};
    this.selected = null;
    this.currentClass = null;
    this.undoStack = [];
    this.redoStack = [];
    this.drag = null;
    svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    svg.addEventListener("contextmenu", (e) => e.preventDefault());
    svg.addEventListener("wheel", (e) => { e.preventDefault(); this.zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2, this.toFrame(e)); },
      { passive: false });
    new ResizeObserver(() => this.fit()).observe(svg);
  }

  load({ width, height, imageUrl, classes, boxes }) {
    this.width = width;
    this.height = height;
    this.classes = Object.fromEntries(classes.map((c) => [c.key, c]));
    this.image.setAttribute("width", width);
    this.image.setAttribute("height", height);
    this.image.setAttribute("href", imageUrl);
    this.boxes = boxes.map((b) => ({ ...b, uid: newUid() }));
    this.undoStack = [];
    this.redoStack = [];
    this.selected = null;
    const boxClasses = classes.filter((c) => c.kind !== "tag");
    if (!this.currentClass || !this.classes[this.currentClass]) this.currentClass = boxClasses[0]?.key || null;
    this.fit();
    this.render();
    this.onSelect(null);
  }

  setImage(url) { this.image.setAttribute("href", url); }

  // ---------------------------------------------------------------- coordinates and view
  toFrame(e) {
    const pt = this.svg.createSVGPoint();
    pt.x = e.clientX; pt.y = e.clientY;
    const p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
    return { x: p.x, y: p.y };
  }

  fit() {
    if (!this.width) return;
    this.view = { x: 0, y: 0, w: this.width, h: this.height };
    this.applyView();
  }

  applyView() {
    const v = this.view;
    this.svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    this.render();
  }

  zoom(factor, at) {
    if (!this.view) return;
    const center = at || { x: this.view.x + this.view.w / 2, y: this.view.y + this.view.h / 2 };
    const w = Math.min(this.width * 2, Math.max(20, this.view.w / factor));
    const h = w * (this.view.h / this.view.w);
    this.view = { x: center.x - (center.x - this.view.x) * (w / this.view.w),
                  y: center.y - (center.y - this.view.y) * (h / this.view.h), w, h };
    this.applyView();
  }

  pixel() { // one screen pixel in frame pixels
    const m = this.svg.getScreenCTM();
    return m ? 1 / m.a : 1;
  }

  // ---------------------------------------------------------------- history
  snapshot() { return JSON.stringify(this.boxes); }

  remember() {
    this.undoStack.push(this.snapshot());
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack = [];
  }

  undo() { this.restore(this.undoStack, this.redoStack); }
  redo() { this.restore(this.redoStack, this.undoStack); }

  restore(from, to) {
    if (!from.length) return;
    to.push(this.snapshot());
    this.boxes = JSON.parse(from.pop());
    if (!this.boxes.some((b) => b.uid === this.selected)) this.select(null);
    this.changed();
  }

  changed() { this.render(); this.onChange(); }

  // ---------------------------------------------------------------- edits
  select(id) {
    this.selected = id;
    this.render();
    this.onSelect(this.selectedBox());
  }

  selectedBox() { return this.boxes.find((b) => b.uid === this.selected) || null; }

  cycle(step) {
    if (!this.boxes.length) return;
    const i = this.boxes.findIndex((b) => b.uid === this.selected);
    const next = (i + step + this.boxes.length) % this.boxes.length;
    this.select(this.boxes[i < 0 ? 0 : next].uid);
  }

  deleteSelected() {
    if (!this.selected) return;
    this.remember();
    this.boxes = this.boxes.filter((b) => b.uid !== this.selected);
    this.select(null);
    this.changed();
  }

  update(id, fields) {
    const box = this.boxes.find((b) => b.uid === id);
    if (!box) return;
    this.remember();
    Object.assign(box, fields, { interpolated: false });
    if (["class", "x", "y", "w", "h", "angle"].some((k) => k in fields)) adjusted(box);
    this.changed();
    if (id === this.selected) this.onSelect(box);
  }

  setClass(key) {
    this.currentClass = key;
    const box = this.selectedBox();
    if (box) {
      let fields = { class: key, attributes: {} };
      if (isOriented(this.classes[key]) && box.angle == null) fields.angle = 0;
      if (!isOriented(this.classes[key]) && box.angle != null) { // an axis-aligned class: the enclosing box
        fields = { ...fields, ...this.clamp(enclosing(box)), angle: undefined };
      }
      this.update(this.selected, fields);
      if (fields.angle === undefined) delete box.angle;
    }
    this.render();
  }

  // turn the selected oriented box by `degrees` (clockwise), kept inside the frame
  rotateSelected(degrees) {
    const box = this.selectedBox();
    if (!box || box.angle == null) return false;
    this.update(box.uid, this.keepInside({ ...box, angle: normalize(box.angle + degrees) }));
    return true;
  }

  keepInside(b) {
    if (b.angle == null) return this.clamp(b);
    const { x, y, w, h, angle } = clampInside(b, this.width, this.height);
    return { x, y, w, h, angle };
  }

  addBoxes(list) {
    if (!list.length) return;
    this.remember();
    for (const b of list) this.boxes.push({ ...b, uid: newUid() });
    this.changed();
  }

  nudge(dx, dy) {
    const box = this.selectedBox();
    if (!box) return;
    this.update(box.uid, this.keepInside({ ...box, x: box.x + dx, y: box.y + dy }));
  }

  clamp(b) {
    const w = Math.min(b.w, this.width), h = Math.min(b.h, this.height);
    return { x: Math.min(Math.max(0, b.x), this.width - w), y: Math.min(Math.max(0, b.y), this.height - h), w, h };
  }

  // ---------------------------------------------------------------- pointer
  pointerDown(e) {
    this.svg.focus();
    const p = this.toFrame(e);
    if (e.button === 2 || e.button === 1) {
      this.drag = { mode: "pan", start: { x: e.clientX, y: e.clientY }, view: { ...this.view } };
    } else {
      const handle = e.target.dataset?.handle;
      const target = e.target.closest?.("[data-uid]");
      if (handle === "rotate" && this.selectedBox()) {
        this.drag = { mode: "rotate", start: p, box: { ...this.selectedBox() }, moved: false };
      } else if (handle && this.selectedBox()) {
        this.drag = { mode: "resize", handle, start: p, box: { ...this.selectedBox() }, moved: false };
      } else if (target) {
        this.select(target.dataset.uid);
        this.drag = { mode: "move", start: p, box: { ...this.selectedBox() }, moved: false };
      } else if (this.currentClass && this.classes[this.currentClass]?.kind !== "tag") {
        this.select(null);
        this.drag = { mode: "draw", start: this.clampPoint(p) };
      } else {
        return;
      }
    }
    this.svg.setPointerCapture(e.pointerId);
  }

  clampPoint(p) { return { x: Math.min(Math.max(0, p.x), this.width), y: Math.min(Math.max(0, p.y), this.height) }; }

  pointerMove(e) {
    const d = this.drag;
    if (!d) return;
    if (d.mode === "pan") {
      const k = this.view.w / this.svg.clientWidth;
      this.view = { ...d.view, x: d.view.x - (e.clientX - d.start.x) * k, y: d.view.y - (e.clientY - d.start.y) * k };
      this.applyView();
      return;
    }
    const p = this.clampPoint(this.toFrame(e));
    if (d.mode === "draw") {
      const r = rectFrom(d.start, p);
      setRect(this.rubber, r);
      this.rubber.setAttribute("visibility", "visible");
      this.rubber.setAttribute("stroke", this.classes[this.currentClass]?.color || "#fff");
    } else if (d.mode === "move") {
      if (!d.moved) { this.remember(); d.moved = true; }
      const box = this.selectedBox();
      Object.assign(box, this.keepInside({ ...d.box, x: d.box.x + p.x - d.start.x, y: d.box.y + p.y - d.start.y }),
        { interpolated: false });
      this.render();
    } else if (d.mode === "rotate") {
      if (!d.moved) { this.remember(); d.moved = true; }
      Object.assign(this.selectedBox(), { angle: angleTowards(d.box, p, e.shiftKey), interpolated: false });
      this.render();
    } else if (d.mode === "resize" && d.box.angle != null) {
      if (!d.moved) { this.remember(); d.moved = true; }
      Object.assign(this.selectedBox(), resize(d.box, d.handle, p), { interpolated: false });
      this.render();
    } else if (d.mode === "resize") {
      if (!d.moved) { this.remember(); d.moved = true; }
      const b = d.box;
      let x1 = b.x, y1 = b.y, x2 = b.x + b.w, y2 = b.y + b.h;
      if (d.handle.includes("w")) x1 = p.x;
      if (d.handle.includes("e")) x2 = p.x;
      if (d.handle.includes("n")) y1 = p.y;
      if (d.handle.includes("s")) y2 = p.y;
      Object.assign(this.selectedBox(), rectFrom({ x: x1, y: y1 }, { x: x2, y: y2 }), { interpolated: false });
      this.render();
    }
  }

  pointerUp(e) {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.mode === "draw") {
      this.rubber.setAttribute("visibility", "hidden");
      const r = rectFrom(d.start, this.clampPoint(this.toFrame(e)));
      if (r.w >= MIN_SIZE && r.h >= MIN_SIZE) {
        this.remember();
        const box = { uid: newUid(), class: this.currentClass, ...round(r), attributes: {}, track_id: null };
        if (isOriented(this.classes[this.currentClass])) box.angle = 0;
        this.boxes.push(box);
        this.select(box.uid);
        this.changed();
      }
    } else if (d.mode !== "pan" && d.moved) {
      const box = this.selectedBox();
      if (box.angle != null) Object.assign(box, this.keepInside(box));
      Object.assign(box, round(box));
      adjusted(box);
      this.changed();
      this.onSelect(box);
    }
  }

  // ---------------------------------------------------------------- drawing
  render() {
    const px = this.pixel();
    this.layer.replaceChildren();
    for (const b of this.boxes) {
      const cls = this.classes[b.class] || { color: "#ffffff", name: b.class };
      const g = document.createElementNS(SVG, "g");
      g.dataset.uid = b.uid;
      g.classList.add("box");
      if (b.uid === this.selected) g.classList.add("selected");
      if (b.interpolated) g.classList.add("interpolated");
      // an oriented box: the rectangle and its handles turned about its centre
      const shape = b.angle != null ? document.createElementNS(SVG, "g") : g;
      if (shape !== g) {
        shape.setAttribute("transform", `rotate(${b.angle} ${b.x + b.w / 2} ${b.y + b.h / 2})`);
        g.dataset.angle = b.angle;
        g.append(shape);
      }
      const rect = document.createElementNS(SVG, "rect");
      setRect(rect, b);
      rect.setAttribute("stroke", cls.color);
      rect.setAttribute("stroke-width", 2 * px);
      rect.setAttribute("fill", cls.color);
      rect.dataset.class = b.class;
      rect.dataset.track = b.track_id ?? "";
      shape.append(rect);
      const label = document.createElementNS(SVG, "text");
      const at = b.angle != null ? enclosing(b) : b;
      label.setAttribute("x", at.x + 2 * px);
      label.setAttribute("y", Math.max(at.y - 4 * px, 10 * px));
      label.setAttribute("font-size", 12 * px);
      label.setAttribute("stroke-width", 2.5 * px);
      label.textContent = `${cls.name}${b.track_id ? ` #${b.track_id}` : ""}${b.interpolated ? " (interpolated)" : ""}`;
      g.append(label);
      if (b.uid === this.selected) {
        for (const [name, hx, hy] of [["nw", b.x, b.y], ["ne", b.x + b.w, b.y], ["sw", b.x, b.y + b.h],
          ["se", b.x + b.w, b.y + b.h]]) {
          const h = document.createElementNS(SVG, "rect");
          setRect(h, { x: hx - HANDLE * px / 2, y: hy - HANDLE * px / 2, w: HANDLE * px, h: HANDLE * px });
          h.classList.add("handle");
          h.dataset.handle = name;
          h.setAttribute("stroke-width", px);
          shape.append(h);
        }
        if (b.angle != null) this.rotateHandle(shape, b, px);
      }
      this.layer.append(g);
    }
  }

  rotateHandle(shape, b, px) {
    const top = { x: b.x + b.w / 2, y: b.y }, knob = { x: top.x, y: b.y - ROTATE_GAP * px };
    const stem = document.createElementNS(SVG, "line");
    stem.setAttribute("x1", top.x); stem.setAttribute("y1", top.y);
    stem.setAttribute("x2", knob.x); stem.setAttribute("y2", knob.y);
    stem.setAttribute("stroke-width", px);
    stem.classList.add("rotate-stem");
    const h = document.createElementNS(SVG, "circle");
    h.setAttribute("cx", knob.x); h.setAttribute("cy", knob.y); h.setAttribute("r", (HANDLE / 2 + 1) * px);
    h.setAttribute("stroke-width", px);
    h.classList.add("handle", "rotate");
    h.dataset.handle = "rotate";
    shape.append(stem, h);
  }

  // what the server gets
  payloadBoxes() {
    return this.boxes.map(({ uid, interpolated, ...b }) => ({ ...b, ...round(b) }));
  }
}

// A model's suggestion the person changed is theirs and the model's together ("adjusted"): its
// provenance says so in the stored box and in exports.
function adjusted(box) {
  if (box.source === "suggestion") box.source = "adjusted";
}

function rectFrom(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
}

function round(r) {
  const q = (v) => Math.round(v * 100) / 100;
  const out = { x: q(r.x), y: q(r.y), w: q(r.w), h: q(r.h) };
  if (r.angle != null) out.angle = normalize(q(r.angle));
  return out;
}

function setRect(el, r) {
  el.setAttribute("x", r.x); el.setAttribute("y", r.y);
  el.setAttribute("width", Math.max(0, r.w)); el.setAttribute("height", Math.max(0, r.h));
}
