// Talking to the server: the one fetch helper every page script uses. The CSRF cookie is read
// once, when the module loads (the session, and so the token, does not change under an open page).
const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";

// A JSON request: resolves to {status, data}, data being the parsed body (null for 204 or a
// body that is not JSON). Never throws on an HTTP error status: the caller looks at `status`.
export async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) { try { data = await response.json(); } catch { data = null; } }
  return { status: response.status, data };
}

// A body-less POST that outlives the page (keepalive): for telling the server something as the
// page closes. Fire and forget: nothing to wait for, errors are dropped.
export function postKeepalive(url) {
  fetch(url, { method: "POST", credentials: "same-origin", keepalive: true,
               headers: { "X-CSRFToken": csrf, Accept: "application/json" } }).catch(() => {});
}
