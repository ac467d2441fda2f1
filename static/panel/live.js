/* The dashboard's live state: one endpoint returns every part of the page (retraining/panel/live.py)
   and each part is redrawn from it; the labels come written from the server, as in the first render. */
(function () {
  "use strict";

  var el = window.Panel.el, stepItem = window.Panel.stepItem, setBadge = window.Panel.setBadge;

  function show(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
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
    show(card.querySelector("[data-run-stalled]"), run.stalled);
    show(card.querySelector("[data-run-outcome]"), run.outcome);
  }

  /* "Started run #N" is news only while run N goes on: gone once it ended or another run is shown. */
  function dropStartedMessage(run) {
    document.querySelectorAll(".messages .run-started").forEach(function (item) {
      var link = item.querySelector("a");
      if (run && !run.finished && link && link.getAttribute("href") === run.url) return;
      var list = item.parentNode;
      item.remove();
      if (!list.children.length) list.remove();
    });
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
    if (row.decision.kind === "rule") decision.appendChild(el("span", null, row.decision.text)).dataset.decision = "";
    else if (row.decision.kind === "stalled") decision.appendChild(el("span", "stalled", row.decision.text));
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

  function drawWorkers(part, workers) {
    if (!part) return;
    var holder = el("span", "workers workers-" + workers.state), dot = el("span", "dot" + (workers.state === "alive" ? "" : " down")), text = el("span");
    holder.title = workers.title;
    dot.setAttribute("data-workers-dot", "");
    text.setAttribute("data-workers-text", "");
    workers.parts.forEach(function (piece) {
      if (!piece.url) return text.appendChild(document.createTextNode(piece.text));
      var link = el("a", null, piece.text);
      link.href = piece.url;
      text.appendChild(link);
    });
    holder.appendChild(dot);
    holder.appendChild(text);
    part.replaceChildren(holder);
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

  /* The drift and quality badges, each a link to the Monitoring page. */
  function drawMonitoring(holder, monitoring) {
    if (!holder) return;
    holder.replaceChildren.apply(holder, [["drift", "data-drift-badge"], ["quality", "data-quality-badge"]].map(function (part) {
      var badge = monitoring[part[0]], link = el("a", "mbadge mbadge-" + badge.kind, badge.text);
      link.href = monitoring.url;
      link.title = badge.title;
      link.setAttribute(part[1], "");
      return link;
    }));
  }

  /* Every part of the state, by its key: a part added to the state gets its renderer here. */
  function renderers(card, chart) {
    return {
      run: function (run) {
        drawRun(card, run);
        dropStartedMessage(run);
      },
      recent: function (rows) { drawRecent(document.querySelector("[data-runs]"), rows); },
      served: function (served) {
        drawServedBar(document.querySelector("[data-part=served]"), served);
        drawServedCard(document.querySelector("[data-served-card]"), served);
      },
      workers: function (workers) { drawWorkers(document.querySelector("[data-part=workers]"), workers); },
      monitoring: function (monitoring) { drawMonitoring(document.querySelector("[data-monitoring]"), monitoring); },
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

  document.querySelectorAll("[data-live]").forEach(function (card) { liveDashboard(card, window.Panel.chart); });
})();
