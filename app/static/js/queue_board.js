// The waiting-room screen: a clock, and the newest call flashes (with a short tone where the
// browser allows sound) when it changes. The board itself is re-fetched by htmx on
// "queue-updated" events that live.js relays from Socket.IO.
(function () {
  "use strict";
  var clock = document.getElementById("board-clock");
  var zone = clock ? clock.getAttribute("data-timezone") : null;

  function tick() {
    if (!clock) { return; }
    try {
      clock.textContent = new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone || undefined });
    } catch (e) {
      clock.textContent = new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
    }
  }
  tick();
  setInterval(tick, 15000);

  function latestCall() {
    var board = document.getElementById("board");
    var calls = board ? (board.getAttribute("data-calling") || "").trim().split(/\s+/) : [];
    return calls[0] || "";
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      var ctx = new Context();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.35);
      osc.onended = function () { ctx.close(); };
    } catch (e) { /* no sound: the flash is enough */ }
  }

  var shown = latestCall();
  // htmx:load fires on the new board once it replaced the old one (outerHTML swap).
  document.addEventListener("htmx:load", function (ev) {
    if (!ev.detail.elt || ev.detail.elt.id !== "board") { return; }
    var now = latestCall();
    if (now && now !== shown) {
      var latest = document.querySelector(".board-call-latest");
      if (latest) { latest.classList.add("board-new"); }
      chime();
    }
    shown = now;
  });
})();
