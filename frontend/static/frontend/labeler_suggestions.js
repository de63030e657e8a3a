// Model suggestions on the frame page: the current detector's boxes, drawn dashed with their
// confidence under the person's own boxes. A suggestion becomes a box only when the person takes
// it: a click on its outline or label, Shift+A (the strongest one left), or "accept all" (Shift+Y) at or
// above the threshold. An accepted box remembers it was suggested (source "suggestion", with the
// model version); moving, resizing or reclassifying it makes it "adjusted" (boxeditor.js). What
// the person does not take is never stored: ignoring a suggestion is rejecting it, and Shift+D
// clears the rest from view.
// The first annotator(s) of a frame see none (the project's blind_annotators), so that agreement
// still compares independent work; the panel says so rather than show an empty list.
import { $ } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SAME_BOX_IOU = 0.7; // a suggestion this close to a box of its class is already taken

export class Suggestions {
  constructor({ editor, say }) {
    this.editor = editor;
    this.say = say;
    this.modelVersion = null;
    this.open = []; // the suggestions still on offer: {class, score, x, y, w, h}
    this.layer = document.createElementNS(SVG, "g");
    this.layer.id = "suggestions";
    editor.layer.before(this.layer); // under the person's boxes
    $("suggest-accept-all").addEventListener("click", () => this.acceptAll());
    $("suggest-dismiss").addEventListener("click", () => this.dismiss());
    $("suggest-threshold").addEventListener("input", () => this.renderPanel());
    new MutationObserver(() => this.render()).observe(editor.svg, { attributes: true, attributeFilter: ["viewBox"] });
  }

  threshold() {
    const v = Number($("suggest-threshold").value);
    return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5;
  }

  // A frame was loaded (data: the frame state; its boxes are already in the editor).
  show(data) {
    const offered = data.suggestions;
    this.modelVersion = offered?.model_version ?? null;
    const known = new Set(data.classes.map((c) => c.key));
    this.open = (offered?.boxes || [])
      .filter((s) => known.has(s.class))
      .filter((s) => !this.editor.boxes.some((b) => b.class === s.class && iou(b, s) >= SAME_BOX_IOU))
      .sort((a, b) => b.score - a.score);
    $("suggest-panel").hidden = !offered && !data.suggestions_withheld;
    $("suggest-withheld").hidden = !data.suggestions_withheld;
    $("suggest-controls").hidden = !offered;
    this.render();
  }

  accept(s) {
    this.open = this.open.filter((o) => o !== s);
    this.editor.addBoxes([{ class: s.class, x: s.x, y: s.y, w: s.w, h: s.h, attributes: {}, track_id: null,
                            source: "suggestion", model_version: this.modelVersion }]);
    this.editor.select(this.editor.boxes[this.editor.boxes.length - 1].uid);
    this.render();
  }

  acceptStrongest() {
    if (!this.open.length) return this.say("No suggestion left on this frame.");
    this.accept(this.open[0]);
  }

  acceptAll() {
    const t = this.threshold();
    const taken = this.open.filter((s) => s.score >= t);
    if (!taken.length) return this.say(`No suggestion at or above ${t.toFixed(2)}.`);
    this.open = this.open.filter((s) => s.score < t);
    this.editor.addBoxes(taken.map((s) => ({ class: s.class, x: s.x, y: s.y, w: s.w, h: s.h, attributes: {},
                                             track_id: null, source: "suggestion", model_version: this.modelVersion })));
    this.render();
    this.say(`Accepted ${taken.length} suggestion${taken.length === 1 ? "" : "s"}`, "ok");
  }

  dismiss() {
    if (!this.open.length) return;
    this.open = [];
    this.render();
    this.say("Suggestions cleared from this frame");
  }

  render() {
    this.layer.replaceChildren();
    const px = this.editor.pixel();
    for (const s of this.open) {
      const cls = this.editor.classes[s.class] || { color: "#fff", name: s.class };
      const g = document.createElementNS(SVG, "g");
      g.classList.add("suggestion");
      g.dataset.class = s.class;
      g.dataset.score = String(s.score);
      const rect = document.createElementNS(SVG, "rect");
      for (const [k, v] of [["x", s.x], ["y", s.y], ["width", s.w], ["height", s.h]]) rect.setAttribute(k, v);
      rect.setAttribute("stroke", cls.color);
      rect.setAttribute("stroke-width", 2 * px);
      rect.setAttribute("stroke-dasharray", `${5 * px} ${4 * px}`);
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", s.x + 2 * px);
      label.setAttribute("y", s.y + s.h + 13 * px);
      label.setAttribute("font-size", 12 * px);
      label.setAttribute("stroke-width", 2.5 * px);
      label.textContent = `${cls.name} ${s.score.toFixed(2)}?`;
      const title = document.createElementNS(SVG, "title");
      title.textContent = `Suggested ${cls.name}, confidence ${s.score.toFixed(2)}: click to accept`;
      g.append(title, rect, label);
      // the box editor would start drawing: a click on a suggestion takes it instead
      g.addEventListener("pointerdown", (e) => { e.stopPropagation(); e.preventDefault(); this.accept(s); });
      this.layer.append(g);
    }
    this.renderPanel();
  }

  renderPanel() {
    const t = this.threshold();
    const above = this.open.filter((s) => s.score >= t).length;
    $("suggest-count").textContent = this.open.length
      ? `${this.open.length} suggested by model version ${this.modelVersion} (${above} at or above ${t.toFixed(2)})`
      : "None left on this frame.";
    $("suggest-accept-all").disabled = !above;
    $("suggest-dismiss").disabled = !this.open.length;
  }
}

function iou(a, b) {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}
