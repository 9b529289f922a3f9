// The Envelopes tab's charts and live touches (story "Canonical Scoped Operating Envelope View
// and History"). Each scope card embeds its series as JSON (<script type="application/json">);
// this draws them with uPlot: envelope blocks as a shaded step band, effective capacity as a
// step line (dashed where planned), measured load as a line, and a "now" marker.
// The chart element is hx-preserve'd across the cards' htmx refresh; only its data is replaced,
// so the chart updates in place. Without this file the cards, captions and tables still work.
(function () {
  "use strict";

  var charts = new Map(); // chart element -> { plot, data, text }
  var shownAt = new WeakMap(); // "updated … ago" element -> when it appeared
  var COLORS = {
    band: "#0b5cad",
    bandFill: "rgba(11, 92, 173, 0.14)",
    capacity: "#1b2129",
    load: "#1f7a3d",
    now: "#b42318",
    axis: "#56606b",
    grid: "#eceef1",
  };
  var HEIGHT = 240;

  function kw(u, value) {
    return value == null ? "—" : value.toFixed(1) + " kW";
  }

  function readData(element) {
    var script = document.getElementById(element.dataset.chartData);
    if (!script) return null;
    var text = script.textContent;
    return { text: text, data: JSON.parse(text) };
  }

  // A step series is drawn from point to point, so a stretch ending in a gap (null) needs its
  // last value repeated at the gap's first x, or the step would stop one point short.
  function holdStepEnds(values) {
    var held = values.slice();
    for (var i = 1; i < held.length; i++) {
      if (held[i] == null && values[i - 1] != null) held[i] = values[i - 1];
    }
    return held;
  }

  function columns(d) {
    return [d.x, holdStepEnds(d.envelope), d.capacity, d.planned, d.load];
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // Axis ticks in the depot's zone, 24-hour, with the date under the first tick and at midnight.
  function timeTicks(state) {
    return function (u, splits) {
      return splits.map(function (ts, i) {
        var d = uPlot.tzDate(new Date(ts * 1e3), state.data.timezone);
        var time = pad(d.getHours()) + ":" + pad(d.getMinutes());
        var midnight = d.getHours() === 0 && d.getMinutes() === 0;
        return i === 0 || midnight ? time + "\n" + d.getDate() + " " + MONTHS[d.getMonth()] : time;
      });
    };
  }

  function timeValue(state) {
    return function (u, ts) {
      if (ts == null) return "—";
      var d = uPlot.tzDate(new Date(ts * 1e3), state.data.timezone);
      return d.getDate() + " " + MONTHS[d.getMonth()] + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    };
  }

  function drawNow(u) {
    var state = u.depotgrid;
    if (!state) return;
    var x = Math.round(u.valToPos(state.data.now, "x", true));
    var top = u.bbox.top;
    var ctx = u.ctx;
    var ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = COLORS.now;
    ctx.lineWidth = 1.5 * ratio;
    ctx.setLineDash([4 * ratio, 3 * ratio]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + u.bbox.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = COLORS.now;
    ctx.font = "600 " + 11 * ratio + "px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText("now", x + 4 * ratio, top + 2 * ratio);
    ctx.restore();
  }

  function options(element, state) {
    var stepped = uPlot.paths.stepped;
    return {
      width: Math.max(element.clientWidth, 280),
      height: HEIGHT,
      tzDate: function (ts) {
        return uPlot.tzDate(new Date(ts * 1e3), state.data.timezone);
      },
      scales: {
        x: {
          time: true,
          range: function () {
            return [state.data.start, state.data.end];
          },
        },
        y: {
          range: function (u, min, max) {
            return [0, Math.max(10, (max || 0) * 1.15)];
          },
        },
      },
      axes: [
        {
          stroke: COLORS.axis,
          grid: { stroke: COLORS.grid },
          ticks: { stroke: COLORS.grid },
          values: timeTicks(state),
          size: 44,
        },
        {
          stroke: COLORS.axis,
          grid: { stroke: COLORS.grid },
          ticks: { stroke: COLORS.grid },
          size: 56,
          label: "kW",
          labelSize: 18,
          values: function (u, values) {
            return values.map(function (v) {
              return v.toFixed(0);
            });
          },
        },
      ],
      series: [
        { label: "Time", value: timeValue(state) },
        {
          label: "Envelope limit",
          stroke: COLORS.band,
          fill: COLORS.bandFill,
          width: 1.5,
          paths: stepped({ align: 1 }),
          points: { show: false },
          value: kw,
        },
        {
          label: "Effective capacity",
          stroke: COLORS.capacity,
          width: 2,
          paths: stepped({ align: 1 }),
          points: { show: false },
          value: kw,
        },
        {
          label: "Planned capacity",
          stroke: COLORS.capacity,
          dash: [6, 4],
          width: 2,
          paths: stepped({ align: 1 }),
          points: { show: false },
          value: kw,
        },
        {
          label: "Measured load",
          stroke: COLORS.load,
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          value: kw,
        },
      ],
      hooks: { draw: [drawNow] },
    };
  }

  function create(element) {
    var read = readData(element);
    if (!read || typeof uPlot === "undefined") return;
    var state = { data: read.data, text: read.text, plot: null };
    element.textContent = "";
    state.plot = new uPlot(options(element, state), columns(read.data), element);
    state.plot.depotgrid = state;
    charts.set(element, state);
  }

  function update(element, state) {
    var read = readData(element);
    if (!read || read.text === state.text) return;
    state.data = read.data;
    state.text = read.text;
    state.plot.setData(columns(read.data));
  }

  function syncCharts() {
    charts.forEach(function (state, element) {
      if (!element.isConnected) {
        state.plot.destroy();
        charts.delete(element);
      }
    });
    document.querySelectorAll(".env-chart[data-chart-data]").forEach(function (element) {
      var state = charts.get(element);
      if (state) update(element, state);
      else create(element);
    });
  }

  function resize() {
    charts.forEach(function (state, element) {
      var width = Math.max(element.clientWidth, 280);
      if (width !== state.plot.width) state.plot.setSize({ width: width, height: HEIGHT });
    });
  }

  // "updated 3 s ago", counted from when the refreshed cards arrived (immune to clock skew).
  function tickAges() {
    var now = performance.now();
    document.querySelectorAll("[data-age-since]").forEach(function (element) {
      if (!shownAt.has(element)) shownAt.set(element, now);
      var seconds = Math.floor((now - shownAt.get(element)) / 1000);
      element.textContent = seconds < 60 ? seconds + " s ago" : Math.floor(seconds / 60) + " min ago";
    });
  }

  // Keep open <details> (chart tables) open across a refresh of the cards.
  var openBeforeSwap = [];
  document.addEventListener("htmx:beforeSwap", function () {
    openBeforeSwap = Array.prototype.map.call(
      document.querySelectorAll("#envelope-live details[open][id]"),
      function (details) {
        return details.id;
      }
    );
  });
  document.addEventListener("htmx:afterSettle", function () {
    openBeforeSwap.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    syncCharts();
    tickAges();
  });

  // A link to #envelope-<id> opens that history row.
  function openTarget() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openTarget);

  document.addEventListener("DOMContentLoaded", function () {
    syncCharts();
    openTarget();
    tickAges();
    setInterval(tickAges, 1000);
    if (typeof ResizeObserver !== "undefined") {
      var observer = new ResizeObserver(resize);
      var live = document.querySelector("main");
      if (live) observer.observe(live);
    } else {
      window.addEventListener("resize", resize);
    }
  });
})();
