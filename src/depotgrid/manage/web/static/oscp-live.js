// The live parts of the OSCP pages (htmx polling swaps them in): "updated N s ago" counted
// from when each part arrived (immune to clock skew), and a visible note when a refresh fails,
// while the last good data stays on the page. The pages work without this file.
(function () {
  "use strict";

  var shownAt = new WeakMap();

  function tick() {
    var now = performance.now();
    document.querySelectorAll("[data-live-age]").forEach(function (element) {
      if (!shownAt.has(element)) shownAt.set(element, now);
      var seconds = Math.floor((now - shownAt.get(element)) / 1000);
      element.textContent =
        seconds < 60 ? seconds + " s ago" : Math.floor(seconds / 60) + " min ago";
    });
  }

  function showFailure(event) {
    var part = event.detail && event.detail.elt;
    var note = part && part.querySelector ? part.querySelector("[data-live-failed]") : null;
    if (note) note.hidden = false;
  }

  document.addEventListener("htmx:sendError", showFailure);
  document.addEventListener("htmx:responseError", showFailure);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("DOMContentLoaded", tick);
  setInterval(tick, 1000);
})();
