// Calendars are worked from the keyboard: the first free slot has focus, arrow keys move
// between slots and appointments (up/down in a column, left/right to the nearest time in the
// next column), Enter opens the book form. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  function items(col) {
    return Array.prototype.slice.call(col.querySelectorAll("[data-cal-item]"));
  }

  function focusFirstSlot() {
    var cal = document.getElementById("calendar");
    if (!cal) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && document.body.contains(active) && !cal.contains(active)) { return; }
    var slot = cal.querySelector("a.slot");
    if (slot) { slot.focus(); }
  }

  document.addEventListener("DOMContentLoaded", focusFirstSlot);
  document.addEventListener("htmx:afterSettle", function (ev) {
    if (ev.detail && ev.detail.elt && ev.detail.elt.id === "calendar") { focusFirstSlot(); }
    else if (document.activeElement === document.body) { focusFirstSlot(); }
  });

  document.addEventListener("keydown", function (ev) {
    if (["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"].indexOf(ev.key) < 0) { return; }
    var active = document.activeElement;
    if (!active || !active.matches || !active.matches("[data-cal-item]")) { return; }
    var col = active.closest("[data-cal-col]");
    var grid = col && col.parentElement;
    if (!col || !grid) { return; }
    var own = items(col);
    var i = own.indexOf(active);
    var next = null;
    if (ev.key === "ArrowDown") { next = own[i + 1]; }
    if (ev.key === "ArrowUp") { next = own[i - 1]; }
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      var cols = Array.prototype.slice.call(grid.querySelectorAll("[data-cal-col]"));
      var other = cols[cols.indexOf(col) + (ev.key === "ArrowRight" ? 1 : -1)];
      if (other) {
        var time = active.querySelector(".cal-time");
        var wanted = time ? time.textContent : "";
        var candidates = items(other);
        next = candidates.filter(function (el) {
          var t = el.querySelector(".cal-time");
          return t && t.textContent >= wanted;
        })[0] || candidates[candidates.length - 1];
      }
    }
    if (next) { next.focus(); ev.preventDefault(); }
  });
})();
