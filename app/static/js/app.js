// Infirmary page behaviour. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  // Dismiss alerts without Bootstrap's JavaScript.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-dismiss='alert']");
    if (btn) { btn.closest(".alert").remove(); }
  });

  function rowLinks(table) {
    return Array.prototype.slice.call(table.querySelectorAll("tbody tr a:first-of-type"));
  }

  // Keyboard-first tables: arrow keys move between rows, Enter opens the row's link.
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") { return; }
    var active = document.activeElement;
    var table = active && active.closest("[data-keyboard-rows]");
    if (!table && active && active.matches("input[type=search], input[hx-get], #q")) {
      table = document.querySelector("[data-keyboard-rows]");
      if (table && ev.key === "ArrowDown") {
        var first = rowLinks(table)[0];
        if (first) { first.focus(); ev.preventDefault(); }
      }
      return;
    }
    if (!table) { return; }
    var links = rowLinks(table);
    var i = links.indexOf(active);
    if (i < 0) { return; }
    var next = links[i + (ev.key === "ArrowDown" ? 1 : -1)];
    if (next) { next.focus(); ev.preventDefault(); }
  });

  // Keyboard-first boards (DESIGN §4): the page opens with focus on its first link, unless
  // the user already moved it. Only on load: live refreshes of the board must not steal focus.
  function focusFirst() {
    var board = document.querySelector("[data-focus-first]");
    var first = board && board.querySelector("a[href]");
    var active = document.activeElement;
    if (first && (!active || active === document.body)) { first.focus(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirst);
  } else {
    focusFirst();
  }

  // After htmx swaps in a form, put the cursor where the user needs it.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var target = ev.detail.target;
    var invalid = target.querySelector && target.querySelector("[aria-invalid=true]");
    var auto = target.querySelector && target.querySelector("[autofocus]");
    var el = invalid || auto;
    if (el && typeof el.focus === "function" && !el.closest("#flashes")) { el.focus(); }
  });
})();
