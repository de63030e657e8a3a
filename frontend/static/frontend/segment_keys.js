// The segment page's keys (the Keys list of segment.html and the README say the same). No key
// means something else here than on the frame page: Space is hold-to-reveal on both, Shift+A/Y/D
// take or dismiss suggestions on both, Shift+S skips, Shift+R toggles a reveal; Shift+F (flag on
// the frame page) is not used, so tracking is Shift+T (forward) and Shift+B (backward); digits and
// letters that are class shortcuts pick a box class or start an interval tag.
export function bindKeys({ seg, editor, player, protection, edits, propagate, submit, skip, acceptVisible,
                           acceptAll, dismiss, pickClass }) {
  document.addEventListener("keydown", (e) => {
    if (!seg.data || document.querySelector("dialog[open]")) return;
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
    if (typing && e.key !== "Escape") return;
    const p = player();
    if (e.key === " ") { // hold Space to reveal a sensitive frame
      e.preventDefault();
      if (!e.repeat) protection.revealer.start("hold");
      return;
    }
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && (e.key === "z" || e.key === "Z")) { e.preventDefault(); e.shiftKey ? editor.redo() : editor.undo(); return; }
    if (ctrl) return;
    const plain = {
      "`": () => p.toggle(), ",": () => p.step(-1), ".": () => p.step(1), "<": () => p.step(-10), ">": () => p.step(10),
      "[": () => edits.jumpKeyframe(-1), "]": () => edits.jumpKeyframe(1),
      Home: () => p.seek(seg.data.segment.first), End: () => p.seek(seg.data.segment.last),
      Enter: () => submit(), Delete: () => edits.deleteKeyframe(), Backspace: () => edits.deleteKeyframe(),
      Escape: () => { editor.select(null); document.getElementById("stage").focus(); },
      "+": () => editor.zoom(1.25), "=": () => editor.zoom(1.25), "-": () => editor.zoom(0.8),
    };
    if (!e.shiftKey || ["<", ">"].includes(e.key)) {
      const command = plain[e.key];
      if (command) { e.preventDefault(); command(); return; }
    }
    if (e.shiftKey) {
      const command = {
        K: () => p.toggle(), O: () => edits.outside(), Q: () => edits.occluded(), X: () => edits.split(),
        M: () => edits.merge(), H: () => edits.hide(), L: () => edits.lock(), T: () => propagate("forward"),
        B: () => propagate("backward"), A: () => acceptVisible(), Y: () => acceptAll(), D: () => dismiss(),
        E: () => edits.extendTag(), S: () => skip(), R: () => protection.revealer.toggle(),
        DELETE: () => edits.deleteTrack(), BACKSPACE: () => edits.deleteTrack(),
      }[e.key.toUpperCase()];
      if (command) { e.preventDefault(); command(); }
      return;
    }
    const cls = seg.data.classes.find((c) => c.shortcut && c.shortcut === e.key);
    if (!cls) return;
    e.preventDefault();
    if (cls.kind === "tag") edits.tag(cls.key);
    else pickClass(cls.key);
  });
  document.addEventListener("keyup", (e) => { if (e.key === " " && protection.revealer.mode === "hold") protection.revealer.stop(); });
}
