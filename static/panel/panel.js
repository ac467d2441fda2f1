/* The control panel's behaviour: live run progress by polling, and the metric chart (SVG). */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function seconds(value) {
    if (value === null || value === undefined) return "";
    if (value < 60) return value.toFixed(value < 10 ? 2 : 1) + " s";
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  /* ---- live progress ---------------------------------------------------------------- */

  function renderSteps(list, steps) {
    var items = steps.map(function (step) {
      var item = el("li", step.status);
      item.dataset.step = step.name;
      item.dataset.status = step.status;
      item.appendChild(el("span", "marker"));
      var line = el("div");
      line.appendChild(el("span", "step-name", step.name));
      line.appendChild(el("span", "step-time", step.status === "running" ? "running…" : seconds(step.duration)));
      item.appendChild(line);
      if (step.detail) item.appendChild(el("div", "step-detail", step.detail));
      return item;
    });
    list.replaceChildren.apply(list, items);
  }

  function setBadge(badge, status, label) {
    if (!badge) return;
    badge.className = "badge badge-" + status;
    badge.textContent = label;
  }

  function updateServed(served) {
    var version = document.querySelector("[data-served-version]");
    if (version && served.version !== null) version.textContent = "v" + served.version;
    var processes = document.querySelector("[data-served-processes]");
    if (processes) {
      processes.textContent = served.processes
        ? served.switched + " of " + served.processes + " serving processes on it"
        : "no serving process has reported yet";
    }
    var list = document.querySelector("[data-served-process-list]");
    if (list && served.process_list.length) {
      list.replaceChildren.apply(list, served.process_list.map(function (p) {
        var row = el("div", "small");
        row.appendChild(el("span", "dot" + (p.on_served ? "" : " lag")));
        row.appendChild(document.createTextNode(p.name + ": v" + (p.version || "–")));
        return row;
      }));
    }
    var dot = document.querySelector("[data-served-dot]");
    if (dot) dot.className = "dot" + (served.all_switched ? "" : served.processes ? " lag" : " none");
  }

  function follow(box) {
    var url = box.dataset.progress;
    var dashboard = box.dataset.mode === "live";
    var wasActive = box.dataset.active === "true";
    var delay = parseInt(box.dataset.interval || "1500", 10);

    function apply(data) {
      var run = dashboard ? data.run : data;
      if (dashboard) updateServed(data.served);
      if (!run) return;
      box.dataset.runId = run.id;
      box.dataset.finished = run.finished ? "true" : "false";
      renderSteps(box.querySelector("[data-steps]"), run.steps);
      setBadge(box.querySelector("[data-run-status]"), run.status, run.status_label);
      var link = box.querySelector("[data-run-link]");
      if (link) {
        link.href = run.url;
        link.textContent = "Run #" + run.id;
      }
      var error = box.querySelector("[data-run-error]");
      if (error) {
        error.textContent = run.error || "";
        error.hidden = !run.error;
      }
      var done = box.querySelector("[data-run-done]");
      if (done) done.hidden = !run.finished;
      if (!run.finished) wasActive = true;
      if (run.finished && wasActive && !dashboard) window.location.reload();
    }

    function next(finished) {
      var wait = finished ? (dashboard ? 8000 : 0) : delay;
      if (wait) window.setTimeout(poll, wait);
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data) apply(data);
          var run = data && (dashboard ? data.run : data);
          next(run ? run.finished : true);
        })
        .catch(function () { window.setTimeout(poll, delay * 4); });
    }

    if (box.dataset.finished !== "true" || dashboard) window.setTimeout(poll, delay);
  }

  document.querySelectorAll("[data-progress]").forEach(follow);

  /* A second click while the first POST is on its way would only be told a run is in progress. */
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button").forEach(function (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  });

  /* The schedule form: a preset shows its cron expression; typing one selects "custom". */
  var presets = document.getElementById("schedule-presets");
  if (presets) {
    var crons = JSON.parse(presets.textContent);
    var cron = document.querySelector("input[name=cron]");
    document.querySelectorAll("input[name=preset]").forEach(function (radio) {
      radio.addEventListener("change", function () { if (crons[radio.value]) cron.value = crons[radio.value]; });
    });
    cron.addEventListener("input", function () {
      var custom = document.querySelector("input[name=preset][value=custom]");
      if (custom) custom.checked = true;
    });
  }

  /* ---- metric chart ----------------------------------------------------------------- */

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function drawChart(holder, data, metric, tip) {
    holder.replaceChildren();
    var width = holder.clientWidth || 700, height = holder.clientHeight || 280;
    var pad = { left: 48, right: 16, top: 12, bottom: 28 };
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
    var values = points.map(function (p) { return p.metrics[metric]; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var span = Math.max(hi - lo, 0.02);
    lo = lo - span * 0.15; hi = hi + span * 0.15;
    if (Math.max.apply(null, values) <= 1 && Math.min.apply(null, values) >= 0) { lo = Math.max(0, lo); hi = Math.min(1, hi); }
    function x(t) { return pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right); }
    function y(v) { return pad.top + (hi - v) / (hi - lo) * (height - pad.top - pad.bottom); }

    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": metric + " over time" }, holder);
    for (var i = 0; i <= 4; i++) {
      var v = lo + (hi - lo) * i / 4;
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), "class": "grid-line" }, root);
      svg("text", { x: pad.left - 8, y: y(v) + 4, "text-anchor": "end", "class": "tick" }, root).textContent = v.toFixed(3);
    }
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

  var chartData = document.getElementById("chart-data");
  if (chartData) {
    var data = JSON.parse(chartData.textContent);
    var holder = document.querySelector("[data-chart]");
    var select = document.querySelector("[data-chart-metric]");
    var tip = el("div", "chart-tip");
    document.body.appendChild(tip);
    var render = function () { drawChart(holder, data, select.value, tip); };
    select.addEventListener("change", render);
    window.addEventListener("resize", render);
    render();
  }
})();
