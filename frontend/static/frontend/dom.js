// Two small DOM helpers of the labeling page's modules: `$` (an element by id) and `say` (a
// message on the page's status line, #status; kind "ok" or "error" colours it).
export const $ = (id) => document.getElementById(id);

export function say(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind}`;
}
