// The medication round and the MAR: a scanner ends each code with Enter, which in a form would
// press the first button ("Given"). In a scan field Enter moves on to the next field instead, so
// scanning the wristband then the pack never records a dose by itself.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field || !field.matches || !field.matches("[data-scan-field]")) { return; }
    event.preventDefault();
    var form = field.form;
    if (!form) { return; }
    var inputs = Array.prototype.filter.call(form.elements, function (el) {
      return el.tagName === "INPUT" && el.type !== "hidden" && !el.disabled;
    });
    var next = inputs[inputs.indexOf(field) + 1];
    if (next) { next.focus(); }
  });
  // Someone (maybe on another workstation) recorded or corrected a dose: live.js fires
  // "dose-recorded" with the dose id; only that dose's row listens, on "dose-recorded-<id>", so
  // what the nurse is typing in the other rows is never wiped.
  document.body.addEventListener("dose-recorded", function (event) {
    var id = event.detail && event.detail.id;
    if (!id || !window.htmx || !/^[0-9]+$/.test(String(id))) { return; }
    window.htmx.trigger(document.body, "dose-recorded-" + id, { id: id });
  });
  // After a dose is recorded, keep the keyboard in the round: focus the next open dose's first field.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.classList || !target.classList.contains("round-dose")) { return; }
    var next = document.querySelector(".round-dose form input:not([type=hidden])");
    if (next && event.detail.xhr && event.detail.xhr.status === 200) { next.focus(); }
  });
}());
