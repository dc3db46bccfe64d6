// Dispensing: the pack scan box. A keyboard-wedge scanner types the GS1 code and presses Enter
// (which submits the form). Scanners send the FNC1 separator as GS (Ctrl+]), which browsers
// drop from text fields; keep it as the character itself so the batch and serial stay apart.
(function () {
  "use strict";
  var GS = String.fromCharCode(29);

  function insertAtCursor(input, text) {
    var start = input.selectionStart, end = input.selectionEnd;
    if (start === null || end === null) { input.value += text; return; }
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start + text.length;
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target || !target.matches || !target.matches("[data-scan-field]")) { return; }
    var groupSeparator = event.key === "GroupSeparator" ||
      (event.ctrlKey && (event.key === "]" || event.code === "BracketRight"));
    if (groupSeparator) {
      event.preventDefault();
      insertAtCursor(target, GS);
    }
  });

  // After the form comes back (a refusal, 409/422), put the cursor where the work is: the
  // field with the error, else the scan box, selected so the next scan replaces it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var form = event.detail && event.detail.target;
    if (!form || form.id !== "dispense-form") { return; }
    var invalid = form.querySelector(".is-invalid") || form.querySelector("[data-scan-field]");
    if (invalid) {
      invalid.focus();
      if (invalid.select) { invalid.select(); }
    }
  });
})();
