// The labeling page: asks the API for the next frame, drives the box editor and the side
// panel, autosaves drafts, submits and brings the next frame without a page reload.
import { BoxEditor } from "./boxeditor.js";
import { renderPalette as paletteInto } from "./palette.js";
import { Revealer } from "./protection.js";

const root = document.getElementById("labeler");
const projectId = root.dataset.project;
const editFrame = root.dataset.frame; // set when editing an earlier submission
const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
const $ = (id) => document.getElementById(id);

let state = null; // what the server sent for this frame
let tags = {}; // key -> {on, changed}
let saveTimer = null;
let busy = false;
let showingPrevious = false;

const editor = new BoxEditor($("stage"), { onChange: scheduleDraft, onSelect: renderSelected });
// Sensitive frames arrive blurred; the original only while revealed (labeling.protection)
const revealer = new Revealer({
  show: (url) => { if (!showingPrevious) editor.setImage(url); },
  hide: () => { if (state && !showingPrevious) editor.setImage(state.frame.image_url); },
  say,
  onChange: (on, mode) => {
    root.dataset.revealed = on ? "true" : "false";
    $("reveal").classList.toggle("active", on);
    $("reveal-toggle").setAttribute("aria-pressed", String(on && mode === "toggle"));
    $("sensitive-badge").textContent = on ? "Sensitive · revealed" : "Sensitive · blurred";
  },
});
let pauseTimer = null;
let checkinAsked = "";

async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch { data = null; } }
  return { status: response.status, data };
}

function say(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind}`;
}

// ------------------------------------------------------------------ loading a frame
async function loadNext() {
  const { status, data } = await api("POST", `/api/projects/${projectId}/next/`);
  if (status === 204) return finished("Nothing left for you to label in this project. Thank you!");
  if (status !== 200) return say(data?.detail || `Could not get a frame (${status})`, "error");
  if (data.withheld) return paused(data.withheld);
  show(data);
}

// The queue serves nothing for now: a break (timed), or a protection limit reached with nothing
// else left. Never an error: a screen that says why, and when it ends.
function paused(withheld) {
  revealer.setFrame(null);
  state = null;
  clearInterval(pauseTimer);
  root.querySelector(".lab-body").hidden = true;
  root.querySelector(".lab-foot").hidden = true;
  for (const id of ["sensitive-badge", "reveal", "reveal-toggle", "micro-break"]) $(id).hidden = true;
  $("pause").hidden = false;
  $("pause").dataset.kind = withheld.kind;
  $("pause-title").textContent = { break: "Time for a break", cap: "That's enough for today",
                                   consent: "Graphic content ahead" }[withheld.kind] || "Paused";
  $("pause-text").textContent = withheld.message;
  $("frame-title").textContent = "";
  $("pause-resume").hidden = true;
  $("pause-countdown").textContent = "";
  if (withheld.until) {
    const until = new Date(withheld.until);
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      $("pause-countdown").textContent = left ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left` : "";
      if (!left) { clearInterval(pauseTimer); $("pause-resume").hidden = false; }
    };
    tick();
    pauseTimer = setInterval(tick, 1000);
  }
}

function resume() {
  $("pause").hidden = true;
  root.querySelector(".lab-body").hidden = false;
  root.querySelector(".lab-foot").hidden = false;
  loadNext();
}

async function takeBreak() {
  if (!confirm("Take a break now? The queue pauses until it ends.")) return;
  const { status, data } = await api("POST", `/api/projects/${projectId}/break/`);
  if (status === 200 && data.withheld) paused(data.withheld);
}

