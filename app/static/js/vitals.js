// Observation chart: the Print button (no inline handlers under the CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var target = ev.target;
    if (target && target.closest && target.closest("[data-print]")) { window.print(); }
  });
})();
