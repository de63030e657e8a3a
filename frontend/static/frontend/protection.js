// Reveal on demand: the original of a sensitive frame is shown only while the person holds the
// Reveal button (or Space), or until they press it again in toggle mode. Each reveal asks the
// server for a short-lived URL signed for this person, and tells the server when the frame is
// blurred again, so that the exposure is counted with its duration.
import { api, postKeepalive } from "./http.js";
import { urls } from "./urls.js";

export class Revealer {
  // show(url): put the original on screen; hide(): back to the blurred view; say(text): a message
  constructor({ show, hide, say, onChange }) {
    this.show = show;
    this.hide = hide;
    this.say = say || (() => {});
    this.onChange = onChange || (() => {});
    this.frame = null; // {project, id}
    this.active = null; // {reveal id}
    this.wanted = false; // the button or key is still held (a reveal may be in flight)
    this.mode = null; // "hold" | "toggle"
    window.addEventListener("pagehide", () => this.stop());
    document.addEventListener("visibilitychange", () => { if (document.hidden) this.stop(); });
  }

  setFrame(frame) { // {project, id, sensitive}
    this.stop();
    this.frame = frame && frame.sensitive ? frame : null;
  }

  get revealed() { return !!this.active; }

  async start(mode = "hold") {
    if (!this.frame || this.active || this.wanted) return;
    this.wanted = true;
    this.mode = mode;
    const frame = this.frame;
    const { status, data } = await api("POST", urls.reveal(frame.project, frame.id));
    if (status !== 201) {
      this.wanted = false;
      this.say(data?.detail || `Could not reveal the frame (${status})`, "error");
      return;
    }
    this.active = { id: data.reveal };
    if (!this.wanted || this.frame !== frame) { this.stop(); return; } // released while asking
    this.show(data.url);
    this.onChange(true, mode);
  }

  stop() {
    this.wanted = false;
    if (!this.active) return;
    const id = this.active.id;
    this.active = null;
    this.hide();
    this.onChange(false, this.mode);
    // keepalive: the end is reported even when the page is being closed
    if (id) postKeepalive(urls.endReveal(id));
  }

  toggle() { if (this.active || this.wanted) this.stop(); else this.start("toggle"); }

  // a press-and-hold button (mouse, pen or touch)
  bindHold(button) {
    button.addEventListener("pointerdown", (e) => { e.preventDefault(); button.setPointerCapture?.(e.pointerId); this.start("hold"); });
    for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(end, () => { if (this.mode === "hold") this.stop(); });
    }
  }
}