function protect(data) {
  const f = data.frame;
  const p = data.protection || {};
  revealer.setFrame({ project: projectId, id: f.id, sensitive: f.sensitive });
  root.dataset.sensitive = f.sensitive ? "true" : "false";
  $("sensitive-badge").hidden = !f.sensitive;
  $("reveal").hidden = !f.sensitive;
  $("reveal-toggle").hidden = !f.sensitive;
  $("take-break").hidden = !p.protected;
  if (p.micro_break) {
    $("micro-break").hidden = false;
    setTimeout(() => { $("micro-break").hidden = true; }, 20_000);
  }
  if (p.content_warning) $("warning-dialog").showModal();
  else if (p.checkin && checkinAsked !== p.checkin) askCheckin(p.checkin);
}

function askCheckin(moment) {
  checkinAsked = moment;
  const dialog = $("checkin-dialog");
  dialog.showModal();
  dialog.addEventListener("close", () => {
    const value = dialog.returnValue;
    const score = /^[1-5]$/.test(value) ? Number(value) : null;
    api("POST", "/api/protection/checkin/", { score, moment, project: Number(projectId) });
  }, { once: true });
}

async function loadFrame(frameId) {
  const { status, data } = await api("GET", `/api/projects/${projectId}/frames/${frameId}/state/`);
  if (status !== 200) return say(data?.detail || `Could not load the frame (${status})`, "error");
  show(data);
}

function finished(text) {
  $("done-text").textContent = text;
  $("done").hidden = false;
  root.querySelector(".lab-body").hidden = true;
  root.querySelector(".lab-foot").hidden = true;
  $("frame-title").textContent = "";
}

function show(data) {
  state = data;
  const f = data.frame;
  const source = data.draft || data.revision || { boxes: [], tags: [] };
  tags = {};
  for (const t of source.tags || []) tags[t.class] = { on: true, changed: t.changed };
  const boxes = (source.boxes || []).map((b) => ({ ...b, attributes: b.attributes || {} }));
  if (!data.draft && !data.revision) {
    for (const b of data.tracks.interpolated) boxes.push({ ...b }); // shown between two keyframes, editable
  }
  showingPrevious = false;
  $("overlay-badge").hidden = true;
  $("toggle-prev").setAttribute("aria-pressed", "false");
  editor.load({ width: f.width, height: f.height, imageUrl: f.image_url, classes: data.classes, boxes });
  $("frame-title").textContent =
    `${f.sequence_name} · frame ${f.index}${data.revision ? ` · your revision ${data.revision.revision}` : ""}`;
  root.dataset.frameId = f.id;
  root.dataset.assignment = data.assignment?.id || "";
  renderPalette();
  renderTags();
  renderChange();
  protect(data);
  say(data.draft ? "Draft restored" : data.revision ? "Editing your submitted labels" : "");
  if (data.prefetch) new Image().src = data.prefetch; // the likely next frame, so it shows at once
  $("stage").focus();
}

// ------------------------------------------------------------------ side panel
function boxClasses() { return state.classes.filter((c) => c.kind !== "tag"); }

function renderPalette() {
  paletteInto($("palette"), state.classes, editor.currentClass,
    (key) => { editor.setClass(key); renderPalette(); $("stage").focus(); });
}

function renderTags() {
  const el = $("tags");
  el.replaceChildren();
  const tagClasses = state.classes.filter((c) => c.kind === "tag");
  if (!tagClasses.length) el.textContent = "No frame tags in this ontology.";
  for (const c of tagClasses) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "tag";
    b.dataset.tag = c.key;
    b.setAttribute("aria-pressed", String(!!tags[c.key]?.on));
    b.innerHTML = `<span class="name"></span><kbd></kbd>`;
    b.querySelector(".name").textContent = c.name;
    b.querySelector("kbd").textContent = c.shortcut || "";
    b.style.setProperty("--tag", c.color);
    b.addEventListener("click", () => toggleTag(c.key));
    el.append(b);
  }
}

function toggleTag(key) {
  tags[key] = { on: !tags[key]?.on };
  renderTags();
  scheduleDraft();
}

