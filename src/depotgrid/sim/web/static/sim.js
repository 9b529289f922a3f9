// The simulator UI's live touches; every page works without this file.
// - Live regions are swapped in place by htmx polling; <details> the reader opened (ledger
//   entries, block tables) stay open across the swap, and "Updated … ago" counts up.
// - The last forecast's blocks are drawn as a uPlot step chart with a "now" marker.
// - After a refused form, focus moves to the first field (or message) that needs attention.
(function () {
  "use strict";

  var opened = new Set(); // ids of <details> the reader opened
  var shownAt = new WeakMap(); // "Updated … ago" element -> when it appeared
  var chart = null;
  var chartText = null;

  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (!(details instanceof HTMLDetailsElement) || !details.id) return;
      if (details.open) opened.add(details.id);
      else opened.delete(details.id);
    },
    true
  );

  function reopen() {
    opened.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && !details.open) details.open = true;
    });
  }

  function tickAges() {
    var now = performance.now();
    document.querySelectorAll("[data-age-since]").forEach(function (element) {
      if (!shownAt.has(element)) shownAt.set(element, now);
      var seconds = Math.floor((now - shownAt.get(element)) / 1000);
      element.textContent = seconds < 60 ? seconds + " s ago" : Math.floor(seconds / 60) + " min ago";
    });
  }

  // A link to #entry-<id> opens that ledger entry.
  function openTarget(id) {
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      opened.add(id);
    }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open-entry]");
    if (link) openTarget(link.dataset.openEntry);
  });
  window.addEventListener("hashchange", function () {
    openTarget(location.hash.slice(1));
  });

  function drawNow(u) {
    var now = u.depotgridNow;
    if (now == null) return;
    var x = Math.round(u.valToPos(now, "x", true));
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
    var ctx = u.ctx;
    var ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = "#b42318";
    ctx.lineWidth = 1.5 * ratio;
    ctx.setLineDash([4 * ratio, 3 * ratio]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = "#b42318";
    ctx.font = "600 " + 11 * ratio + "px system-ui, sans-serif";
    ctx.fillText("now", x + 4 * ratio, u.bbox.top + 12 * ratio);
    ctx.restore();
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // 24-hour UTC, as every sim page shows times.
  function hhmm(ts) {
    var d = new Date(ts * 1e3);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function chartOptions(element, data) {
    return {
      width: Math.max(element.clientWidth, 260),
      height: 200,
      scales: {
        y: {
          range: function (u, min, max) {
            return [0, Math.max(1, (max || 0) * 1.15)];
          },
        },
      },
      axes: [
        {
          values: function (u, splits) {
            return splits.map(hhmm);
          },
        },
        { label: data.unit, labelSize: 16, size: 52 },
      ],
      series: [
        {
          label: "Time (UTC)",
          value: function (u, ts) {
            return ts == null ? "—" : hhmm(ts);
          },
        },
        {
          label: "Capacity (" + data.unit + ")",
          stroke: "#0b5cad",
          fill: "rgba(11, 92, 173, 0.14)",
          width: 2,
          paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false },
        },
      ],
      hooks: { draw: [drawNow] },
    };
  }

  // Draw the chart from the JSON the live region carries: update it in place when only the
  // data moved (the "now" marker moves on every refresh), build it anew when the unit changed.
  function syncChart() {
    var element = document.getElementById("forecast-chart");
    var source = element && document.getElementById(element.dataset.source);
    if (!source || typeof uPlot === "undefined") return;
    var text = source.textContent;
    if (text === chartText) return;
    chartText = text;
    var data = JSON.parse(text);
    if (chart && (!data || chart.depotgridUnit !== data.unit)) {
      chart.destroy();
      chart = null;
    }
    element.hidden = !data;
    if (!data) return;
    if (chart) {
      chart.depotgridNow = data.now;
      chart.setData([data.x, data.y]);
      return;
    }
    chart = new uPlot(chartOptions(element, data), [data.x, data.y], element);
    chart.depotgridNow = data.now;
    chart.depotgridUnit = data.unit;
  }

  function focusProblem() {
    var target = document.querySelector("form [aria-invalid='true'], .form-alert[tabindex], .page-alert");
    if (target) target.focus();
  }

  function afterRefresh() {
    reopen();
    tickAges();
    syncChart();
  }
  document.addEventListener("htmx:afterSettle", afterRefresh);
  document.addEventListener("htmx:oobAfterSwap", afterRefresh);

  document.addEventListener("DOMContentLoaded", function () {
    openTarget(location.hash.slice(1));
    tickAges();
    setInterval(tickAges, 1000);
    syncChart();
    focusProblem();
    window.addEventListener("resize", function () {
      var element = document.getElementById("forecast-chart");
      if (chart && element) chart.setSize({ width: Math.max(element.clientWidth, 260), height: 200 });
    });
  });
})();
