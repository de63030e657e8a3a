// The class palette of the labeling page and the QA editor: one button per box class, with its
// colour and keyboard shortcut; `onPick(key)` when one is clicked.
export function renderPalette(container, classes, current, onPick) {
  container.replaceChildren();
  for (const c of classes.filter((k) => k.kind !== "tag")) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "swatch";
    b.dataset.class = c.key;
    b.setAttribute("aria-pressed", String(current === c.key));
    b.innerHTML = `<span class="dot"></span><span class="name"></span><kbd></kbd>`;
    b.querySelector(".dot").style.background = c.color;
    b.querySelector(".name").textContent = c.name + (c.kind === "change" ? " (changed region)" : "");
    b.querySelector("kbd").textContent = c.shortcut || "";
    b.addEventListener("click", () => onPick(c.key));
    container.append(b);
  }
}
