// Small behaviours of the pages, without inline scripts (the Content-Security-Policy forbids them).
"use strict";
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-print]");
  if (target) window.print();
  const confirmed = event.target.closest("[data-confirm]");
  if (confirmed && !window.confirm(confirmed.dataset.confirm)) event.preventDefault();
});
// "Select all" boxes for bulk actions: <input type=checkbox data-select-all="name">
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) {
    box.checked = all.checked;
  }
});
