// The labeling page's side panel: the class palette, the frame tags, the change verdicts against
// the previous frame, and the fields of the selected box (class, attributes, track). It shows
// and edits the frame on screen (`current`, the labeling session's object: `data` as the server
// sent it, `tags` as set on this page); boxes are the box editor's.
import { renderPalette as paletteInto } from "./palette.js";
import { $ } from "./dom.js";

export class SidePanel {
  // onEdit(): a tag or a change verdict was set, to be saved with the draft
  constructor({ editor, onEdit }) {
    this.editor = editor;
    this.onEdit = onEdit;
    this.current = null;
  }

  show(current) {
    this.current = current;
    this.renderPalette();
    this.renderTags();
    this.renderChange();
  }

  // ---------------------------------------------------------------- classes
  renderPalette() {
    paletteInto($("palette"), this.current.data.classes, this.editor.currentClass,
      (key) => { this.editor.setClass(key); this.renderPalette(); $("stage").focus(); });
  }

  boxClasses() { return this.current.data.classes.filter((c) => c.kind !== "tag"); }

  // ---------------------------------------------------------------- frame tags
  renderTags() {
    const { data, tags } = this.current;
    const el = $("tags");
    el.replaceChildren();
    const tagClasses = data.classes.filter((c) => c.kind === "tag");
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
      b.addEventListener("click", () => this.toggleTag(c.key));
      el.append(b);
    }
  }

  toggleTag(key) {
    const { tags } = this.current;
    tags[key] = { on: !tags[key]?.on };
    this.renderTags();
    this.onEdit();
  }

  // ---------------------------------------------------------------- change since the previous frame
  renderChange() {
    const { data, tags } = this.current;
    const changeClasses = data.classes.filter((c) => c.kind === "change");
    const prev = data.frame.previous_frame;
    $("change-panel").hidden = !changeClasses.length;
    $("toggle-prev").disabled = !prev;
    // the first frame of a sequence has none: say so instead of a broken image
    $("previous-thumb").hidden = !prev;
    $("no-previous").hidden = !!prev;
    if (prev) $("previous-thumb").src = prev.image_url; else $("previous-thumb").removeAttribute("src");
    const el = $("changes");
    el.replaceChildren();
    for (const c of changeClasses) {
      const row = document.createElement("fieldset");
      row.className = "verdict";
      row.innerHTML = `<legend></legend>
      <label><input type="radio" name="chg-${c.key}" value="true"> changed</label>
      <label><input type="radio" name="chg-${c.key}" value="false"> unchanged</label>`;
      row.querySelector("legend").textContent = c.name;
      const verdict = tags[c.key]?.on ? tags[c.key].changed : undefined;
      for (const input of row.querySelectorAll("input")) {
        input.checked = String(verdict) === input.value;
        input.addEventListener("change", () => {
          this.current.tags[c.key] = { on: true, changed: input.value === "true" };
          this.onEdit();
        });
      }
      el.append(row);
    }
  }

  // ---------------------------------------------------------------- the selected box
  renderSelected(box) {
    const panel = $("selected-panel");
    panel.hidden = !box;
    if (!box) return;
    const { data } = this.current;
    const editor = this.editor;
    const fields = $("selected-fields");
    fields.replaceChildren();
    const cls = data.classes.find((c) => c.key === box.class);
    const classSelect = field("Class", "select");
    for (const c of this.boxClasses()) classSelect.add(new Option(c.name, c.key, false, c.key === box.class));
    classSelect.addEventListener("change", () => editor.update(box.uid, { class: classSelect.value, attributes: {} }));
    fields.append(classSelect.parentElement);
    for (const spec of cls?.attributes || []) fields.append(this.attributeInput(box, spec));
    const track = field("Track", "select");
    track.name = "track";
    track.add(new Option("No track", ""));
    const nextId = this.nextTrackId();
    track.add(new Option(`New track #${nextId}`, String(nextId)));
    for (const b of data.tracks.previous?.boxes || []) {
      if (b.track_id && b.class === box.class && !editor.boxes.some((o) => o.track_id === b.track_id && o.uid !== box.uid)) {
        track.add(new Option(`Continue track #${b.track_id} (frame ${data.tracks.previous.index})`, String(b.track_id)));
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
    geo.textContent = `x ${box.x}, y ${box.y}, ${box.w} × ${box.h} px${box.angle != null ? `, turned ${box.angle}°` : ""}`;
    fields.append(geo);
  }

  attributeInput(box, spec) {
    const value = box.attributes?.[spec.key];
    const set = (v) => this.editor.update(box.uid, { attributes: { ...box.attributes, [spec.key]: v } });
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

  // ---------------------------------------------------------------- tracks
  nextTrackId() {
    const used = this.editor.boxes.map((b) => b.track_id || 0);
    return Math.max(this.current.data.tracks.next_track_id, ...used.map((t) => t + 1));
  }

  newTrack() { // the selected box starts a new track
    const box = this.editor.selectedBox();
    if (box) this.editor.update(box.uid, { track_id: this.nextTrackId() });
  }
}

// A labelled field: the input (or select) inside its <label class="field">.
function field(labelText, tag) {
  const label = document.createElement("label");
  label.className = "field";
  label.append(document.createTextNode(labelText));
  const input = document.createElement(tag);
  label.append(input);
  return input;
}
