// MT Gateway console, the live page: fetch the panels again on each pushed report
// (server-sent events from /live/stream). Without EventSource, or when the console refuses
// the stream (too many open for this session, owner or address): every 5 s. Without this
// file: the page reloads every 10 s (noscript). Loaded from this origin (the CSP allows no
// inline script).
"use strict";

function enableLive() {
  const box = document.getElementById("live-panels");
  if (!box) return;
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(box.dataset.panels, {credentials: "same-origin",
                                                         cache: "no-store"});
      if (response.status === 401) { window.location.reload(); return; }
      if (response.ok) {
        const opened = Array.from(box.querySelectorAll("details[id]"),
                                  (d) => [d.id, d.open]);
        box.innerHTML = await response.text();
        for (const [id, open] of opened) {
          const details = document.getElementById(id);
          if (details) details.open = open;
        }
        box.dataset.refreshed = String(Number(box.dataset.refreshed || "0") + 1);
      }
    } catch (_err) {
      // the console is restarting or unreachable: keep what is shown, try again next time
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  if (window.EventSource) {
    const events = new EventSource(box.dataset.stream);
    events.addEventListener("report", refresh);
    events.addEventListener("beat", refresh);
    events.addEventListener("error", () => {
      // a refused stream (429, or 401 once signed out) is not opened again by the browser
      if (events.readyState === EventSource.CLOSED) setInterval(refresh, 5000);
    });
  } else {
    setInterval(refresh, 5000);
  }
}

document.addEventListener("DOMContentLoaded", enableLive);
