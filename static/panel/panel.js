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

  /* ---- live state ------------------------------------------------------------------
     The dashboard polls one endpoint that returns every part of the page (retraining/panel/live.py)
     and redraws each part from it; the labels come written from the server, as in the first render. */

  function stepItem(step) {
    var item = el("li", step.status);
    item.dataset.step = step.name;
    item.dataset.status = step.status;
    item.appendChild(el("span", "marker"));
    var line = el("div");
    line.appendChild(el("span", "step-name", step.name));
    line.appendChild(el("span", "step-time", step.time_label));
    item.appendChild(line);
    if (step.detail) item.appendChild(el("div", "step-detail", step.detail));
    return item;
  }

  function show(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  function setBadge(badge, status, label) {
    if (!badge) return;
    badge.className = "badge badge-" + status;
    badge.textContent = label;
    badge.hidden = false;
  }

  function drawRun(card, run) {
    card.dataset.finished = run && run.finished ? "true" : "false";
    card.querySelector("[data-no-run]").hidden = !!run;
    if (!run) return;
    card.dataset.runId = run.id;
    card.querySelector("[data-run-title]").textContent = run.title;
    var link = card.querySelector("[data-run-link]");
    link.href = run.url;
    link.textContent = "Run #" + run.id;
    link.hidden = false;
    setBadge(card.querySelector("[data-run-status]"), run.status, run.status_label);
    var list = card.querySelector("[data-steps]");
    list.replaceChildren.apply(list, run.steps.map(stepItem));
    show(card.querySelector("[data-run-error]"), run.error);
    show(card.querySelector("[data-run-outcome]"), run.outcome);
  }

  function runRow(row) {
    var tr = el("tr");
    tr.dataset.runRow = row.id;
    tr.dataset.status = row.status;
    var id = el("td"), link = el("a", null, "#" + row.id);
    link.href = row.url;
    id.appendChild(link);
    var outcome = el("td");
    outcome.appendChild(el("span", "badge badge-" + row.status, row.status_label));
    var trigger = el("td", null, row.trigger_label);
    if (row.by) {
      trigger.appendChild(document.createTextNode(" "));
      trigger.appendChild(el("span", "muted small", "by " + row.by));
    }
    var started = el("td", "nowrap", row.started_label);
    started.title = row.started;
    var duration = el("td", "num");
    if (row.finished) duration.textContent = row.duration_label;
    else duration.appendChild(el("span", "muted", row.duration_label));
    var challenger = row.challenger ? el("td", null, row.challenger) : el("td");
    if (!row.challenger) challenger.appendChild(el("span", "muted", "–"));
    var decision = el("td", "small");
    if (row.decision.kind === "rule") decision.appendChild(el("code", null, row.decision.text));
    else if (row.decision.text) decision.appendChild(el("span", "muted", row.decision.text));
    [id, outcome, trigger, started, duration, challenger, decision].forEach(function (td) { tr.appendChild(td); });
    return tr;
  }

  function drawRecent(body, rows) {
    if (!body) return;
    if (!rows.length) {
      var empty = el("td", "empty", "No runs yet.");
      empty.colSpan = 7;
      var tr = el("tr");
      tr.appendChild(empty);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren.apply(body, rows.map(runRow));
  }

  function processesText(served) {
    return served.processes
      ? served.switched + " of " + served.processes + " serving processes on it"
      : "no serving process has reported yet";
  }

  function dotClass(served) {
    return "dot" + (!served.processes ? " none" : served.all_switched ? "" : " lag");
  }

  function drawServedBar(part, served) {
    if (!part) return;
    var nodes = [];
    if (served.version) {
      var name = el("span");
      name.appendChild(el("span", "muted", "Serving"));
      name.appendChild(document.createTextNode(" "));
      name.appendChild(el("strong", null, served.model_name));
      name.appendChild(document.createTextNode(" "));
      var version = el("strong", null, "v" + served.version);
      version.setAttribute("data-served-version", "");
      name.appendChild(version);
      nodes.push(name);
      nodes.push(el("span", "muted", "since " + served.since_label + " (" + served.since_ago + " ago) · " + served.source_label));
      var processes = el("span"), dot = el("span", dotClass(served)), text = el("span", null, processesText(served));
      dot.setAttribute("data-served-dot", "");
      text.setAttribute("data-served-processes", "");
      processes.appendChild(dot);
      processes.appendChild(text);
      nodes.push(processes);
    } else {
      var none = el("span");
      none.appendChild(el("span", "dot none"));
      none.appendChild(document.createTextNode("No model is deployed yet: the first run deploys one."));
      nodes.push(none);
    }
    part.replaceChildren.apply(part, nodes);
  }

  function fact(list, term, value) {
    list.appendChild(el("dt", null, term));
    var dd = el("dd");
    (Array.isArray(value) ? value : [value]).forEach(function (node) {
      dd.appendChild(typeof node === "string" ? document.createTextNode(node) : node);
    });
    list.appendChild(dd);
    return dd;
  }

  function drawServedCard(holder, served) {
    if (!holder) return;
    if (!served.version) {
      holder.replaceChildren(el("p", "empty", "Nothing deployed yet."));
      return;
    }
    var facts = el("dl", "facts");
    fact(facts, "Model", served.model_name);
    fact(facts, "Version", [el("strong", null, "v" + served.version), " ", el("span", "badge badge-" + served.source, served.source_label)]);
    fact(facts, "Since", served.since_full);
    if (served.data) {
      var md5 = el("span", "muted small", "md5 " + served.data.md5.slice(0, 12) + "…" + (served.data.rows ? " · " + served.data.rows + " rows" : ""));
      md5.title = "md5 " + served.data.md5;
      fact(facts, "Data", [el("code", null, served.data.path), " @ ", el("code", null, served.data.rev), el("br"), md5]);
    } else {
      fact(facts, "Data", el("span", "muted", "not recorded"));
    }
    var processes = fact(facts, "Processes", served.process_list.length ? served.process_list.map(function (p) {
      var row = el("div", "small");
      row.appendChild(el("span", "dot" + (p.on_served ? "" : " lag")));
      row.appendChild(document.createTextNode(p.name + ": v" + (p.version || "–")));
      if (p.error) {
        row.appendChild(document.createTextNode(" "));
        row.appendChild(el("span", "muted", "(" + p.error + ")"));
      }
      return row;
    }) : el("span", "muted", "none reported"));
    processes.setAttribute("data-served-process-list", "");
    var nodes = [facts];
    var names = Object.keys(served.metrics);
    if (names.length) {
      nodes.push(el("h3", null, "Metrics"));
      var figures = el("div", "figures");
      figures.setAttribute("data-served-metrics", "");
      names.forEach(function (name) {
        var figure = el("div", "figure");
        figure.appendChild(el("div", "label", name));
        figure.appendChild(el("div", "value", served.metrics[name].toFixed(4)));
        figures.appendChild(figure);
      });
      nodes.push(figures);
    }
    holder.replaceChildren.apply(holder, nodes);
  }

  /* Every part of the state, by its key: a part added to the state gets its renderer here. */
  function renderers(card, chart) {
    return {
      run: function (run) { drawRun(card, run); },
      recent: function (rows) { drawRecent(document.querySelector("[data-runs]"), rows); },
      served: function (served) {
        drawServedBar(document.querySelector("[data-part=served]"), served);
        drawServedCard(document.querySelector("[data-served-card]"), served);
      },
      chart: function (state) {
        if (state.stamp === card.dataset.chartStamp) return;
        card.dataset.chartStamp = state.stamp;
        if (chart) chart.refresh(card.dataset.chartUrl);
      },
    };
  }

  function liveDashboard(card, chart) {
    var draw = renderers(card, chart);
    var fast = 1500, slow = 8000;

    /* Poll fast while something is moving: a run, a step (notify runs after the outcome), a switch. */
    function busy(state) {
      var run = state.run;
      var moving = run && (!run.finished || run.steps.some(function (s) { return s.status === "running"; }));
      return moving || (state.served.processes > 0 && !state.served.all_switched);
    }

    function poll() {
      fetch(card.dataset.live, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) return window.setTimeout(poll, slow);
          Object.keys(draw).forEach(function (key) { if (key in state) draw[key](state[key]); });
          window.setTimeout(poll, busy(state) ? fast : slow);
        })
        .catch(function () { window.setTimeout(poll, slow); });
    }

    window.setTimeout(poll, card.dataset.finished === "true" ? slow : fast);
  }

  /* A run's own page follows that run, and reloads once it finishes to show the decision. */
  function followRun(box) {
    var delay = 1500;
    function poll() {
      fetch(box.dataset.progress, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (run) {
          if (!run) return window.setTimeout(poll, delay * 4);
          var list = box.querySelector("[data-steps]");
          list.replaceChildren.apply(list, run.steps.map(stepItem));
          setBadge(box.querySelector("[data-run-status]"), run.status, run.status_label);
          if (run.finished) window.location.reload();
          else window.setTimeout(poll, delay);
        })
        .catch(function () { window.setTimeout(poll, delay * 4); });
    }
    if (box.dataset.finished !== "true") window.setTimeout(poll, delay);
  }

  document.querySelectorAll("[data-progress]").forEach(followRun);

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
  var chart = chartData
    ? metricChart(document.querySelector("[data-chart]"), document.querySelector("[data-chart-metric]"), JSON.parse(chartData.textContent))
    : null;
  document.querySelectorAll("[data-live]").forEach(function (card) { liveDashboard(card, chart); });
})();
