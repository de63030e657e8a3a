// The segment page: a stretch of video labeled as tracks. It asks the queue for a segment, shows
// the frame big with the boxes of the tracks on it (the box editor), the timeline under it, the
// track list and the interval tags beside it; it plays, seeks and steps frame-exactly, takes model
// suggestions, propagates a box with the tracker, autosaves a draft and submits the tracks.
//   segment_tracks.js    the tracks (pure): interpolation, keyframes, outside, split, merge
//   segment_player.js    prefetch and frame-exact playback
//   segment_timeline.js  the timeline
//   segment_panel.js     the track list, interval tags and suggestions in the side panel
//   segment_keys.js      the keys (listed on the page and in the README)
// Shared with the frame page: boxeditor.js, labeler_protection.js, http.js, urls.js, dom.js.
import { BoxEditor } from "./boxeditor.js";
import { $, say } from "./dom.js";
import { api } from "./http.js";
import { LabelerProtection } from "./labeler_protection.js";
import { Player } from "./segment_player.js";
import { Timeline } from "./segment_timeline.js";
import { SidePanel } from "./segment_panel.js";
import { bindKeys } from "./segment_keys.js";
import * as T from "./segment_tracks.js";

const SVG = "http://www.w3.org/2000/svg";
const root = document.getElementById("segment");
const projectId = root.dataset.project;
const seg = {
  data: null, tracks: [], tags: [], frame: null, selected: null, before: null, selectedTag: null,
  open: [], // suggested tracks not taken yet
  busy: false, saveTimer: null, propagating: null,
};

const editor = new BoxEditor($("stage"), { onChange: () => fromEditor(), onSelect: (box) => select(box ? trackIdOf(box) : null, false) });
const locked = document.createElementNS(SVG, "g");
locked.id = "locked-boxes";
editor.layer.before(locked);
const suggestLayer = document.createElementNS(SVG, "g");
suggestLayer.id = "suggestions";
editor.layer.before(suggestLayer);

const protection = new LabelerProtection({
  root, projectId, say,
  show: (url) => editor.setImage(url),
  hide: () => editor.setImage(frameOf(seg.frame).image_url),
  onPause: () => { seg.data = null; },
  onResume: () => loadNext(),
});

let player = null;
const timeline = new Timeline($("timeline"), { onSeek: (f) => player?.seek(f), onSelect: (id) => select(id) });
const panel = new SidePanel({
  onSelect: (id) => select(id), onChanged: () => changed(), onSeek: (f) => player?.seek(f),
  acceptAll: () => acceptAll(), dismiss: () => dismiss(), seg,
});

// ---------------------------------------------------------------- loading
async function loadNext() {
  const { status, data } = await api("POST", `/api/projects/${projectId}/next/`);
  takeNext(status, data);
}

// What the queue answered for the next segment: asked for on its own, or with a submission.
function takeNext(status, data) {
  if (status === 204) return finished("Nothing left for you to label in this project. Thank you!");
  if (status !== 200) return say(data?.detail || `Could not get a segment (${status})`, "error");
  if (data.withheld) return protection.pause(data.withheld);
  show(data);
}

function finished(text) {
  $("done-text").textContent = text;
  $("done").hidden = false;
  for (const sel of [".lab-body", ".lab-foot", ".timeline-wrap"]) root.querySelector(sel).hidden = true;
  $("frame-title").textContent = "";
}

