// The timeline under the frame: frame ticks with their numbers, the frames shared with the
// neighbouring segments (shaded), one lane per track (interpolated or held spans, keyframes as
// marks, spans outside the view hatched), a lane of interval tags, and the playhead. A click or a
// drag anywhere on it seeks; a click on a lane also selects its track.
import { sortedFrames, spans } from "./segment_tracks.js";

const SVG = "http://www.w3.org/2000/svg";
const LEFT = 76; // the lane labels
const RIGHT = 10;
const RULER = 22;
const LANE = 16;

export class Timeline {
  // onSeek(frame), onSelect(trackId)
  constructor(svg, { onSeek, onSelect }) {
    this.svg = svg;
    this.reset({ first: 0, last: 1, shared: [] });
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.dragging = false;
    svg.addEventListener("pointerdown", (e) => {
      this.dragging = true;
      svg.setPointerCapture(e.pointerId);
      const lane = e.target.closest?.("[data-track]");
      if (lane) this.onSelect(Number(lane.dataset.track));
      this.onSeek(this.frameAt(e));
    });
    svg.addEventListener("pointermove", (e) => { if (this.dragging) this.onSeek(this.frameAt(e)); });
    svg.addEventListener("pointerup", () => { this.dragging = false; });
    new ResizeObserver(() => this.draw(this.last_args)).observe(svg);
  }

  // A new segment: its frames and the frames it shares with its neighbours.
  reset({ first, last, shared }) {
    this.first = first;
    this.last = last;
    this.shared = shared;
    this.last_args = null;
  }

  width() { return Math.max(200, this.svg.clientWidth || 800); }

  x(frame) {
    const span = Math.max(1, this.last - this.first);
    return LEFT + ((frame - this.first) / span) * (this.width() - LEFT - RIGHT);
  }

  frameAt(e) {
    const box = this.svg.getBoundingClientRect();
    const span = Math.max(1, this.last - this.first);
    const t = (e.clientX - box.left - LEFT) / (this.width() - LEFT - RIGHT);
    return Math.min(this.last, Math.max(this.first, Math.round(this.first + t * span)));
  }

  // args: {tracks, tags, classes, playhead, selected, suggestions}
  draw(args) {
    if (!args) return;
    this.last_args = args;
    const { tracks, tags, classes, playhead, selected } = args;
    const shown = tracks.filter((t) => !t.hidden);
    const height = RULER + (shown.length + 1) * LANE + 6;
    const svg = this.svg;
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${this.width()} ${height}`);
    svg.replaceChildren();
    const add = (tag, attrs, parent = svg) => {
      const el = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      parent.append(el);
      return el;
    };
    const frameWidth = (this.width() - LEFT - RIGHT) / Math.max(1, this.last - this.first);
    for (const f of this.shared) { // shared with a neighbour: where identities are stitched
      add("rect", { x: this.x(f) - frameWidth / 2, y: 0, width: Math.max(1, frameWidth), height, class: "tl-shared" });
    }
    const step = pickStep(this.last - this.first, this.width() - LEFT);
    for (let f = Math.ceil(this.first / step) * step; f <= this.last; f += step) {
      add("line", { x1: this.x(f), x2: this.x(f), y1: RULER - 6, y2: height, class: "tl-tick" });
      add("text", { x: this.x(f), y: RULER - 9, class: "tl-num", "text-anchor": "middle" }).textContent = f;
    }
    shown.forEach((track, i) => {
      const y = RULER + i * LANE;
      const color = classes[track.cls]?.color || "#888";
      const lane = add("g", { "data-track": track.id, class: `tl-lane${track.id === selected ? " selected" : ""}` });
      add("rect", { x: 0, y, width: this.width(), height: LANE, class: "tl-lane-bg" }, lane);
      add("text", { x: 4, y: y + LANE - 4, class: "tl-label" }, lane).textContent =
        `${classes[track.cls]?.name || track.cls} #${track.id}${track.locked ? " 🔒" : ""}`;
      for (const s of spans(track, this.last)) {
        const x1 = this.x(s.from) - frameWidth / 2;
        const w = Math.max(2, this.x(s.to) - this.x(s.from) + frameWidth);
        add("rect", { x: x1, y: y + 3, width: w, height: LANE - 6, class: `tl-span ${s.kind}`,
                      ...(s.kind === "on" ? { fill: color } : {}) }, lane);
      }
      for (const f of sortedFrames(track)) {
        const kf = track.keyframes.get(f);
        const cx = this.x(f);
        if (kf.outside) {
          add("path", { d: `M${cx - 4},${y + 4} l8,8 m0,-8 l-8,8`, class: "tl-outside-mark", "data-frame": f }, lane);
        } else {
          add("path", { d: `M${cx},${y + 2} l5,6 l-5,6 l-5,-6 z`, class: `tl-key ${kf.source || "drawn"}`,
                        "data-frame": f, fill: color }, lane);
        }
      }
    });
    const ty = RULER + shown.length * LANE;
    add("text", { x: 4, y: ty + LANE - 4, class: "tl-label" }).textContent = "Tags";
    for (const t of tags) {
      const from = Math.min(t.from, t.to);
      const to = Math.max(t.from, t.to);
      const r = add("rect", { x: this.x(from) - frameWidth / 2, y: ty + 3, height: LANE - 6,
                              width: Math.max(3, this.x(to) - this.x(from) + frameWidth),
                              class: `tl-tag${t === args.selectedTag ? " selected" : ""}`,
                              fill: classes[t.cls]?.color || "#888", "data-tag": t.cls });
      add("title", {}, r).textContent = `${classes[t.cls]?.name || t.cls}: frames ${from}–${to}`;
    }
    const px = this.x(playhead);
    const head = add("g", { id: "playhead", "data-frame": playhead });
    add("line", { x1: px, x2: px, y1: 0, y2: height, class: "tl-playhead" }, head);
    add("text", { x: px + 3, y: 10, class: "tl-playhead-num" }, head).textContent = playhead;
  }
}

function pickStep(span, width) {
  for (const s of [1, 2, 5, 10, 20, 25, 50, 100, 200, 500]) if ((span / s) * 34 <= width) return s;
  return 1000;
}
