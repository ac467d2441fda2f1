/* The metric chart (SVG): drawn from its data, fetched again when the live state says it changed. */
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
     and kept inside [0, 1] when every value is a score. */
  function yAxis(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var bounded = lo >= 0 && hi <= 1;
    var minSpan = Math.max(0.01, Math.abs(hi) * 0.01);
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
    var raw = (hi - lo) / 4, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return s >= raw * 0.999; })[0];
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    var first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
    var ticks = [];
    for (var k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)));
    return { lo: ticks[0], hi: ticks[ticks.length - 1], ticks: ticks, decimals: decimals };
  }

  function drawChart(holder, data, metric, tip) {
    holder.replaceChildren();
    var width = holder.clientWidth || 700, height = holder.clientHeight || 280;
    var pad = { left: 56, right: 16, top: 12, bottom: 28 };
    var champions = data.deployments.filter(function (d) { return typeof d.metrics[metric] === "number"; });
    var challengers = data.challengers.filter(function (c) { return typeof c.metrics[metric] === "number"; });
    var points = champions.concat(challengers);
    if (!points.length) {
      holder.appendChild(el("p", "empty", "No " + metric + " recorded yet: it appears after the first training run."));
      return;
    }
    var times = points.map(function (p) { return Date.parse(p.t); });
    var now = Date.now();
    var t0 = Math.min.apply(null, times), t1 = Math.max(now, Math.max.apply(null, times));
    if (t1 - t0 < 60000) t0 = t1 - 60000;
    var axis = yAxis(points.map(function (p) { return p.metrics[metric]; }));
    var lo = axis.lo, hi = axis.hi;
    function x(t) { return pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right); }
    function y(v) { return pad.top + (hi - v) / (hi - lo) * (height - pad.top - pad.bottom); }

    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": metric + " over time" }, holder);
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

    function hover(node, text) {
      node.addEventListener("mouseenter", function (event) {
        tip.textContent = text; tip.style.display = "block";
        tip.style.left = event.clientX + 12 + "px"; tip.style.top = event.clientY + 12 + "px";
      });
      node.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    }

    challengers.forEach(function (c) {
      var kind = c.status === "deployed" ? "deployed" : c.status === "kept" ? "kept" : "other";
      var link = svg("a", { href: c.url }, root);
      var dot = svg("circle", { cx: x(Date.parse(c.t)), cy: y(c.metrics[metric]), r: 6, "class": "challenger-point " + kind }, link);
      hover(dot, "run #" + c.run + " challenger v" + c.version + " (" + c.status + "): " + metric + " " + c.metrics[metric].toFixed(4));
    });
    if (champions.length) {
      var path = "";
      champions.forEach(function (d, k) {
        var px = x(Date.parse(d.t)), py = y(d.metrics[metric]);
        path += (k === 0 ? "M" : "H" + px + "V") + (k === 0 ? px + " " + py : py);
      });
      path += "H" + x(t1);
      svg("path", { d: path, "class": "champion-line" }, root);
      champions.forEach(function (d) {
        var dot = svg("circle", { cx: x(Date.parse(d.t)), cy: y(d.metrics[metric]), r: 3.5, "class": "champion-point" }, root);
        hover(dot, "champion v" + d.version + " (" + d.source + "): " + metric + " " + d.metrics[metric].toFixed(4));
      });
    }
  }

  /* The chart draws from its data, which the live state asks it to fetch again when it changes. */
  function metricChart(holder, select, data) {
    var tip = el("div", "chart-tip");
    document.body.appendChild(tip);
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
})();