function renderChange() {
  const changeClasses = state.classes.filter((c) => c.kind === "change");
  const prev = state.frame.previous_frame;
  $("change-panel").hidden = !changeClasses.length;
  $("toggle-prev").disabled = !prev;
  if (prev) $("previous-thumb").src = prev.image_url;
  const el = $("changes");
  el.replaceChildren();
  for (const c of changeClasses) {
    const row = document.createElement("fieldset");
    row.className = "verdict";
    row.innerHTML = `<legend></legend>
      <label><input type="radio" name="chg-${c.key}" value="true"> changed</label>
      <label><input type="radio" name="chg-${c.key}" value="false"> unchanged</label>`;
    row.querySelector("legend").textContent = c.name;
    const current = tags[c.key]?.on ? tags[c.key].changed : undefined;
    for (const input of row.querySelectorAll("input")) {
      input.checked = String(current) === input.value;
      input.addEventListener("change", () => {
        tags[c.key] = { on: true, changed: input.value === "true" };
        scheduleDraft();
      });
    }
    el.append(row);
  }
}

function renderSelected(box) {
  const panel = $("selected-panel");
  panel.hidden = !box;
  if (!box) return;
  const fields = $("selected-fields");
  fields.replaceChildren();
  const cls = state.classes.find((c) => c.key === box.class);
  const classSelect = field("Class", "select");
  for (const c of boxClasses()) classSelect.add(new Option(c.name, c.key, false, c.key === box.class));
  classSelect.addEventListener("change", () => editor.update(box.uid, { class: classSelect.value, attributes: {} }));
  fields.append(classSelect.parentElement);
  for (const spec of cls?.attributes || []) fields.append(attributeInput(box, spec));
  const track = field("Track", "select");
  track.name = "track";
  track.add(new Option("No track", ""));
  const nextId = nextTrackId();
  track.add(new Option(`New track #${nextId}`, String(nextId)));
  for (const b of state.tracks.previous?.boxes || []) {
    if (b.track_id && b.class === box.class && !editor.boxes.some((o) => o.track_id === b.track_id && o.uid !== box.uid)) {
      track.add(new Option(`Continue track #${b.track_id} (frame ${state.tracks.previous.index})`, String(b.track_id)));
    }
  }
  if (box.track_id && ![...track.options].some((o) => o.value === String(box.track_id))) {
    track.add(new Option(`Track #${box.track_id}`, String(box.track_id)));
  }
  track.value = box.track_id ? String(box.track_id) : "";
  track.addEventListener("change", () => editor.update(box.uid, { track_id: track.value ? Number(track.value) : null }));
  fields.append(track.parentElement);
  const geo = document.createElement("p");
  geo.className = "muted geometry";
  geo.textContent = `x ${box.x}, y ${box.y}, ${box.w} × ${box.h} px`;
  fields.append(geo);
}

function field(labelText, tag) {
  const label = document.createElement("label");
  label.className = "field";
  label.append(document.createTextNode(labelText));
  const input = document.createElement(tag);
  label.append(input);
  return input;
}

function attributeInput(box, spec) {
  const value = box.attributes?.[spec.key];
  const set = (v) => editor.update(box.uid, { attributes: { ...box.attributes, [spec.key]: v } });
  let input;
  if (spec.type === "enum") {
    input = field(spec.name + (spec.required ? " *" : ""), "select");
    input.add(new Option("—", ""));
    for (const o of spec.options) input.add(new Option(o, o, false, o === value));
    input.addEventListener("change", () => set(input.value || null));
  } else if (spec.type === "bool") {
    input = field(spec.name, "input");
    input.type = "checkbox";
    input.checked = !!value;
    input.addEventListener("change", () => set(input.checked));
  } else {
    input = field(spec.name + (spec.required ? " *" : ""), "input");
    input.type = spec.type === "number" ? "number" : "text";
    input.value = value ?? "";
    input.addEventListener("change", () => set(spec.type === "number" ? (input.value === "" ? null : Number(input.value))
      : input.value));
  }
  input.name = `attr-${spec.key}`;
  return input.parentElement;
}

