// The labeling page's protection of annotators who see graphic content: the blur and reveal of a
// sensitive frame (badge, Hold to reveal, Reveal toggle), the paused screen (a break, the daily
// cap, consent needed), the Take a break button, micro-breaks, the content warning and the
// well-being check-ins. The server decides all of it (labeling.protection); this shows it.
import { api } from "./http.js";
import { urls } from "./urls.js";
import { $ } from "./dom.js";
import { Revealer } from "./protection.js";

export class LabelerProtection {
  // show(url): put the original on screen; hide(): back to the frame as served (blurred);
  // say(text, kind): a message; onPause(): the queue serves nothing for now, no frame is on
  // screen; onResume(): the person is back to work, bring a frame
  constructor({ root, projectId, show, hide, say, onPause, onResume }) {
    this.root = root;
    this.projectId = projectId;
    this.onPause = onPause;
    this.onResume = onResume;
    this.pauseTimer = null; // the countdown of the paused screen
    this.checkinAsked = ""; // the check-in moment already asked on this page
    this.protection = null; // what the server said of the frame on screen (frame state's `protection`)
    this.revealer = new Revealer({
      show, hide, say,
      onChange: (on, mode) => {
        root.dataset.revealed = on ? "true" : "false";
        $("reveal").classList.toggle("active", on);
        $("reveal-toggle").setAttribute("aria-pressed", String(on && mode === "toggle"));
        $("sensitive-badge").textContent = on ? "Sensitive · revealed" : "Sensitive · blurred";
      },
    });
    // a reveal held down ends when the window loses focus (the key or button release is not seen)
    window.addEventListener("blur", () => { if (this.revealer.mode === "hold") this.revealer.stop(); });
    $("take-break").addEventListener("click", () => this.takeBreak());
    $("pause-resume").addEventListener("click", () => this.resume());
    $("reveal-toggle").addEventListener("click", () => this.revealer.toggle());
    this.revealer.bindHold($("reveal"));
    $("warning-dialog").addEventListener("close", () => {
      const p = this.protection;
      if (p?.checkin && this.checkinAsked !== p.checkin) this.askCheckin(p.checkin);
      $("stage").focus();
    });
  }

  // A frame is on screen (`data`: the frame state the server sent): its blur, and what the
  // server asks to show with it (micro-break, content warning, check-in).
  protect(data) {
    const f = data.frame;
    const p = data.protection || {};
    this.protection = data.protection;
    this.revealer.setFrame({ project: this.projectId, id: f.id, sensitive: f.sensitive });
    this.root.dataset.sensitive = f.sensitive ? "true" : "false";
    $("sensitive-badge").hidden = !f.sensitive;
    $("reveal").hidden = !f.sensitive;
    $("reveal-toggle").hidden = !f.sensitive;
    $("take-break").hidden = !p.protected;
    if (p.micro_break) {
      $("micro-break").hidden = false;
      setTimeout(() => { $("micro-break").hidden = true; }, 20_000);
    }
    if (p.content_warning) $("warning-dialog").showModal();
    else if (p.checkin && this.checkinAsked !== p.checkin) this.askCheckin(p.checkin);
  }

  // The queue serves nothing for now: a break (timed), or a protection limit reached with nothing
  // else left. Never an error: a screen that says why, and when it ends.
  pause(withheld) {
    this.revealer.setFrame(null);
    this.protection = null;
    this.onPause();
    clearInterval(this.pauseTimer);
    this.root.querySelector(".lab-body").hidden = true;
    this.root.querySelector(".lab-foot").hidden = true;
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
        if (!left) { clearInterval(this.pauseTimer); $("pause-resume").hidden = false; }
      };
      tick();
      this.pauseTimer = setInterval(tick, 1000);
    }
  }

  resume() {
    $("pause").hidden = true;
    this.root.querySelector(".lab-body").hidden = false;
    this.root.querySelector(".lab-foot").hidden = false;
    this.onResume();
  }

  async takeBreak() {
    if (!confirm("Take a break now? The queue pauses until it ends.")) return;
    const { status, data } = await api("POST", urls.takeBreak(this.projectId));
    if (status === 200 && data.withheld) this.pause(data.withheld);
  }

  askCheckin(moment) {
    this.checkinAsked = moment;
    const dialog = $("checkin-dialog");
    dialog.showModal();
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue;
      const score = /^[1-5]$/.test(value) ? Number(value) : null;
      api("POST", urls.checkin(), { score, moment, project: Number(this.projectId) });
    }, { once: true });
  }
}
