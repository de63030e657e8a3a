// The labeling page's keyboard shortcuts (the Keys list of label.html says the same). None while
// a dialog is open or no frame is on screen, and none but Escape while typing in a field.
import { $ } from "./dom.js";

export function bindShortcuts({ session, panel, editor, suggestions, revealer }) {
  document.addEventListener("keydown", (e) => {
    const state = session.current?.data;
    if (!state || document.querySelector("dialog[open]")) return;
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
    if (typing && e.key !== "Escape") return;
    if (e.key === " ") { // hold Space to reveal a sensitive frame
      e.preventDefault();
      if (!e.repeat && state.frame.sensitive) revealer.start("hold");
      return;
    }
    const ctrl = e.ctrlKey || e.metaKey;
    if (e.key === "Enter") { e.preventDefault(); session.submit(); return; }
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
    const turn = { "[": -1, "]": 1, "{": -15, "}": 15 }[e.key]; // oriented boxes (oriented.js)
    if (turn && editor.rotateSelected(turn)) { e.preventDefault(); return; }
    if (e.shiftKey) {
      const command = {
        S: () => session.skip(), C: () => session.copyPrevious(), P: () => session.togglePrevious(),
        N: () => panel.newTrack(), F: () => session.flag(), G: () => session.report(), R: () => revealer.toggle(),
        A: () => suggestions.acceptStrongest(), Y: () => suggestions.acceptAll(), D: () => suggestions.dismiss(),
      }[e.key.toUpperCase()];
      if (command) { e.preventDefault(); command(); }
      return;
    }
    const cls = state.classes.find((c) => c.shortcut && c.shortcut === e.key);
    if (!cls) return;
    e.preventDefault();
    if (cls.kind === "tag") panel.toggleTag(cls.key);
    else { editor.setClass(cls.key); panel.renderPalette(); }
  });

  // releasing Space ends a reveal held with it
  document.addEventListener("keyup", (e) => { if (e.key === " " && revealer.mode === "hold") revealer.stop(); });
}