function nextTrackId() {
  const used = editor.boxes.map((b) => b.track_id || 0);
  return Math.max(state.tracks.next_track_id, ...used.map((t) => t + 1));
}

// ------------------------------------------------------------------ saving
function payload() {
  const tagList = [];
  for (const [key, t] of Object.entries(tags)) {
    if (!t.on) continue;
    const cls = state.classes.find((c) => c.key === key);
    tagList.push(cls?.kind === "change" ? { class: key, changed: !!t.changed } : { class: key });
  }
  const boxes = editor.payloadBoxes().map((b) => ({ ...b, attributes: clean(b.attributes) }));
  return { boxes, tags: tagList };
}

function clean(attributes) {
  return Object.fromEntries(Object.entries(attributes || {}).filter(([, v]) => v !== null && v !== ""));
}

function scheduleDraft() {
  if (!state?.assignment) return;
  clearTimeout(saveTimer);
  saveTimer = setTimeout(async () => {
    const { status } = await api("PUT", `/api/assignments/${state.assignment.id}/draft/`, payload());
    if (status === 204) say("Draft saved");
  }, 1200);
}

async function submit() {
  if (busy || !state) return;
  busy = true;
  clearTimeout(saveTimer);
  revealer.stop();
  try {
    let result;
    if (state.assignment) {
      result = await api("POST", `/api/assignments/${state.assignment.id}/submit/`, payload());
    } else if (state.revision) {
      result = await api("POST", `/api/annotations/revise/`, { base_revision: state.revision.id, ...payload() });
    } else {
      say("This frame is not assigned to you.", "error");
      return;
    }
    if (result.status === 409) {
      $("conflict-dialog").showModal();
      return;
    }
    if (result.status !== 201) {
      say(result.data?.detail || `Not saved (${result.status})`, "error");
      return;
    }
    say("Submitted", "ok");
    if (editFrame) {
      await loadFrame(editFrame);
      say("Saved as a new revision", "ok");
    } else {
      await loadNext();
    }
  } finally {
    busy = false;
  }
}

// A dialog with one text field: on OK, `then(value)`.
function ask(dialogId, inputId, then) {
  if (!state?.assignment) return;
  const dialog = $(dialogId);
  $(inputId).value = "";
  dialog.showModal();
  dialog.addEventListener("close", () => { if (dialog.returnValue === "ok") then($(inputId).value); }, { once: true });
}

function skip() {
  ask("skip-dialog", "skip-reason", async (reason) => {
    const { status, data } = await api("POST", `/api/assignments/${state.assignment.id}/skip/`, { reason });
    if (status !== 200) return say(data?.detail || "Could not skip", "error");
    await loadNext();
  });
}

function flag() {
  ask("flag-dialog", "flag-note", async (note) => {
    const { status, data } = await api("POST", `/api/assignments/${state.assignment.id}/flag/`, { note });
    if (status !== 201) return say(data?.detail || "Could not flag the frame", "error");
    say("Flagged: a QA lead will look at this frame", "ok");
  });
}

function copyPrevious() {
  const prev = state.tracks.previous;
  if (!prev) return say("No earlier labeled frame in this sequence.");
  editor.addBoxes(prev.boxes.map((b) => ({ ...b, attributes: { ...(b.attributes || {}) } })));
  say(`Copied ${prev.boxes.length} boxes from frame ${prev.index}`);
}

function report() {
  ask("report-dialog", "report-note", async (note) => {
    const { status, data } = await api("POST", `/api/projects/${projectId}/frames/${state.frame.id}/report/`, { note });
    if (status !== 201) return say(data?.detail || "Could not report the frame", "error");
    state.frame.sensitive = true; // blurred from now on, for everyone
    state.frame.image_url = data.image_url;
    if (!showingPrevious) editor.setImage(data.image_url);
    protect(state);
    say("Reported: the frame is blurred for everyone from now on", "ok");
  });
}

