// The labeling page: asks the API for the next frame, drives the box editor and the side
// panel, autosaves drafts, submits and brings the next frame without a page reload.
// This entry point only builds the parts and wires them together:
//   labeler_session.js     the frame on screen: loading, draft autosave, submit, skip, flag,
//                          report, previous frame, lease renewal
//   labeler_panel.js       the side panel: classes, tags, change verdicts, selected box, tracks
//   labeler_keys.js        the keyboard shortcuts
//   labeler_suggestions.js the current model's boxes, dashed, to accept or ignore
//   labeler_protection.js  blur and reveal, the paused screen, breaks, content warning, check-ins
//   dom.js                 $ and say (the status line)
// and, shared with the QA pages: boxeditor.js, palette.js, protection.js (Revealer), and
// http.js and urls.js under every request.
import { BoxEditor } from "./boxeditor.js";
import { $, say } from "./dom.js";
import { DroneView } from "./labeler_drone.js";
import { LabelingSession } from "./labeler_session.js";
import { SidePanel } from "./labeler_panel.js";
import { bindShortcuts } from "./labeler_keys.js";
import { LabelerProtection } from "./labeler_protection.js";
import { Suggestions } from "./labeler_suggestions.js";

const root = document.getElementById("labeler");

// The parts call one another through callbacks; those naming `session` or `panel` (built below)
// run only once the page is going (session.start()).
const editor = new BoxEditor($("stage"), {
  onChange: () => session.scheduleDraft(),
  onSelect: (box) => panel.renderSelected(box),
});
// Sensitive frames arrive blurred; the original only while revealed (labeling.protection)
const protection = new LabelerProtection({
  root, projectId: root.dataset.project, say,
  show: (url) => session.showOriginal(url),
  hide: () => session.showServed(),
  onPause: () => session.clear(),
  onResume: () => session.loadNext(),
});
const panel = new SidePanel({ editor, onEdit: () => session.scheduleDraft() });
const suggestions = new Suggestions({ editor, say });
const drone = new DroneView({ onPalette: () => session.repaint() });
const session = new LabelingSession({ root, editor, panel, protection, suggestions, drone });
bindShortcuts({ session, panel, editor, suggestions, revealer: protection.revealer });

$("undo").addEventListener("click", () => editor.undo());
$("redo").addEventListener("click", () => editor.redo());

session.start();
