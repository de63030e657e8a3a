// The labeling session: one frame at a time, from the project's queue (or one earlier submission
// when the page edits it), loaded into the box editor and the side panel, its draft autosaved,
// then submitted, skipped, flagged or reported; the lease on its assignment is renewed while the
// page is open. What the page knows of the frame on screen is one object, `current`:
//   data             the frame state as the server sent it (frame, classes, assignment or
//                    revision, draft, tracks, protection)
//   tags             frame tags and change verdicts as set on this page: key -> {on, changed}
//   showingPrevious  the previous frame is shown in place of this one (Shift+P)
// It is replaced whole when another frame loads, and null while none is on screen.
import { api } from "./http.js";
import { urls } from "./urls.js";
import { $, say } from "./dom.js";

export class LabelingSession {
  constructor({ root, editor, panel, protection, suggestions, drone }) {
    this.root = root;
    this.projectId = root.dataset.project;
    this.editFrame = root.dataset.frame; // set when editing an earlier submission
    this.editor = editor;
    this.panel = panel;
    this.protection = protection;
    this.suggestions = suggestions;
    this.drone = drone;
    this.current = null;
    this.saveTimer = null; // the pending draft save
    this.busy = false; // a submit is under way
    $("submit").addEventListener("click", () => this.submit());
    $("skip").addEventListener("click", () => this.skip());
    $("flag").addEventListener("click", () => this.flag());
    $("copy-prev").addEventListener("click", () => this.copyPrevious());
    $("toggle-prev").addEventListener("click", () => this.togglePrevious());
    $("conflict-dialog").addEventListener("close", () => this.loadFrame(root.dataset.frameId));
    $("report").addEventListener("click", () => this.report());
  }

  // The first frame; from then on, the lease is kept while the page is open.
  start() {
    setInterval(() => this.renewLease(), 60_000);
    if (this.editFrame) this.loadFrame(this.editFrame); else this.loadNext();
  }

  // ---------------------------------------------------------------- loading a frame
  async loadNext() {
    const { status, data } = await api("POST", urls.next(this.projectId));
    this.takeNext(status, data);
  }

  // What the queue answered for the next frame: asked for on its own, or with a submission.
  takeNext(status, data) {
    if (status === 204) return this.finished("Nothing left for you to label in this project. Thank you!");
    if (status !== 200) return say(data?.detail || `Could not get a frame (${status})`, "error");
    if (data.withheld) return this.protection.pause(data.withheld);
    this.show(data);
  }

  async loadFrame(frameId) {
    const { status, data } = await api("GET", urls.frameState(this.projectId, frameId));
    if (status !== 200) return say(data?.detail || `Could not load the frame (${status})`, "error");
    this.show(data);
  }

  // No frame on screen (the queue is paused).
  clear() { this.current = null; }

  finished(text) {
    $("done-text").textContent = text;
    $("done").hidden = false;
    this.root.querySelector(".lab-body").hidden = true;
    this.root.querySelector(".lab-foot").hidden = true;
    $("frame-title").textContent = "";
  }

  show(data) {
    const f = data.frame;
    const source = data.draft || data.revision || { boxes: [], tags: [] };
    const tags = {};
    for (const t of source.tags || []) tags[t.class] = { on: true, changed: t.changed };
    this.current = { data, tags, showingPrevious: false };
    const boxes = (source.boxes || []).map((b) => ({ ...b, attributes: b.attributes || {} }));
    if (!data.draft && !data.revision) {
      for (const b of data.tracks.interpolated) boxes.push({ ...b }); // shown between two keyframes, editable
    }
    $("overlay-badge").hidden = true;
    $("toggle-prev").setAttribute("aria-pressed", "false");
    this.drone.prepare(data); // the flight readout; a thermal frame's URL in the person's palette
    this.editor.load({ width: f.width, height: f.height, imageUrl: f.image_url, classes: data.classes, boxes });
    $("frame-title").textContent =
      `${f.sequence_name} · frame ${f.index}${data.revision ? ` · your revision ${data.revision.revision}` : ""}`;
    this.root.dataset.frameId = f.id;
    this.root.dataset.assignment = data.assignment?.id || "";
    this.panel.show(this.current);
    this.suggestions.show(data);
    this.protection.protect(data);
    say(data.draft ? "Draft restored" : data.revision ? "Editing your submitted labels" : "");
    if (data.prefetch) new Image().src = data.prefetch; // the likely next frame, so it shows at once
    $("stage").focus();
  }

  // The revealer's view of a sensitive frame: the original while revealed, else the frame as
  // served (blurred); neither replaces the previous frame while that is shown.
  showOriginal(url) {
    if (!this.current?.showingPrevious) this.editor.setImage(url);
  }

  // The person chose another thermal palette: the frame on screen is drawn again in it.
  repaint() {
    const c = this.current;
    if (!c) return;
    this.drone.prepare(c.data);
    if (!c.showingPrevious) this.editor.setImage(c.data.frame.image_url);
  }