function show(data) {
  seg.data = data;
  const source = data.draft || data.revision || { tracks: [], tags: [] };
  const loaded = T.fromPayload(source);
  seg.tracks = loaded.tracks;
  seg.tags = loaded.tags;
  seg.selected = null;
  seg.frame = null;
  seg.open = (data.suggestions?.tracks || []).filter((s) => data.classes.some((c) => c.key === s.class));
  const s = data.segment;
  root.dataset.assignment = data.assignment.id;
  root.dataset.first = s.first;
  root.dataset.last = s.last;
  $("frame-title").textContent = `${s.sequence_name} · segment ${s.number + 1} · frames ${s.first}–${s.last}`;
  const first = data.frames[0];
  editor.load({ width: first.width, height: first.height, imageUrl: first.image_url, classes: data.classes, boxes: [] });
  player = new Player({
    frames: data.frames.map((f) => ({ index: f.index, url: f.image_url })), fps: s.fps,
    onShow: (i) => paint(i),
    onState: (on) => { $("play").textContent = on ? "Pause" : "Play"; $("play").setAttribute("aria-pressed", String(on)); },
  });
  window.__segmentPlayer = player; // for bench/playback.py, bench/effort.py and the browser tests
  window.__segment = seg;
  window.__segmentBoxes = (id) => { // a track's box on every frame (null where it has none)
    const t = byId(id);
    return seg.data.frames.map((f) => (t ? T.boxAt(t, f.index) : null));
  };
  timeline.reset({ first: s.first, last: s.last, shared: [...s.shared_before, ...s.shared_after] });
  panel.show(data);
  panel.palette(editor);
  $("suggest-withheld").hidden = !data.suggestions_withheld;
  say(data.draft ? "Draft restored" : data.revision ? "Editing your submitted tracks" : "");
  player.seek(s.first);
  $("stage").focus();
}

const frameOf = (index) => seg.data.frames[index - seg.data.segment.first];
const byId = (id) => seg.tracks.find((t) => t.id === id);
const trackIdOf = (box) => (box.uid?.startsWith("t") ? Number(box.uid.slice(1)) : null);
const classes = () => Object.fromEntries(seg.data.classes.map((c) => [c.key, c]));

// ---------------------------------------------------------------- one frame on screen
function paint(index) {
  const firstPaint = seg.frame !== index;
  seg.frame = index;
  const f = frameOf(index);
  editor.setImage(f.image_url);
  $("stage").dataset.frame = index;
  if (firstPaint) protection.protect({ frame: f, protection: index === seg.data.segment.first ? seg.data.protection : null });
  toEditor();
  drawLocked();
  drawSuggestions();
  redraw();
}

// The boxes of this frame's unlocked, visible tracks go into the box editor (uid "t<id>", so a
// selection holds from frame to frame); its undo history is this frame's.
function toEditor() {
  const boxes = [];
  for (const t of seg.tracks) {
    if (t.hidden || t.locked) continue;
    const b = T.boxAt(t, seg.frame);
    if (b) boxes.push({ uid: `t${t.id}`, class: t.cls, x: b.x, y: b.y, w: b.w, h: b.h, attributes: t.attributes,
                        track_id: t.id, interpolated: !b.keyframe });
  }
  editor.boxes = boxes;
  editor.undoStack = [];
  editor.redoStack = [];
  editor.selected = seg.selected ? `t${seg.selected}` : null;
  if (!boxes.some((b) => b.uid === editor.selected)) editor.selected = null;
  editor.render();
}

// The person changed the editor's boxes: what changed becomes a keyframe of its track; a new box
// is a new track (of the class picked for new boxes).
function fromEditor() {
  for (const b of editor.boxes) {
    let id = trackIdOf(b);
    if (id === null) {
      id = nextTrackId();
      seg.tracks.push(T.newTrack(id, b.class));
      b.uid = `t${id}`;
      editor.selected = b.uid;
      seg.selected = id;
    }
    const track = byId(id);
    if (b.class !== track.cls) { // a person reclassified it: the model's boxes in it are adjusted now
      track.cls = b.class;
      for (const kf of track.keyframes.values()) if (kf.source === "suggestion") kf.source = "adjusted";
    }
    const now = T.boxAt(track, seg.frame);
    const moved = !now || ["x", "y", "w", "h"].some((k) => Math.abs(now[k] - b[k]) > 0.01);
    if (moved) T.setBox(track, seg.frame, b);
  }
  toEditor();
  changed();
}

function nextTrackId() { return Math.max(0, ...seg.tracks.map((t) => t.id)) + 1; }

function drawLocked() {
  locked.replaceChildren();
  const px = editor.pixel();
  for (const t of seg.tracks) {
    if (t.hidden || !t.locked) continue;
    const b = T.boxAt(t, seg.frame);
    if (!b) continue;
    const r = document.createElementNS(SVG, "rect");
    for (const [k, v] of [["x", b.x], ["y", b.y], ["width", b.w], ["height", b.h]]) r.setAttribute(k, v);
    r.setAttribute("stroke", classes()[t.cls]?.color || "#fff");
    r.setAttribute("stroke-width", 2 * px);
    r.setAttribute("class", "locked-box");
    r.dataset.track = t.id;
    locked.append(r);
  }
}

