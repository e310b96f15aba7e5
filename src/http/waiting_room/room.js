// The waiting room, live: follows the entry's stream, shows its state, and takes the buyer to the
// shop with the pass when admitted. Without JavaScript the page refreshes itself instead.
"use strict";

(function () {
  var room = document.getElementById("room");
  if (!room) return;
  var sections = room.querySelectorAll("section[data-state]");
  var status = document.getElementById("status");

  // the sale's opening in the reader's own time zone
  room.querySelectorAll("time.local-time").forEach(function (t) {
    var at = new Date(t.getAttribute("datetime"));
    if (!isNaN(at)) t.textContent = at.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
  });

  if (!window.EventSource) return;

  function show(state) {
    sections.forEach(function (s) { s.hidden = s.getAttribute("data-state") !== state; });
  }

  function waitText(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return "less than a minute";
    var minutes = Math.round(seconds / 60);
    return minutes === 1 ? "about a minute" : "about " + minutes + " minutes";
  }

  function toShop(pass) {
    var back = room.getAttribute("data-return");
    var go = room.querySelector("section[data-state=admitted] .go");
    if (!back) {
      go.textContent = "Go back to the shop and reserve with your pass: " + pass;
      return false;
    }
    var url = new URL(back);
    url.searchParams.set("queue_pass", pass);
    url.searchParams.set("entry", room.getAttribute("data-entry"));
    go.textContent = "Taking you to the shop\u2026";
    window.location.assign(url.toString());
    return true;
  }

  var source = new EventSource(room.getAttribute("data-stream"));
  source.addEventListener("open", function () { status.textContent = "This page updates by itself."; });
  source.addEventListener("error", function () { status.textContent = "Connection lost: reconnecting\u2026"; });
  source.addEventListener("entry", function (event) {
    var entry = JSON.parse(event.data);
    show(entry.state);
    room.querySelectorAll(".position").forEach(function (p) {
      p.textContent = entry.position == null ? "" : String(entry.position);
    });
    room.querySelectorAll(".wait").forEach(function (w) { w.textContent = waitText(entry.estimated_wait_seconds); });
    if (entry.state === "admitted" && entry.pass && toShop(entry.pass)) source.close();
  });
})();
