/* The control panel's shared behaviour: page helpers (window.Panel), a run's own page following
   its run, and the forms. The dashboard adds chart.js and live.js. */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function stepItem(step) {
    var item = el("li", step.status + (step.tone ? " " + step.tone : ""));
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

  function setBadge(badge, status, label) {
    if (!badge) return;
    badge.className = "badge badge-" + status;
    badge.textContent = label;
    badge.hidden = false;
  }

  window.Panel = { el: el, stepItem: stepItem, setBadge: setBadge };

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
          var stalled = box.querySelector("[data-run-stalled]");
          stalled.textContent = run.stalled;
          stalled.hidden = !run.stalled;
          if (run.finished) window.location.reload();
          else window.setTimeout(poll, delay);
        })
        .catch(function () { window.setTimeout(poll, delay * 4); });
    }
    if (box.dataset.finished !== "true") window.setTimeout(poll, delay);
  }

  document.querySelectorAll("[data-progress]").forEach(followRun);

  /* Cancelling or forcing a run asks first: the panel allows no inline script, so forms say what to
     ask in data-confirm ("data-confirm-if" names a checkbox that must be ticked for it to ask). This
     listener comes before data-once's, so a refused confirmation leaves the buttons enabled. */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var only = form.dataset.confirmIf && form.querySelector("[name=" + form.dataset.confirmIf + "]");
      if (only && !only.checked) return;
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    });
  });

  /* On a narrow screen the navigation folds behind one button (panel.css's narrow layout). */
  var toggle = document.querySelector("[data-nav-toggle]");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.closest(".topbar").classList.toggle("nav-open", open);
    });
  }

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
})();
