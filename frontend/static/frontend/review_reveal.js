// The review page of a sensitive frame: every version is drawn on the blurred preview; holding
// Reveal (or toggling it) shows the original in all of them, counted like any reveal.
import { Revealer } from "./protection.js";

const bar = document.getElementById("reveal-bar");
const images = () => document.querySelectorAll("image.frame-img");
const setAll = (url) => { for (const img of images()) img.setAttribute("href", url); };
const revealer = new Revealer({
  show: setAll,
  hide: () => setAll(bar.dataset.blurred),
  say: (text) => { document.getElementById("status").textContent = text; },
  onChange: (on, mode) => {
    bar.dataset.revealed = on ? "true" : "false";
    document.getElementById("reveal-toggle").setAttribute("aria-pressed", String(on && mode === "toggle"));
    document.getElementById("sensitive-badge").textContent = on ? "Sensitive frame: revealed." : "Sensitive frame: shown blurred.";
  },
});
revealer.setFrame({ project: bar.dataset.project, id: bar.dataset.frame, sensitive: true });
revealer.bindHold(document.getElementById("reveal"));
document.getElementById("reveal-toggle").addEventListener("click", () => revealer.toggle());
