// MT Gateway console: progressive enhancement only. Every page works without this file.
// Loaded from this origin (the CSP allows no inline script).
"use strict";

// The token's copy button: shown only where the clipboard can be written.
function enableCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
        button.textContent = "Copied";
      } catch (_err) {
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

// The dashboard's table (and its positions and charts) refresh themselves every 2 s (without
// JavaScript, the page reloads every 5 s instead). Signed out (401): stop and reload, which
// leads to the sign-in page.
function enableRefresh() {
  for (const part of document.querySelectorAll("[data-refresh]")) refreshEvery2s(part);
}

function refreshEvery2s(body) {
  const url = body.dataset.refresh;
  setInterval(async () => {
    try {
      const response = await fetch(url, {credentials: "same-origin", cache: "no-store"});
      if (response.status === 401) { window.location.reload(); return; }
      if (response.ok) {
        // a chart's table the owner opened stays open across the refresh
        const opened = Array.from(body.querySelectorAll("details[open][id]"), (d) => d.id);
        body.innerHTML = await response.text();
        for (const id of opened) {
          const details = document.getElementById(id);
          if (details) details.open = true;
        }
        // The getting-started checklist's last step ("see the terminal active") is done now:
        // reload once so the checklist says so (it is rendered with the page, not refreshed).
        const last = document.querySelector('#getting-started li[data-step="connected"]');
        if (last && last.dataset.done === "no" && body.querySelector('tr[data-state="active"]')) {
          window.location.reload();
        }
      }
    } catch (_err) {
      // the console is restarting or unreachable: keep the last rows, try again next time
    }
  }, 2000);
}

// A page served at an address it should not keep (the sign-in page answering a spent reset
// or take-back link, whose token is a credential): show the page's own address instead, so
// the token leaves the address bar and the history entry.
function replaceAddress() {
  const address = document.body.dataset.address;
  if (address && window.location.pathname !== address) {
    window.history.replaceState(null, "", address);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  replaceAddress();
  enableCopyButtons();
  enableRefresh();
});
