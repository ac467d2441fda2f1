/* The panel's charts (SVG, no library): the dashboard's metric chart, drawn from its data and fetched
   again when the live state says it changed, and the Monitoring page's drift and volume charts. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var el = window.Panel.el;

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* The y axis from the data: ticks on a 1-2-5 step, as many decimals as the step needs (so no two
     labels read the same), never narrower than 0.01 so a flat series still sits on labelled values,
     and kept inside [0, 1] when every value is a score. `fromZero` starts it at 0 (PSI, counts);
     `integer` keeps whole steps (counts). */
  function yAxis(values, opts) {
    opts = opts || {};
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var bounded = !opts.integer && lo >= 0 && hi <= 1;
    var minSpan = opts.integer ? 4 : Math.max(0.01, Math.abs(hi) * 0.01);
    if (hi - lo < minSpan) {
      var middle = (lo + hi) / 2;
      lo = middle - minSpan / 2; hi = middle + minSpan / 2;
    } else {
      var margin = (hi - lo) * 0.1;
      lo -= margin; hi += margin;
    }
    if (bounded) {
      if (hi > 1) { lo -= hi - 1; hi = 1; }
      if (lo < 0) { hi = Math.min(1, hi - lo); lo = 0; }
    }
    if (opts.fromZero) lo = 0;
    var raw = (hi - lo) / 4;
    if (opts.integer) raw = Math.max(raw, 1);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return s >= raw * 0.999; })[0];
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    var first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
    var ticks = [];
    for (var k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)));
    return { lo: ticks[0], hi: ticks[ticks.length - 1], ticks: ticks, decimals: decimals };
  }

  /* What every chart draws on: the y grid with its labels and the time axis with five labels.
     Returns the SVG and the scales. */
  function timeFrame(holder, t0, t1, values, opts) {
    var width = holder.clientWidth || 700, height = holder.clientHeight || 280;
    var pad = { left: 56, right: 16, top: 12, bottom: 28 };
    var axis = yAxis(values, opts);
    var lo = axis.lo, hi = axis.hi;
    function x(t) { return pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right); }
    function y(v) { return pad.top + (hi - v) / (hi - lo) * (height - pad.top - pad.bottom); }

    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": opts.label }, holder);
    axis.ticks.forEach(function (v) {
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), "class": "grid-line" }, root);
      svg("text", { x: pad.left - 8, y: y(v) + 4, "text-anchor": "end", "class": "tick y-tick" }, root).textContent = v.toFixed(axis.decimals);
    });
    svg("line", { x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom, "class": "axis" }, root);
    var spanMs = t1 - t0;
    var format = spanMs < 30 * 60000 ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
      : spanMs < 2 * 86400000 ? { hour: "2-digit", minute: "2-digit", hour12: false }
      : { month: "short", day: "numeric" };
    for (var j = 0; j <= 4; j++) {
      var t = t0 + (t1 - t0) * j / 4;
      var label = format.month ? new Date(t).toLocaleDateString([], format) : new Date(t).toLocaleTimeString([], format);
      svg("text", { x: x(t), y: height - 8, "text-anchor": j === 0 ? "start" : j === 4 ? "end" : "middle", "class": "tick" }, root).textContent = label;
    }
    return { root: root, x: x, y: y, right: width - pad.right };
  }

  function hover(tip, node, text) {
    node.addEventListener("mouseenter", function (event) {
      tip.textContent = text; tip.style.display = "block";
      tip.style.left = event.clientX + 12 + "px"; tip.style.top = event.clientY + 12 + "px";
    });
    node.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }

  function timeSpan(times, now) {
    var t0 = Math.min.apply(null, times), t1 = Math.max(now || 0, Math.max.apply(null, times));
    return [t1 - t0 < 60000 ? t1 - 60000 : t0, t1];
  }

  function figure(metrics, metric) {
    return typeof metrics[metric] === "number" ? metrics[metric].toFixed(4) : "–";
  }

  /* A challenger's tooltip gives its run's decision in the decision's own figures: both models on
     the same holdout rows, and the rule that decided. */
  function decisionTip(c, metric) {
    var said = "run #" + c.run + ": challenger v" + c.version + " " + metric + " " + figure(c.metrics, metric);
    if (c.champion_version) {
      said += " vs champion v" + c.champion_version + " " + figure(c.champion_metrics, metric);
      if (c.rows) said += " on the same " + c.rows.toLocaleString() + " holdout rows";
    }
    if (c.outcome === "pending") return said + " (the run has not decided yet)";
    var decision = c.decision ? ": " + c.decision.charAt(0).toLowerCase() + c.decision.slice(1) : "";
    return said + " (" + c.status + decision + ")";
  }

  function drawChart(holder, data, metric, tip) {
    holder.replaceChildren();
    var champions = (data.champion || data.deployments).filter(function (d) { return typeof d.metrics[metric] === "number"; });
    var challengers = data.challengers.filter(function (c) { return typeof c.metrics[metric] === "number"; });
    var points = champions.concat(challengers);
    if (!points.length) {
      holder.appendChild(el("p", "empty", "No " + metric + " recorded yet: it appears after the first training run."));
      return;
    }
    var span = timeSpan(points.map(function (p) { return Date.parse(p.t); }), Date.now());
    var values = points.map(function (p) { return p.metrics[metric]; });
    var lower = (data.lower_is_better || []).indexOf(metric) >= 0;
    var frame = timeFrame(holder, span[0], span[1], values, { label: metric + " over time" + (lower ? ", lower is better" : "") });
    var root = frame.root, x = frame.x, y = frame.y;
    if (lower) {
      // An error: the better model sits lower on the axis, the reverse of accuracy's chart.
      svg("text", { x: frame.right - 4, y: 14, "text-anchor": "end", "class": "tick axis-direction" }, root).textContent = "lower is better";
    }

    challengers.forEach(function (c) {
      // No outcome colour until the run has decided: a run still comparing is neither kept nor deployed.
      var kind = c.outcome === "pending" ? "pending" : c.status === "deployed" ? "deployed" : c.status === "kept" ? "kept" : "other";
      var link = svg("a", { href: c.url }, root);
      var dot = svg("circle", { cx: x(Date.parse(c.t)), cy: y(c.metrics[metric]), r: 6, "class": "challenger-point " + kind, "data-run": c.run }, link);
      hover(tip, dot, decisionTip(c, metric));
    });
    if (champions.length) {
      var path = "";
      champions.forEach(function (d, k) {
        var px = x(Date.parse(d.t)), py = y(d.metrics[metric]);
        path += (k === 0 ? "M" : "H" + px + "V") + (k === 0 ? px + " " + py : py);
      });
      path += "H" + x(span[1]);
      svg("path", { d: path, "class": "champion-line" }, root);
      champions.forEach(function (d) {
        var judged = d.run !== null && d.run !== undefined;
        var dot = svg("circle", { cx: x(Date.parse(d.t)), cy: y(d.metrics[metric]), r: 3.5, "class": "champion-point" + (judged ? " judged" : "") }, root);
        hover(tip, dot, "champion v" + d.version + " (" + (judged ? d.source : d.source + ", on its own holdout") + "): " + metric + " " + d.metrics[metric].toFixed(4));
      });
    }
  }

  var SERIES_COLOURS = 10;

  function legendItem(label, k) {
    return el("span", "l-series series-" + (k % SERIES_COLOURS), label);
  }

  /* Per-feature PSI of every drift check (oldest first), the threshold as a dashed line; a point
     where the feature was called drifted is drawn larger. A check over fewer rows than the
     minimum has no verdict: it is a hollow marker on the axis, not a PSI. Each served version's
     checks are a segment of their own, a new version marked where it starts. */
  function drawDrift(holder, legend, data, tip) {
    holder.replaceChildren();
    var checks = data.checks, times = checks.map(function (c) { return Date.parse(c.checked_at); });
    var span = timeSpan(times);
    var values = [data.threshold];
    checks.forEach(function (c) {
      if (!c.counted) return;
      Object.keys(c.psi).forEach(function (name) { if (typeof c.psi[name] === "number") values.push(c.psi[name]); });
    });
    var frame = timeFrame(holder, span[0], span[1], values, { fromZero: true, label: "PSI per feature over time" });
    var root = frame.root, x = frame.x, y = frame.y;
    svg("line", { x1: x(span[0]), x2: frame.right, y1: y(data.threshold), y2: y(data.threshold), "class": "threshold-line" }, root);
    svg("text", { x: frame.right - 4, y: y(data.threshold) - 5, "text-anchor": "end", "class": "tick threshold-label" }, root)
      .textContent = "threshold " + data.threshold;
    checks.forEach(function (c, i) {
      if (!c.new_version || i === 0) return;
      svg("line", { x1: x(times[i]), x2: x(times[i]), y1: y(0), y2: 12, "class": "version-mark", "data-version": c.version }, root);
      svg("text", { x: x(times[i]) + 4, y: 22, "class": "tick version-label" }, root).textContent = "v" + c.version;
    });
    data.series.forEach(function (series, k) {
      var colour = "series-" + (k % SERIES_COLOURS);
      var points = checks.map(function (c, i) { return { c: c, t: times[i], v: c.psi[series.key] }; })
        .filter(function (p) { return p.c.counted && typeof p.v === "number"; });
      var segments = [];
      points.forEach(function (p) {
        var last = segments[segments.length - 1];
        if (last && last[0].c.version === p.c.version) last.push(p); else segments.push([p]);
      });
      segments.forEach(function (segment) {
        if (segment.length < 2) return;
        var path = segment.map(function (p, i) { return (i ? "L" : "M") + x(p.t) + " " + y(p.v); }).join("");
        svg("path", { d: path, "class": "series-line " + colour, "data-series": series.key, "data-version": segment[0].c.version }, root);
      });
      points.forEach(function (p) {
        var drifted = p.c.drifted.indexOf(series.key) >= 0;
        var dot = svg("circle", { cx: x(p.t), cy: y(p.v), r: drifted ? 4.5 : 2.5, "class": "series-point " + colour + (drifted ? " drifted" : "") }, root);
        hover(tip, dot, series.label + ": PSI " + p.v.toFixed(3) + (drifted ? ", drifted" : "") + " (v" + p.c.version + ", " + p.c.rows_label + ", " + new Date(p.t).toLocaleString() + ")");
      });
    });
    checks.forEach(function (c, i) {
      if (c.counted) return;
      var dot = svg("circle", { cx: x(times[i]), cy: y(0), r: 4, "class": "too-few-point" }, root);
      hover(tip, dot, "v" + c.version + ", " + c.rows_label + ": " + c.verdict + " (fewer than " + data.min_rows + " rows), no PSI drawn (" + new Date(times[i]).toLocaleString() + ")");
    });
    legend.replaceChildren.apply(legend, data.series.map(function (series, k) { return legendItem(series.label, k); }));
  }

  /* Logged predictions per hour over the last day, stacked by version. */
  function drawVolume(holder, legend, data, tip) {
    holder.replaceChildren();
    var hour = 3600000, starts = data.hours.map(Date.parse);
    var versions = Object.keys(data.versions).sort(function (a, b) { return Number(b) - Number(a); });
    var totals = starts.map(function (_, i) {
      return versions.reduce(function (sum, v) { return sum + data.versions[v][i]; }, 0);
    });
    var last = starts[starts.length - 1] + hour;
    var frame = timeFrame(holder, starts[0], last, totals.concat([0]), { fromZero: true, integer: true, label: "predictions per hour" });
    starts.forEach(function (start, i) {
      var left = frame.x(start) + 1, width = Math.max(1, frame.x(start + hour) - frame.x(start) - 2), base = 0;
      versions.forEach(function (v, k) {
        var n = data.versions[v][i];
        if (!n) return;
        var top = frame.y(base + n);
        svg("rect", { x: left, y: top, width: width, height: frame.y(base) - top, "class": "bar series-" + (k % SERIES_COLOURS), "data-hour": data.hours[i] }, frame.root);
        base += n;
      });
      if (!totals[i]) return;
      var zone = svg("rect", { x: left, y: frame.y(totals[i]), width: width, height: frame.y(0) - frame.y(totals[i]), "class": "bar-hover" }, frame.root);
      var parts = versions.filter(function (v) { return data.versions[v][i]; }).map(function (v) { return "v" + v + " " + data.versions[v][i]; });
      hover(tip, zone, new Date(start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false }) + ": " + totals[i] + " predictions (" + parts.join(", ") + ")");
    });
    legend.replaceChildren.apply(legend, versions.map(function (v, k) { return legendItem("v" + v, k); }));
  }

  function chartTip() {
    var tip = el("div", "chart-tip");
    document.body.appendChild(tip);
    return tip;
  }

  /* A chart drawn once from the data the page carries, and again when the window is resized. */
  function staticChart(dataId, draw, holder, legend) {
    var source = document.getElementById(dataId);
    if (!source || !holder) return;
    var data = JSON.parse(source.textContent), tip = chartTip();
    function render() { draw(holder, legend, data, tip); }
    window.addEventListener("resize", render);
    render();
  }

  /* The chart draws from its data, which the live state asks it to fetch again when it changes. */
  function metricChart(holder, select, data) {
    var tip = chartTip();
    function render() { drawChart(holder, data, select.value, tip); }
    function setData(fresh) {
      data = fresh;
      var chosen = select.value;
      select.replaceChildren.apply(select, data.metrics.map(function (name) {
        var option = el("option", null, name);
        option.value = name;
        option.selected = name === chosen;
        return option;
      }));
      render();
    }
    select.addEventListener("change", render);
    window.addEventListener("resize", render);
    render();
    return {
      refresh: function (url) {
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (fresh) { if (fresh) setData(fresh); });
      },
    };
  }

  var chartData = document.getElementById("chart-data");
  if (chartData) {
    window.Panel.chart = metricChart(
      document.querySelector("[data-chart]"), document.querySelector("[data-chart-metric]"), JSON.parse(chartData.textContent)
    );
  }
  staticChart("drift-data", drawDrift, document.querySelector("[data-drift-chart]"), document.querySelector("[data-drift-legend]"));
  staticChart("volume-data", drawVolume, document.querySelector("[data-volume-chart]"), document.querySelector("[data-volume-legend]"));
})();
