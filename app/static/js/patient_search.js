// Reception search: keyboard-first results. No inline scripts (CSP): this file is included by
// patients/list.html.
//   ↓ from the search box selects the first result; ↓ ↑ move; Enter opens the selected patient
//   (Enter in the box opens the first, or the only, result); Escape goes back to the box.
(function () {
  "use strict";

  function box() { return document.getElementById("q"); }
  function links() {
    return Array.prototype.slice.call(document.querySelectorAll("#search-results tbody tr[data-row] a.patient-link"));
  }
  function select(link) {
    document.querySelectorAll("#search-results tr[aria-selected]").forEach(function (tr) {
      tr.removeAttribute("aria-selected");
      tr.classList.remove("table-active");
    });
    if (!link) { return; }
    var row = link.closest("tr");
    row.setAttribute("aria-selected", "true");
    row.classList.add("table-active");
    link.focus();
  }

  document.addEventListener("keydown", function (ev) {
    var q = box();
    if (!q) { return; }
    var all = links();
    var active = document.activeElement;
    var i = all.indexOf(active);
    if (active === q) {
      if (ev.key === "ArrowDown" && all.length) {
        ev.preventDefault();
        select(all[0]);
      } else if (ev.key === "Enter") {
        // The results are already on the screen: open the first rather than reload the page;
        // but only if they are the results for what is in the box now (typing may be ahead).
        ev.preventDefault();
        var rows = document.getElementById("patient-rows");
        var current = rows && rows.getAttribute("data-query") === q.value;
        if (all.length && current && !q.classList.contains("is-invalid")) {
          window.location.assign(all[0].href);
        } else {
          htmx.trigger(q, "search");
        }
      }
      return;
    }
    if (i < 0) { return; }
    if (ev.key === "ArrowDown" && i + 1 < all.length) {
      ev.preventDefault();
      select(all[i + 1]);
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      if (i === 0) { select(null); q.focus(); } else { select(all[i - 1]); }
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      select(null);
      q.focus();
      q.select();
    }
  });

  // A wrong check digit (422) marks the box invalid; the message comes in #q-feedback.
  document.addEventListener("htmx:afterRequest", function (ev) {
    var q = box();
    if (!q || ev.detail.elt !== q) { return; }
    var bad = ev.detail.xhr && ev.detail.xhr.status === 422;
    q.classList.toggle("is-invalid", bad);
    if (bad) { q.setAttribute("aria-invalid", "true"); } else { q.removeAttribute("aria-invalid"); }
  });
})();