  showServed() {
    const c = this.current;
    if (c && !c.showingPrevious) this.editor.setImage(c.data.frame.image_url);
  }

  // ---------------------------------------------------------------- saving
  payload() {
    const { data, tags } = this.current;
    const tagList = [];
    for (const [key, t] of Object.entries(tags)) {
      if (!t.on) continue;
      const cls = data.classes.find((c) => c.key === key);
      tagList.push(cls?.kind === "change" ? { class: key, changed: !!t.changed } : { class: key });
    }
    const boxes = this.editor.payloadBoxes().map((b) => ({ ...b, attributes: clean(b.attributes) }));
    return { boxes, tags: tagList };
  }

  scheduleDraft() {
    if (!this.current?.data.assignment) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(async () => {
      const { status } = await api("PUT", urls.draft(this.current.data.assignment.id), this.payload());
      if (status === 204) say("Draft saved");
    }, 1200);
  }

  renewLease() {
    const assignment = this.current?.data.assignment;
    if (assignment) api("POST", urls.renew(assignment.id));
  }

  async submit() {
    if (this.busy || !this.current) return;
    this.busy = true;
    clearTimeout(this.saveTimer);
    this.protection.revealer.stop();
    try {
      const { data } = this.current;
      let result;
      const thenNext = !this.editFrame; // the next frame comes with the answer: one request per frame
      if (data.assignment) {
        result = await api("POST", urls.submit(data.assignment.id), { ...this.payload(), ...(thenNext && { next: true }) });
      } else if (data.revision) {
        result = await api("POST", urls.revise(), { base_revision: data.revision.id, ...this.payload() });
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
      if (this.editFrame) {
        await this.loadFrame(this.editFrame);
        say("Saved as a new revision", "ok");
      } else if (result.data?.next) {
        this.takeNext(result.data.next.status, result.data.next.body);
      } else {
        await this.loadNext();
      }
    } finally {
      this.busy = false;
    }
  }

  // ---------------------------------------------------------------- skip, flag, report
  // A dialog with one text field: on OK, `then(value)`.
  ask(dialogId, inputId, then) {
    if (!this.current?.data.assignment) return;
    const dialog = $(dialogId);
    $(inputId).value = "";
    dialog.showModal();
    dialog.addEventListener("close", () => { if (dialog.returnValue === "ok") then($(inputId).value); }, { once: true });
  }

  skip() {
    this.ask("skip-dialog", "skip-reason", async (reason) => {
      const { status, data } = await api("POST", urls.skip(this.current.data.assignment.id), { reason });
      if (status !== 200) return say(data?.detail || "Could not skip", "error");
      await this.loadNext();
    });
  }

  flag() {
    this.ask("flag-dialog", "flag-note", async (note) => {
      const { status, data } = await api("POST", urls.flag(this.current.data.assignment.id), { note });
      if (status !== 201) return say(data?.detail || "Could not flag the frame", "error");
      say("Flagged: a QA lead will look at this frame", "ok");
    });
  }

  report() {
    this.ask("report-dialog", "report-note", async (note) => {
      const { status, data } = await api("POST", urls.report(this.projectId, this.current.data.frame.id), { note });
      if (status !== 201) return say(data?.detail || "Could not report the frame", "error");
      const current = this.current;
      current.data.frame.sensitive = true; // blurred from now on, for everyone
      current.data.frame.image_url = data.image_url;
      if (!current.showingPrevious) this.editor.setImage(data.image_url);
      this.protection.protect(current.data);
      say("Reported: the frame is blurred for everyone from now on", "ok");
    });
  }

  // ---------------------------------------------------------------- the previous frame
  copyPrevious() {
    const prev = this.current.data.tracks.previous;
    if (!prev) return say("No earlier labeled frame in this sequence.");
    this.editor.addBoxes(prev.boxes.map((b) => ({ ...b, attributes: { ...(b.attributes || {}) } })));
    say(`Copied ${prev.boxes.length} boxes from frame ${prev.index}`);
  }

  togglePrevious() {
    const current = this.current;
    const prev = current.data.frame.previous_frame;
    if (!prev) return;
    this.protection.revealer.stop();
    current.showingPrevious = !current.showingPrevious;
    this.editor.setImage(current.showingPrevious ? prev.image_url : current.data.frame.image_url);
    $("overlay-badge").hidden = !current.showingPrevious;
    $("overlay-badge").textContent = `Previous frame (${prev.index})`;
    $("toggle-prev").setAttribute("aria-pressed", String(current.showingPrevious));
  }
}

// Attributes as sent: the unset ones (null or empty) left out.
function clean(attributes) {
  return Object.fromEntries(Object.entries(attributes || {}).filter(([, v]) => v !== null && v !== ""));
}
