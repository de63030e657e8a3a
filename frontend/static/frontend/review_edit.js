// The QA editor: one version of a frame loaded into the box editor; the QA lead corrects it and
// saves it as the frame's approved revision (POST decision "edit" to the review API).
import { BoxEditor } from "./boxeditor.js";
import { renderPalette as paletteInto } from "./palette.js";
import { Revealer } from "./protection.js";
import { api } from "./http.js";

const state = JSON.parse(document.getElementById("review-state").textContent);
const $ = (id) => document.getElementById(id);
const tags = Object.fromEntries(state.tags.map((t) => [t.class, t]));

const editor = new BoxEditor($("stage"), { onChange: () => {}, onSelect: () => renderPalette() });
editor.load({ width: state.width, height: state.height, imageUrl: state.imageUrl, classes: state.classes,
  boxes: state.boxes });

if (state.sensitive) { // blurred by default; the original only while revealed, and counted
  const revealer = new Revealer({
    show: (url) => editor.setImage(url),
    hide: () => editor.setImage(state.imageUrl),
    say: (text) => { $("status").textContent = text; },
    onChange: (on, mode) => {
      $("reveal-toggle").setAttribute("aria-pressed", String(on && mode === "toggle"));
      $("sensitive-badge").textContent = on ? "Sensitive · revealed" : "Sensitive · blurred";
    },
  });
  revealer.setFrame({ project: state.project, id: state.frame, sensitive: true });
  revealer.bindHold($("reveal"));
  $("reveal-toggle").addEventListener("click", () => revealer.toggle());
}

function renderPalette() {
  paletteInto($("palette"), state.classes, editor.selectedBox()?.class || editor.currentClass,
    (key) => { editor.setClass(key); renderPalette(); });
}

function renderTags() {
  const box = $("tags");
  box.replaceChildren();
  for (const c of state.classes.filter((k) => k.kind !== "box")) {
    const label = document.createElement("label");
    label.className = "check";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = Boolean(tags[c.key]) && (c.kind !== "change" || tags[c.key].changed);
    input.addEventListener("change", () => {
      if (input.checked) tags[c.key] = c.kind === "change" ? { class: c.key, changed: true } : { class: c.key };
      else if (c.kind === "change") tags[c.key] = { class: c.key, changed: false };
      else delete tags[c.key];
    });
    label.append(input, ` ${c.name}${c.kind === "change" ? " (changed)" : ""}`);
    box.append(label);
  }
}

async function save() {
  const body = { decision: "edit", boxes: editor.payloadBoxes(), tags: Object.values(tags), comment: $("comment").value };
  // state.api: the review item's API URL, as the server reversed it
  const { status, data } = await api("POST", state.api, body);
  if (status === 201) { window.location = state.done; return; }
  $("status").textContent = data?.detail || `Not saved (${status})`;
  $("status").className = "status error";
}

document.addEventListener("keydown", (e) => {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
  const ctrl = e.ctrlKey || e.metaKey;
  if (ctrl && e.key.toLowerCase() === "z") { e.preventDefault(); editor.undo(); return; }
  if (ctrl && e.key === "y") { e.preventDefault(); editor.redo(); return; }
  if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); editor.deleteSelected(); return; }
  if (e.key === "Tab") { e.preventDefault(); editor.cycle(e.shiftKey ? -1 : 1); return; }
  const cls = state.classes.find((c) => c.shortcut && c.shortcut === e.key && c.kind !== "tag");
  if (cls) { editor.setClass(cls.key); renderPalette(); }
});
$("undo").addEventListener("click", () => editor.undo());
$("redo").addEventListener("click", () => editor.redo());
$("save").addEventListener("click", save);
renderPalette();
renderTags();