function redraw() {
  if (!seg.data || seg.frame === null) return;
  timeline.draw({ tracks: seg.tracks, tags: seg.tags, classes: classes(), playhead: seg.frame, selected: seg.selected,
                  selectedTag: seg.selectedTag });
  panel.render();
}

function changed() {
  redraw();
  scheduleDraft();
}

export function select(id, sync = true) {
  if (id !== seg.selected && seg.selected !== null) seg.before = seg.selected;
  seg.selected = id;
  if (sync) { editor.selected = id ? `t${id}` : null; editor.render(); }
  redraw();
}

// ---------------------------------------------------------------- suggestions (suggested tracks)
function drawSuggestions() {
  suggestLayer.replaceChildren();
  const px = editor.pixel();
  const model = seg.data.suggestions?.model_version;
  for (const s of seg.open) {
    const b = T.boxAt(T.fromSuggestion(s, 0, model), seg.frame);
    if (!b) continue;
    const g = document.createElementNS(SVG, "g");
    g.classList.add("suggestion");
    g.dataset.suggestion = s.suggestion;
    const r = document.createElementNS(SVG, "rect");
    for (const [k, v] of [["x", b.x], ["y", b.y], ["width", b.w], ["height", b.h]]) r.setAttribute(k, v);
    r.setAttribute("stroke", classes()[s.class]?.color || "#fff");
    r.setAttribute("stroke-width", 2 * px);
    r.setAttribute("stroke-dasharray", `${5 * px} ${4 * px}`);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", b.x + 2 * px);
    label.setAttribute("y", b.y + b.h + 13 * px);
    label.setAttribute("font-size", 12 * px);
    label.setAttribute("stroke-width", 2.5 * px);
    label.textContent = `${classes()[s.class]?.name || s.class} ${s.score.toFixed(2)}? (frames ${s.first}–${s.last})`;
    g.append(r, label);
    g.addEventListener("pointerdown", (e) => { e.stopPropagation(); e.preventDefault(); accept(s); });
    suggestLayer.append(g);
  }
  panel.renderSuggestions();
}

function accept(s) {
  const track = T.fromSuggestion(s, nextTrackId(), seg.data.suggestions.model_version);
  seg.tracks.push(track);
  seg.open = seg.open.filter((o) => o !== s);
  seg.selected = track.id;
  toEditor();
  drawSuggestions();
  changed();
  say(`Accepted suggested track: now track #${track.id}`, "ok");
}

export function acceptVisible() { // the strongest suggestion on this frame
  const onFrame = seg.open.filter((s) => T.boxAt(T.fromSuggestion(s, 0, null), seg.frame))
    .sort((a, b) => b.score - a.score);
  if (!onFrame.length) return say("No suggestion on this frame.");
  accept(onFrame[0]);
}

function acceptAll() {
  const t = panel.threshold();
  const taken = seg.open.filter((s) => s.score >= t);
  if (!taken.length) return say(`No suggestion at or above ${t.toFixed(2)}.`);
  for (const s of taken) seg.tracks.push(T.fromSuggestion(s, nextTrackId(), seg.data.suggestions.model_version));
  seg.open = seg.open.filter((s) => s.score < t);
  toEditor();
  drawSuggestions();
  changed();
  say(`Accepted ${taken.length} suggested track${taken.length === 1 ? "" : "s"}`, "ok");
}

function dismiss() {
  seg.open = [];
  drawSuggestions();
  say("Suggestions cleared from this segment");
}

// ---------------------------------------------------------------- track edits (keys and buttons)
function selectedTrack() {
  const t = seg.selected ? byId(seg.selected) : null;
  if (!t) say("Select a track first (click its box or its lane).");
  return t;
}

// Keys act on the frame the playhead is going to (a seek still decoding its frame counts), so
// that fast typing never lands on the frame before.
const here = () => player?.current ?? seg.frame;

