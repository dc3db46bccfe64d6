// Front desk: arrow keys move between rows' actions (check in / ticket), Enter does it, and
// after a check-in the cursor goes back to the search box for the next patient.
(function () {
  "use strict";

  function actions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row-actions] [data-row-action]"));
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") { return; }
    var active = document.activeElement;
    var list = actions();
    if (!list.length) { return; }
    if (active && active.id === "q") {
      if (ev.key === "ArrowDown") { list[0].focus(); ev.preventDefault(); }
      return;
    }
    var i = list.indexOf(active);
    if (i < 0) { return; }
    if (ev.key === "ArrowUp" && i === 0) {
      var search = document.getElementById("q");
      if (search) { search.focus(); ev.preventDefault(); }
      return;
    }
    var next = list[i + (ev.key === "ArrowDown" ? 1 : -1)];
    if (next) { next.focus(); ev.preventDefault(); }
  });

  // htmx:load fires on the new row once it replaced the old one (outerHTML swap).
  document.addEventListener("htmx:load", function (ev) {
    var row = ev.detail.elt;
    if (row && row.classList && row.classList.contains("arrival")) {
      var search = document.getElementById("q");
      if (search) { search.focus(); search.select(); }
    }
  });
})();
