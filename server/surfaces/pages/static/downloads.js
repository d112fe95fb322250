// The downloads page: polls an export's status while it is written in the background and shows
// the download link when it is ready. No inline script (the Content-Security-Policy forbids it).
"use strict";
(() => {
  const box = document.querySelector("[data-export-status]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const show = (selector, text) => { box.querySelector(selector).textContent = text; };
  const format = new Intl.NumberFormat(document.documentElement.lang || undefined);
  const poll = async () => {
    let status;
    try {
      const response = await fetch(box.dataset.exportStatus, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      status = await response.json();
    } catch (error) {
      window.setTimeout(poll, 5000);  // offline for a moment: try again later
      return;
    }
    bar.max = status.total || 1;
    bar.value = status.done;
    show("[data-export-state]", status.label);
    show("[data-export-done]", format.format(status.done));
    show("[data-export-total]", format.format(status.total));
    if (status.state === "done") {
      box.querySelector("[data-export-ready]").hidden = false;
    } else if (status.state !== "failed") {
      window.setTimeout(poll, 1000);
    } else {
      window.location.reload();
    }
  };
  poll();
})();