export const edits = {
  outside() {
    const t = selectedTrack();
    if (!t) return;
    const on = T.toggleOutside(t, here());
    say(on ? `Track #${t.id} leaves the view at frame ${here()}` : `Track #${t.id} is in view again`);
    toEditor(); changed();
  },
  occluded() {
    const t = selectedTrack();
    if (!t) return;
    const on = T.toggleOccluded(t, here());
    if (on === null) return say("The track has no box on this frame.");
    say(on ? `Track #${t.id} occluded from frame ${here()}` : `Track #${t.id} visible from frame ${here()}`);
    toEditor(); changed();
  },
  split() {
    const t = selectedTrack();
    if (!t) return;
    const part = T.split(t, here(), nextTrackId());
    if (!part) return say("The track has no box on this frame to split at.");
    seg.tracks.push(part);
    if (!t.keyframes.size) seg.tracks = seg.tracks.filter((x) => x !== t);
    select(part.id);
    say(`Split: track #${part.id} continues from frame ${here()}`, "ok");
    toEditor(); changed();
  },
  merge() {
    const t = selectedTrack();
    const into = seg.before ? byId(seg.before) : null;
    if (!t || !into || into === t) return say("Select the track to keep, then the one to merge into it, then merge.");
    T.merge(into, t);
    seg.tracks = seg.tracks.filter((x) => x !== t);
    seg.before = null;
    select(into.id);
    say(`Merged into track #${into.id}`, "ok");
    toEditor(); changed();
  },
  hide() { const t = selectedTrack(); if (t) { t.hidden = !t.hidden; if (t.hidden) seg.selected = null; toEditor(); drawLocked(); redraw(); } },
  lock() { const t = selectedTrack(); if (t) { t.locked = !t.locked; toEditor(); drawLocked(); redraw(); } },
  deleteKeyframe() {
    const t = selectedTrack();
    if (!t) return;
    if (t.keyframes.has(here())) t.keyframes.delete(here());
    else T.toggleOutside(t, here()); // not a keyframe here: the object is gone from here on
    if (!t.keyframes.size) seg.tracks = seg.tracks.filter((x) => x !== t);
    toEditor(); changed();
  },
  deleteTrack() {
    const t = selectedTrack();
    if (!t) return;
    seg.tracks = seg.tracks.filter((x) => x !== t);
    seg.selected = null;
    say(`Track #${t.id} deleted`);
    toEditor(); changed();
  },
  jumpKeyframe(direction) {
    const t = selectedTrack();
    if (!t) return;
    const frames = T.sortedFrames(t);
    const target = direction > 0 ? frames.find((f) => f > here()) : frames.reverse().find((f) => f < here());
    if (target !== undefined) player.seek(target);
  },
  // interval tags: a tag class's key starts one at the playhead (or selects the one there)
  tag(cls) {
    const at = here();
    const existing = seg.tags.find((t) => t.cls === cls && Math.min(t.from, t.to) <= at && at <= Math.max(t.from, t.to));
    if (existing) { seg.selectedTag = existing; say(`Tag ${cls} selected: Shift+E extends it to the playhead`); redraw(); return; }
    const made = { cls, from: here(), to: here() };
    seg.tags.push(made);
    seg.selectedTag = made;
    say(`Tag ${cls} from frame ${here()}: move the playhead and press Shift+E to extend it`);
    changed();
  },
  extendTag() {
    if (!seg.selectedTag) return say("Start or select a tag first (its key).");
    seg.selectedTag.to = here();
    changed();
  },
  removeTag(tag) { seg.tags = seg.tags.filter((t) => t !== tag); if (seg.selectedTag === tag) seg.selectedTag = null; changed(); },
};

