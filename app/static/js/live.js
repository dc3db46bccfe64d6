// Live updates: a small event arrives over Socket.IO; the page shows a toast and asks htmx to
// re-fetch the affected fragment over HTTP (so rendering and access checks stay on the server).
(function () {
  "use strict";
  if (typeof io === "undefined") { return; }

  var seen = {};

  function latestSeenId() {
    var bell = document.getElementById("bell");
    return bell ? parseInt(bell.getAttribute("data-latest-id") || "0", 10) : 0;
  }

  function toast(n) {
    var key = n.id ? "id:" + n.id : "t:" + n.text;
    if (seen[key]) { return; }
    seen[key] = true;
    setTimeout(function () { delete seen[key]; }, 5000);
    var box = document.createElement("div");
    box.className = "toast-item alert " + (n.priority === "high" ? "alert-danger" : "alert-info") + " shadow-sm";
    box.setAttribute("role", n.priority === "high" ? "alert" : "status");
    var text = document.createElement(n.link ? "a" : "span");
    text.textContent = n.text;
    if (n.link) { text.href = n.link; }
    box.appendChild(text);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close ms-2";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    document.getElementById("toasts").appendChild(box);
    if (n.priority !== "high") { setTimeout(function () { box.remove(); }, 8000); }
  }

  function fire(name, detail) {
    if (window.htmx) { window.htmx.trigger(document.body, name, detail || {}); }
  }

  var socket = io("/live", { transports: ["websocket", "polling"] });
  var connectedBefore = false;

  socket.on("connect", function () {
    document.body.setAttribute("data-live", "connected");
    if (connectedBefore) {
      // Catch up on what arrived while we were away.
      socket.emit("catch_up", { since: latestSeenId() }, function (reply) {
        if (reply && reply.notifications) { reply.notifications.forEach(toast); }
        fire("notifications-changed");
      });
    }
    connectedBefore = true;
    var ward = document.querySelector("[data-watch-ward]");
    if (ward) { socket.emit("watch_ward", { ward_id: ward.getAttribute("data-watch-ward") }); }
    var queue = document.querySelector("[data-watch-queue]");
    if (queue) {
      var dept = queue.getAttribute("data-watch-queue");
      socket.emit("watch_queue", { department: dept }, function (reply) {
        if (reply && reply.ok) { document.body.setAttribute("data-watching-queue", dept); }
      });
    }
  });
  socket.on("disconnect", function () { document.body.setAttribute("data-live", "disconnected"); });
  socket.on("connect_error", function () { document.body.setAttribute("data-live", "refused"); });

  socket.on("event", function (ev) {
    if (!ev || !ev.type) { return; }
    if (ev.type === "notification") { toast(ev); fire("notifications-changed"); return; }
    if (ev.type === "notifications.read") { fire("notifications-changed"); return; }
    // e.g. "bed.updated" -> htmx event "bed-updated" with the id, for hx-trigger="... from:body"
    fire(ev.type.replace(/\./g, "-"), ev);
  });
})();
