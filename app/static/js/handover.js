// Live shift handover (app/realtime/handover.py). Saves go over HTTP (htmx, with the version the
// text was based on); this script joins the session's room, applies other nurses' saves to the
// fields nobody is typing in, warns in a field someone else saved while you typed (your save will
// then show both texts: 409), shows who is editing which field, and re-fetches acceptances.
(function () {
  "use strict";
  var root = document.getElementById("handover");
  if (!root || typeof io === "undefined") { return; }
  var sessionId = parseInt(root.getAttribute("data-handover-session"), 10);
  var editors = {}; // sid -> {name, entry_id, field}

  function form(entryId, field) { return document.getElementById("hf-" + entryId + "-" + field); }
  function textarea(f) { return f ? f.querySelector("textarea[name=text]") : null; }
  function versionOf(f) { return parseInt(f.querySelector("input[name=version]").value, 10); }

  function renderPresence() {
    document.querySelectorAll(".handover-presence").forEach(function (el) { el.textContent = ""; });
    Object.keys(editors).forEach(function (sid) {
      var p = editors[sid];
      var el = document.getElementById("presence-" + p.entry_id + "-" + p.field);
      if (el) { el.textContent = (el.textContent ? el.textContent + ", " : "") + p.name + " is editing"; }
    });
  }

  // The push says only which field moved to which version (DESIGN §4); its text is fetched over
  // HTTP, where the server checks this user may still read it.
  function fetchField(f) {
    return fetch(f.getAttribute("data-url"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html.trim();
        return t.content.firstElementChild;
      });
  }

  // This page's own saves: while one is in flight its push may arrive before the response that
  // swaps in the new version, and must not read as someone else's save. Such a push waits for
  // the response; then the field holds that version (own save: nothing to do) or shows the 409.
  var saving = {};  // "entry-field" -> true while this page's save of the field is in flight
  var waiting = {}; // "entry-field" -> the newest push that arrived meanwhile
  function keyOf(f) { return f.getAttribute("data-entry") + "-" + f.getAttribute("data-field"); }
  function fieldOf(el) { return el && el.closest ? el.closest(".handover-field") : null; }
  function settled(f) {
    if (!f) { return; }
    var k = keyOf(f);
    if (!saving[k]) { return; }
    delete saving[k];
    var ev = waiting[k];
    delete waiting[k];
    if (ev) { applySave(ev); }
  }
  root.addEventListener("htmx:beforeRequest", function (e) {
    var f = fieldOf(e.target);
    if (!f || (e.detail && e.detail.requestConfig && e.detail.requestConfig.verb !== "post")) { return; }
    var k = keyOf(f);
    saving[k] = true;
    // Never wait forever (a response lost with the network): the reconnect catches up anyway.
    setTimeout(function () { settled(form(f.getAttribute("data-entry"), f.getAttribute("data-field"))); }, 15000);
  });
  // The swapped-out form may be detached when htmx reports on it, so listen on the document
  // and also take the new form's arrival (htmx:load) as the end of the save.
  document.addEventListener("htmx:afterRequest", function (e) { settled(fieldOf(e.detail && e.detail.elt)); });
  root.addEventListener("htmx:load", function (e) {
    var el = e.detail && e.detail.elt;
    settled(el && el.classList && el.classList.contains("handover-field") ? el : fieldOf(el));
  });

  function applySave(ev) {
    var f = form(ev.entry_id, ev.field);
    var box = textarea(f);
    if (!f || !box || ev.version <= versionOf(f)) { return; }
    var k = keyOf(f);
    if (saving[k]) {
      if (!waiting[k] || waiting[k].version < ev.version) { waiting[k] = ev; }
      return;
    }
    fetchField(f).then(function (fresh) {
      var current = form(ev.entry_id, ev.field);
      var box = textarea(current);
      // Judged now, not when the push came: the page may meanwhile hold that version (its own
      // save landed) or the nurse may have started or finished typing.
      if (!fresh || !current || !box || ev.version <= versionOf(current) || saving[keyOf(current)]) { return; }
      // A field showing a conflict holds the nurse's unsaved merge, even if it looks unchanged.
      var typing = box.value !== box.defaultValue || current.querySelector(".handover-conflict");
      var theirs = textarea(fresh);
      if (!typing) {
        // Not typing here: take their text and version.
        current.replaceWith(fresh);
        if (window.htmx) { window.htmx.process(fresh); }
        renderPresence();
        return;
      }
      // Typing here: keep the nurse's text and base version; the save will answer 409 with both.
      var notice = current.querySelector(".handover-live-notice");
      if (notice && theirs) {
        notice.className = "handover-live-notice alert alert-warning py-1 mt-1 mb-1 small";
        notice.textContent = (ev.by || "Someone") + " saved this while you were typing: " + theirs.value;
        notice.hidden = false;
      }
    }).catch(function () { /* no longer allowed, or offline: the reconnect catches up */ });
  }

  // After a reconnect: re-join, then fetch every field saved while the socket was down.
  function catchUp() {
    var url = root.getAttribute("data-versions-url");
    if (!url) { return; }
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (versions) {
        Object.keys(versions).forEach(function (entryId) {
          Object.keys(versions[entryId]).forEach(function (field) {
            applySave({ entry_id: parseInt(entryId, 10), field: field, version: versions[entryId][field] });
          });
        });
        document.querySelectorAll(".handover-facts, .handover-acceptance").forEach(refetch);
      })
      .catch(function () {});
  }

  function refetch(el) {
    if (el && window.htmx) {
      window.htmx.ajax("GET", el.getAttribute("data-url"), { target: "#" + el.id, swap: "outerHTML" });
    }
  }

  function banner(text) {
    var b = document.getElementById("handover-banner");
    if (!b) { return; }
    b.textContent = text + " ";
    var a = document.createElement("a");
    a.href = window.location.pathname;
    a.textContent = "Reload";
    b.appendChild(a);
    b.hidden = false;
  }

  var socket = io("/handover", { transports: ["websocket", "polling"] });
  var status = document.getElementById("handover-connection");

  var connectedBefore = false;
  socket.on("connect", function () {
    if (status) { status.textContent = "Live"; status.className = "ms-2 badge bg-success"; }
    var again = connectedBefore;
    connectedBefore = true;
    socket.emit("join", { session_id: sessionId }, function (reply) {
      if (again && reply && reply.ok) { catchUp(); }
      editors = {};
      if (reply && reply.presence) {
        reply.presence.forEach(function (p) { if (p.sid !== socket.id) { editors[p.sid] = p; } });
      }
      renderPresence();
      root.setAttribute("data-joined", reply && reply.ok ? "true" : "false");
    });
  });
  socket.on("disconnect", function () {
    if (status) { status.textContent = "Reconnecting…"; status.className = "ms-2 badge bg-warning text-dark"; }
  });

  socket.on("event", function (ev) {
    if (!ev || ev.session_id !== sessionId) { return; }
    if (ev.type === "field.saved") { applySave(ev); return; }
    if (ev.type === "presence") {
      if (ev.entry_id) { editors[ev.sid] = ev; } else { delete editors[ev.sid]; }
      renderPresence();
      return;
    }
    if (ev.type === "entry.accepted") { refetch(document.getElementById("accept-" + ev.entry_id)); return; }
    if (ev.type === "facts.refreshed") {
      document.querySelectorAll(".handover-facts").forEach(refetch);
      return;
    }
    if (ev.type === "entries.added") { banner("Newly admitted patients were added to this handover."); return; }
    if (ev.type === "session.closed") {
      banner("This handover was closed by " + ev.by + ".");
      document.querySelectorAll(".handover-field textarea").forEach(function (t) { t.readOnly = true; });
    }
  });

  // Presence: focus and blur of any SBAR field, including fields htmx has just swapped in.
  root.addEventListener("focusin", function (e) {
    var f = e.target.closest && e.target.closest(".handover-field");
    if (f && e.target.name === "text") {
      socket.emit("focus", { session_id: sessionId, entry_id: parseInt(f.getAttribute("data-entry"), 10),
                             field: f.getAttribute("data-field") });
    }
  });
  root.addEventListener("focusout", function (e) {
    if (e.target.name === "text") { socket.emit("blur", { session_id: sessionId }); }
  });
})();