// ---------------------------------------------------------------- propagation
export async function propagate(direction) {
  const t = selectedTrack();
  if (!t || seg.propagating) return;
  const box = T.boxAt(t, here());
  if (!box) return say("The track has no box on this frame to propagate.");
  if (!box.keyframe) T.setBox(t, here(), box); // the start becomes a keyframe
  const start = here();
  seg.propagating = { track: t.id, direction };
  $("propagation-status").hidden = false;
  $("propagation-status").textContent = `Tracking ${direction}…`;
  let { status, data } = await api("POST", `/api/assignments/${seg.data.assignment.id}/propagate/`,
    { frame: start, box: { x: box.x, y: box.y, w: box.w, h: box.h }, class: t.cls, direction });
  if (status !== 200 && status !== 202) {
    seg.propagating = null;
    $("propagation-status").hidden = true;
    return say(data?.detail || `Could not propagate (${status})`, "error");
  }
  while (true) {
    T.applyPropagated(t, start, direction, data.boxes, data.model_version);
    $("propagation-status").textContent = `Tracking ${direction}: ${data.frames_done} of ${data.frames_total} frames`;
    toEditor(); redraw();
    if (data.status !== "running") break;
    await new Promise((r) => setTimeout(r, 300));
    ({ status, data } = await api("GET", `/api/propagations/${data.id}/`));
    if (status !== 200) break;
  }
  seg.propagating = null;
  $("propagation-status").hidden = true;
  say(data.message ? `Propagated ${data.frames_done} frames: ${data.message}` : `Propagated ${data.frames_done} frames`,
      data.status === "failed" ? "error" : "ok");
  root.dataset.propagated = String(Number(root.dataset.propagated || 0) + 1);
  changed();
}

// ---------------------------------------------------------------- saving
function payload() { return T.toPayload(seg.tracks, seg.tags); }

function scheduleDraft() {
  if (!seg.data?.assignment || seg.data.assignment.status !== "active") return;
  clearTimeout(seg.saveTimer);
  seg.saveTimer = setTimeout(async () => {
    const { status } = await api("PUT", `/api/assignments/${seg.data.assignment.id}/draft/`, payload());
    if (status === 204) say("Draft saved");
  }, 1500);
}

export async function submit() {
  if (seg.busy || !seg.data) return;
  seg.busy = true;
  clearTimeout(seg.saveTimer);
  protection.revealer.stop();
  player.pause();
  try {
    const id = seg.data.assignment.id;
    const revising = seg.data.assignment.status !== "active" && seg.data.revision;
    const result = revising
      ? await api("POST", `/api/assignments/${id}/revise/`, { base_revision: seg.data.revision.revision, ...payload() })
      : await api("POST", `/api/assignments/${id}/submit/`, { ...payload(), next: true }); // one request per segment
    if (result.status === 409) return say("This segment changed in another window since you opened it; nothing was overwritten.", "error");
    if (result.status !== 201) return say(result.data?.detail || `Not saved (${result.status})`, "error");
    root.dataset.submitted = String(Number(root.dataset.submitted || 0) + 1);
    say(`Submitted ${seg.tracks.length} track${seg.tracks.length === 1 ? "" : "s"}`, "ok");
    if (result.data?.next) takeNext(result.data.next.status, result.data.next.body);
    else await loadNext();
  } finally {
    seg.busy = false;
  }
}

export function skip() {
  const dialog = $("skip-dialog");
  $("skip-reason").value = "";
  dialog.showModal();
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok") return;
    const { status, data } = await api("POST", `/api/assignments/${seg.data.assignment.id}/skip/`, { reason: $("skip-reason").value });
    if (status !== 200) return say(data?.detail || "Could not skip", "error");
    await loadNext();
  }, { once: true });
}

// ---------------------------------------------------------------- wiring
bindKeys({ seg, editor, player: () => player, protection, edits, propagate, submit, skip, acceptVisible,
           acceptAll, dismiss, pickClass: (key) => { editor.setClass(key); panel.palette(editor); } });
$("play").addEventListener("click", () => player?.toggle());
for (const [id, n] of [["back10", -10], ["back1", -1], ["fwd1", 1], ["fwd10", 10]]) {
  $(id).addEventListener("click", () => player?.step(n));
}
$("prop-fwd").addEventListener("click", () => propagate("forward"));
$("prop-back").addEventListener("click", () => propagate("backward"));
$("split").addEventListener("click", () => edits.split());
$("merge").addEventListener("click", () => edits.merge());
$("outside").addEventListener("click", () => edits.outside());
$("occluded").addEventListener("click", () => edits.occluded());
$("submit").addEventListener("click", () => submit());
$("skip").addEventListener("click", () => skip());
setInterval(() => { if (seg.data?.assignment) api("POST", `/api/assignments/${seg.data.assignment.id}/renew/`); }, 60_000);
loadNext();
