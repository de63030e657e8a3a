// The segment page's side panel: the class for new boxes, the track list (class, id, first and
// last frame, keyframes; select, hide, lock, delete), the interval tags (frames, remove) and the
// model's suggested tracks (how many, accept all above a threshold, dismiss).
import { $ } from "./dom.js";
import { renderPalette } from "./palette.js";
import { firstLast } from "./segment_tracks.js";

export class SidePanel {
  // onSelect(trackId), onChanged(), onSeek(frame), acceptAll(), dismiss(); seg: the page's state
  constructor({ onSelect, onChanged, onSeek, acceptAll, dismiss, seg }) {
    this.onSelect = onSelect;
    this.onChanged = onChanged;
    this.onSeek = onSeek;
    this.seg = seg;
    $("suggest-accept-all").addEventListener("click", acceptAll);
    $("suggest-dismiss").addEventListener("click", dismiss);
    $("suggest-threshold").addEventListener("input", () => this.renderSuggestions());
  }

  threshold() {
    const v = Number($("suggest-threshold").value);
    return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5;
  }

  show(data) {
    this.editorClass = null;
    $("suggest-panel").hidden = !data.suggestions && !data.suggestions_withheld;
    $("suggest-controls").hidden = !data.suggestions;
    this.renderTagButtons(data);
    this.render();
  }

  render() {
    this.renderTracks();
    this.renderTags();
  }

  palette(editor) {
    renderPalette($("palette"), this.seg.data.classes, editor.currentClass, (key) => {
      editor.currentClass = key;
      this.palette(editor);
      $("stage").focus();
    });
  }

  renderTracks() {
    const { data, tracks, selected } = this.seg;
    const names = Object.fromEntries(data.classes.map((c) => [c.key, c]));
    const list = $("tracks");
    list.replaceChildren();
    $("track-count").textContent = tracks.length ? `(${tracks.length})` : "";
    if (!tracks.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No tracks yet: drag a box on the frame, or accept a suggestion.";
      list.append(p);
    }
    for (const t of [...tracks].sort((a, b) => a.id - b.id)) {
      const [first, last] = firstLast(t);
      const keys = [...t.keyframes.values()].filter((k) => !k.outside).length;
      const row = document.createElement("li");
      row.className = `track-row${t.id === selected ? " selected" : ""}${t.hidden ? " hidden-track" : ""}`;
      row.dataset.track = t.id;
      row.innerHTML = `<button type="button" class="pick"><span class="dot"></span><span class="name"></span>
        <small class="span"></small></button>
        <button type="button" class="mini" data-act="hide" aria-pressed="false"></button>
        <button type="button" class="mini" data-act="lock" aria-pressed="false"></button>
        <button type="button" class="mini" data-act="delete" title="Delete the track">×</button>`;
      row.querySelector(".dot").style.background = names[t.cls]?.color || "#888";
      row.querySelector(".name").textContent = `${names[t.cls]?.name || t.cls} #${t.id}`;
      row.querySelector(".span").textContent = first === null ? "outside" : `frames ${first}–${last} · ${keys} keyframe${keys === 1 ? "" : "s"}`;
      const hide = row.querySelector("[data-act=hide]");
      hide.textContent = t.hidden ? "show" : "hide";
      hide.setAttribute("aria-pressed", String(t.hidden));
      hide.setAttribute("aria-label", `${t.hidden ? "Show" : "Hide"} track ${t.id}`);
      const lock = row.querySelector("[data-act=lock]");
      lock.textContent = t.locked ? "unlock" : "lock";
      lock.setAttribute("aria-pressed", String(t.locked));
      lock.setAttribute("aria-label", `${t.locked ? "Unlock" : "Lock"} track ${t.id}`);
      row.querySelector("[data-act=delete]").setAttribute("aria-label", `Delete track ${t.id}`);
      row.querySelector(".pick").addEventListener("click", () => { this.onSelect(t.id); if (first !== null) this.onSeek(Math.max(first, Math.min(this.seg.frame, last))); });
      hide.addEventListener("click", () => { t.hidden = !t.hidden; this.onChanged(); });
      lock.addEventListener("click", () => { t.locked = !t.locked; this.onChanged(); });
      row.querySelector("[data-act=delete]").addEventListener("click", () => {
        this.seg.tracks.splice(this.seg.tracks.indexOf(t), 1);
        if (this.seg.selected === t.id) this.seg.selected = null;
        this.onChanged();
      });
      list.append(row);
    }
  }

  renderTagButtons(data) {
    const el = $("tag-keys");
    el.replaceChildren();
    const tagClasses = data.classes.filter((c) => c.kind === "tag");
    if (!tagClasses.length) el.textContent = "No tag classes in this ontology.";
    for (const c of tagClasses) {
      const k = document.createElement("span");
      k.className = "tag-key";
      k.innerHTML = "<kbd></kbd> <span></span>";
      k.querySelector("kbd").textContent = c.shortcut || "—";
      k.querySelector("span").textContent = c.name;
      el.append(k);
    }
  }

  renderTags() {
    const { data, tags } = this.seg;
    const names = Object.fromEntries(data.classes.map((c) => [c.key, c]));
    const list = $("tag-list");
    list.replaceChildren();
    for (const t of tags) {
      const li = document.createElement("li");
      li.dataset.tag = t.cls;
      li.className = t === this.seg.selectedTag ? "selected" : "";
      li.innerHTML = `<button type="button" class="pick"></button> <button type="button" class="mini" title="Remove the tag">×</button>`;
      li.querySelector(".pick").textContent = `${names[t.cls]?.name || t.cls}: frames ${Math.min(t.from, t.to)}–${Math.max(t.from, t.to)}`;
      li.querySelector(".pick").addEventListener("click", () => { this.seg.selectedTag = t; this.onSeek(Math.max(t.from, t.to)); });
      li.querySelector(".mini").setAttribute("aria-label", `Remove tag ${t.cls}`);
      li.querySelector(".mini").addEventListener("click", () => {
        this.seg.tags.splice(this.seg.tags.indexOf(t), 1);
        this.onChanged();
      });
      list.append(li);
    }
  }

  renderSuggestions() {
    const { open, data } = this.seg;
    if (!data?.suggestions) return;
    const t = this.threshold();
    const above = open.filter((s) => s.score >= t).length;
    $("suggest-count").textContent = open.length
      ? `${open.length} suggested tracks by model version ${data.suggestions.model_version} (${above} at or above ${t.toFixed(2)})`
      : "None left in this segment.";
    $("suggest-accept-all").disabled = !above;
    $("suggest-dismiss").disabled = !open.length;
  }
}
