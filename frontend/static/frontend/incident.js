// The "Report model incident" button of the labeling and review pages: a small dialog (kind,
// note) that files an incident against the project's current detector, on the frame on screen
// (the labeling page's current frame, or the review page's frame).
import { api } from "./http.js";
import { urls } from "./urls.js";

const button = document.getElementById("report-incident");
const dialog = document.getElementById("incident-dialog");
const form = document.getElementById("incident-form");
const status = document.getElementById("incident-status");

function frameOnScreen() {
  const labeler = document.getElementById("labeler");
  return Number(labeler?.dataset.frameId || button.dataset.frame) || null;
}

button.addEventListener("click", () => {
  status.textContent = "";
  status.className = "status";
  dialog.showModal();
  document.getElementById("incident-note").focus();
});
document.getElementById("incident-cancel").addEventListener("click", () => dialog.close());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { model_version: Number(button.dataset.model), kind: form.kind.value, note: form.note.value,
                 frame: frameOnScreen() };
  const { status: code, data } = await api("POST", urls.incidents(button.dataset.project), body);
  if (code === 201) {
    status.textContent = `Incident #${data.id} sent to QA. Thank you.`;
    status.className = "status ok";
    form.note.value = "";
    setTimeout(() => dialog.close(), 1200);
  } else {
    const detail = data?.detail || Object.entries(data || {}).map(([k, v]) => `${k}: ${v}`).join("; ");
    status.textContent = `Not sent: ${detail || `error ${code}`}`;
    status.className = "status error";
  }
});
