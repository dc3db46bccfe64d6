// The prescription form: after a drug is picked the form comes back with its defaults, and the
// cursor goes to the dose; ArrowDown in the drug search moves into the list of drugs.
// No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  document.addEventListener("htmx:afterSettle", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    if (!elt || elt.id !== "rx-form") { return; }
    var req = ev.detail.requestConfig;
    if (req && req.elt && req.elt.id === "drug_id") {
      var dose = document.getElementById("dose");
      if (dose) { dose.focus(); dose.select(); }
    }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "ArrowDown" || !ev.target || ev.target.id !== "drug_q") { return; }
    var list = document.getElementById("drug_id");
    if (list && list.options.length) {
      ev.preventDefault();
      list.focus();
      if (list.selectedIndex < 0) { list.selectedIndex = 0; }
    }
  });
})();