function togglePrevious() {
  const prev = state.frame.previous_frame;
  if (!prev) return;
  revealer.stop();
  showingPrevious = !showingPrevious;
  editor.setImage(showingPrevious ? prev.image_url : state.frame.image_url);
  $("overlay-badge").hidden = !showingPrevious;
  $("overlay-badge").textContent = `Previous frame (${prev.index})`;
  $("toggle-prev").setAttribute("aria-pressed", String(showingPrevious));
}

// ------------------------------------------------------------------ keyboard
document.addEventListener("keydown", (e) => {
  if (!state || document.querySelector("dialog[open]")) return;
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
  if (typing && e.key !== "Escape") return;
  if (e.key === " ") { // hold Space to reveal a sensitive frame
    e.preventDefault();
    if (!e.repeat && state.frame.sensitive) revealer.start("hold");
    return;
  }
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === "Enter") { e.preventDefault(); submit(); return; }
  if (ctrl && (e.key === "z" || e.key === "Z")) { e.preventDefault(); e.shiftKey ? editor.redo() : editor.undo(); return; }
  if (ctrl && e.key === "y") { e.preventDefault(); editor.redo(); return; }
  if (ctrl) return;
  if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); editor.deleteSelected(); return; }
  if (e.key === "Tab") { e.preventDefault(); editor.cycle(e.shiftKey ? -1 : 1); return; }
  if (e.key === "Escape") { editor.select(null); $("stage").focus(); return; }
  if (e.key === "+" || e.key === "=") { editor.zoom(1.25); return; }
  if (e.key === "-") { editor.zoom(0.8); return; }
  if (e.key === "0") {
    if (!state.classes.some((c) => c.shortcut === "0")) { editor.fit(); return; }
  }
  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (arrows[e.key] && editor.selectedBox()) {
    e.preventDefault();
    const k = e.shiftKey ? 10 : 1;
    editor.nudge(arrows[e.key][0] * k, arrows[e.key][1] * k);
    return;
  }
  if (e.shiftKey) {
    const command = { S: skip, C: copyPrevious, P: togglePrevious, N: newTrack, F: flag, G: report,
                      R: () => revealer.toggle() }[e.key.toUpperCase()];
    if (command) { e.preventDefault(); command(); }
    return;
  }
  const cls = state.classes.find((c) => c.shortcut && c.shortcut === e.key);
  if (!cls) return;
  e.preventDefault();
  if (cls.kind === "tag") toggleTag(cls.key);
  else { editor.setClass(cls.key); renderPalette(); }
});

document.addEventListener("keyup", (e) => { if (e.key === " " && revealer.mode === "hold") revealer.stop(); });
window.addEventListener("blur", () => { if (revealer.mode === "hold") revealer.stop(); });

function newTrack() {
  const box = editor.selectedBox();
  if (box) editor.update(box.uid, { track_id: nextTrackId() });
}

$("submit").addEventListener("click", submit);
$("skip").addEventListener("click", skip);
$("flag").addEventListener("click", flag);
$("undo").addEventListener("click", () => editor.undo());
$("redo").addEventListener("click", () => editor.redo());
$("copy-prev").addEventListener("click", copyPrevious);
$("toggle-prev").addEventListener("click", togglePrevious);
$("conflict-dialog").addEventListener("close", () => loadFrame(root.dataset.frameId));
$("report").addEventListener("click", report);
$("take-break").addEventListener("click", takeBreak);
$("pause-resume").addEventListener("click", resume);
$("reveal-toggle").addEventListener("click", () => revealer.toggle());
revealer.bindHold($("reveal"));
$("warning-dialog").addEventListener("close", () => {
  const p = state?.protection;
  if (p?.checkin && checkinAsked !== p.checkin) askCheckin(p.checkin);
  $("stage").focus();
});

// keep the lease while the page is open
setInterval(() => { if (state?.assignment) api("POST", `/api/assignments/${state.assignment.id}/renew/`); }, 60_000);

if (editFrame) loadFrame(editFrame); else loadNext();
