// fave-lock dashboard enhancements; the page works without them.
// Copy buttons: shown only when the clipboard API is there; each copies its data-copy value.
// Filter boxes: hide tag rows whose tag does not contain the typed text.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (navigator.clipboard) {
    for (const button of document.querySelectorAll("button.copy[data-copy]")) {
      button.hidden = false;
      button.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(button.dataset.copy);
          button.textContent = "copied";
          button.classList.add("done");
          setTimeout(() => { button.textContent = "copy"; button.classList.remove("done"); }, 1500);
        } catch (_) {
          button.textContent = "copy failed";
        }
      });
    }
  }
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const table = document.getElementById(input.dataset.filter);
    if (!table) continue;
    input.hidden = false;
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      for (const row of table.querySelectorAll("tbody tr[data-tag]")) {
        row.hidden = needle !== "" && !row.dataset.tag.toLowerCase().includes(needle);
      }
    });
  }
});
