/* django-housekeeping staff dashboard: renders the JSON of the dashboard's own views, refreshes
 * it every 30 seconds, starts runs and follows them without reloading the page. No library, no
 * network access beyond this site. Everything shown is set as text, never parsed as HTML. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("hk-config").textContent);
  var state = {
    data: JSON.parse(document.getElementById("hk-data").textContent),
    days: config.days,
    followed: {}, // run id -> true while the page follows it
    busy: {}, // task name -> true while a button of it works
    unfolded: {} // "models-runs-<run id>" and the like (a fold of a run's result) -> its open state, kept over refreshes
  };
  var FOLLOW_MS = 1000;
  var SVG = "http://www.w3.org/2000/svg";

  // -- small helpers ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "onclick") node.addEventListener("click", value);
      else node.setAttribute(name, value === true ? "" : String(value));
    });
  }

  // Children: a node, a string, null/false (nothing), or a list of any of these, nested.
  function append(node, children) {
    if (children === null || children === undefined || children === false) return;
    if (Array.isArray(children)) {
      children.forEach(function (child) { append(node, child); });
      return;
    }
    node.appendChild(typeof children === "string" ? document.createTextNode(children) : children);
  }

  function replace(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    append(node, children);
  }

  function $(id) {
    return document.getElementById(id);
  }

  function humanize(key) {
    var text = String(key).replace(/_/g, " ").replace(/\b24h\b/, "(24 h)");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function formatNumber(value) {
    return typeof value === "number" ? value.toLocaleString() : String(value);
  }

  function formatTime(iso) {
    if (!iso) return "—";
    var date = new Date(iso);
    return date.toLocaleString(undefined, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
    });
  }

  function formatAge(seconds) {
    var s = Math.max(Math.round(seconds), 0);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function relative(iso) {
    if (!iso) return "";
    var seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    return seconds >= 0 ? "in " + formatAge(seconds) : formatAge(-seconds) + " ago";
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    return seconds < 10 ? seconds.toFixed(2) + " s" : formatAge(seconds);
  }

  function badge(status, label) {
    return el("span", { "class": "hk-badge hk-" + status, text: label || status });
  }

  function showError(message) {
    var node = $("hk-error");
    node.textContent = message || "";
    node.hidden = !message;
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return $("hk-csrf").value || (match && decodeURIComponent(match[1])) || "";
  }

  function request(url, options) {
    options = options || {};
    var init = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (options.body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(options.body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function runUrl(id) {
    return config.urls.run.replace(/\/0\/$/, "/" + id + "/");
  }

  function adminRunUrl(id) {
    return config.urls.adminRun ? config.urls.adminRun.replace(/\/0\/change\/$/, "/" + id + "/change/") : null;
  }

  // What the dashboard shows of a run is what the server sends (its ``details``: the one reading
  // of a result, the same the API serves); nothing here reads a run's raw result.

  // A purge's rows per model, e.g. ["testapp.Thread: 3"], or [] for other results.
  function counts(run) {
    return run.details.models.map(modelLine);
  }

  function runText(run) {
    var text = run.details.summary || run.status;
    if (run.children && run.children.length) {
      text += " — " + run.children.map(function (child) {
        return child.task + ": " + (child.summary || child.status);
      }).join("; ");
    }
    return text;
  }

  // "chat.Message: 375", with the rows kept: "…, 2 protected, 1 held".
  function modelLine(row) {
    var text = String(row.model) + ": " + formatNumber(row.deleted);
    if (row.protected) text += ", " + formatNumber(row.protected) + " protected";
    if (row.held) text += ", " + formatNumber(row.held) + " held";
    return text;
  }

  // A list that folds, open or not as the person left it when the page redraws it.
  function fold(key, label, open, list) {
    var node = el("details", { "class": "hk-more", open: key in state.unfolded ? state.unfolded[key] : !!open }, [
      el("summary", { text: label }), list
    ]);
    node.addEventListener("toggle", function () { state.unfolded[key] = node.open; });
    return node;
  }

  // What a run did, as nodes: its one line, then per-model counts (folded), its numbers as a
  // key/value list, its members' runs, where it archived. ``open`` unfolds the lists at first.
  function resultView(run, line, open, where) {
    var d = run.details;
    var key = (where || "runs") + "-" + run.id;
    var text = line || d.summary;
    // A statistics run's numbers are laid out below: a line that lists them would say them twice.
    var listsNumbers = d.numbers.every(function (item) { return text.indexOf(String(item.key)) !== -1; });
    if (d.numbers.length && text === d.summary && listsNumbers) text = "";
    var nodes = text ? [el("span", { "class": "hk-summary" + (d.kind === "error" ? " hk-error-text" : ""), text: text })] : [];
    if (d.partial) nodes.push(" ", badge("partial", "partial"));
    if (d.models.length) {
      nodes.push(fold("models-" + key, d.models.length === 1 ? "1 model" : d.models.length + " models", open,
        el("ul", { "class": "hk-counts" }, d.models.map(function (row) { return el("li", { text: modelLine(row) }); }))));
    }
    if (d.numbers.length) {
      nodes.push(el("dl", { "class": "hk-numbers" }, d.numbers.map(function (item) {
        return el("div", {}, [el("dt", { text: humanize(item.key) }), el("dd", { text: formatNumber(item.value) })]);
      })));
    }
    if (d.members.length) {
      nodes.push(fold("members-" + key, d.members.length === 1 ? "1 task" : d.members.length + " tasks", open,
        el("ul", { "class": "hk-counts" }, d.members.map(function (member) {
          return el("li", { text: member.task + ": " + (member.summary || member.status) });
        }))));
    }
    if (d.archive) nodes.push(el("div", { "class": "hk-muted", text: "Archived to " + d.archive }));
    return nodes;
  }

  // -- rendering -------------------------------------------------------------------------------

  function render() {
    var data = state.data;
    renderScheduler(data.scheduler, data.health);
    renderStatistics(data.statistics);
    renderTasks(data.tasks);
    renderPolicies(data.policies);
    renderRuns(data.runs);
    renderRunning(data.running);
    $("hk-updated").textContent = "Updated " + new Date(data.now).toLocaleTimeString();
  }

  function renderScheduler(scheduler, health) {
    var leader = scheduler.leader;
    var problems = health.problems;
    var items = [
      el("div", { "class": "hk-fact" }, [
        el("span", { "class": "hk-label", text: "Health" }),
        badge(health.status === "ok" ? "succeeded" : "failed", health.status === "ok" ? "healthy" : "unhealthy")
      ])
    ];
    if (problems.length) {
      items.push(el("ul", { "class": "hk-problems", id: "hk-problems", "aria-label": "Health problems" },
        problems.map(function (problem) {
          var link = problem.run !== null ? adminRunUrl(problem.run) : null;
          return el("li", { "data-code": problem.code }, [
            problem.message,
            link ? [" ", el("a", { href: link, text: "Open run #" + problem.run })] : null
          ]);
        })));
    }
    var label = { running: "running", stale: "stale", stopped: "stopped" }[scheduler.state];
    items.push(el("div", { "class": "hk-fact" }, [
      el("span", { "class": "hk-label", text: "Scheduler" }),
      badge(scheduler.state === "running" ? "succeeded" : scheduler.state === "stale" ? "failed" : "skipped", label)
    ]));
    if (leader) {
      items.push(fact("Leader", leader.host + " (pid " + leader.pid + ")"));
      items.push(fact("Heartbeat", leader.lease_age_seconds === null ? "—" : formatAge(leader.lease_age_seconds) + " ago"));
      items.push(fact("Lease", leader.healthy ? "expires " + relative(leader.expires_at) : "expired " + relative(leader.expires_at)));
    } else {
      items.push(fact("Leader", "none: no scheduler is running"));
    }
    replace($("hk-scheduler"), items);
  }

  function fact(label, value) {
    return el("div", { "class": "hk-fact" }, [
      el("span", { "class": "hk-label", text: label }),
      el("span", { "class": "hk-value", text: value })
    ]);
  }

  function renderStatistics(statistics) {
    replace($("hk-days"), config.dayChoices.map(function (days) {
      return el("button", {
        type: "button",
        "class": "hk-button hk-small" + (days === state.days ? "" : " hk-secondary"),
        "aria-pressed": days === state.days ? "true" : "false",
        "aria-label": "Show the last " + days + " days",
        text: days + " d",
        onclick: function () { state.days = days; refresh(); }
      });
    }));
    renderLibrary(statistics.housekeeping, statistics.days);
    var note = $("hk-statistics-note");
    if (!statistics.task) {
      note.textContent = statistics.warning ||
        "The site's own statistics appear here when HOUSEKEEPING[\"STATISTICS_TASK\"] names its statistics task.";
    } else {
      note.textContent = statistics.generated_at
        ? "From the " + statistics.task + " task's run #" + statistics.run_id + ", " + formatTime(statistics.generated_at) + "."
        : "No statistics yet: run the " + statistics.task + " task.";
    }
    replace($("hk-cards"), Object.keys(statistics.statistics).map(function (key) {
      return el("div", { "class": "hk-card" }, [
        el("span", { "class": "hk-card-value", text: formatNumber(statistics.statistics[key]) }),
        el("span", { "class": "hk-card-label", text: humanize(key) })
      ]);
    }));
    replace($("hk-charts"), statistics.series.map(function (series) {
      return chart(series, statistics);
    }));
  }

  // The frame every chart shares: the value axis (its highest value on top, its lowest below) at
  // the left of the plot, the time axis (first, middle and last day) under it, and a caption whose
  // right part reads the point or bar under the pointer, else the chart's range. The axis labels
  // repeat what the chart's accessible name says, so they are hidden from screen readers.
  function chartFigure(options) {
    var readout = el("span", { "class": "hk-muted hk-readout", text: options.range });
    var plot = options.svg || el("div", { "class": "hk-chart-empty", text: options.empty });
    if (options.svg) {
      options.svg.addEventListener("mouseover", function (event) {
        var target = event.target.closest ? event.target.closest("[data-label]") : null;
        if (target) readout.textContent = target.getAttribute("data-label");
      });
      options.svg.addEventListener("mouseleave", function () { readout.textContent = options.range; });
    }
    return el("figure", { "class": "hk-chart", id: options.id || null }, [
      el("div", { "class": "hk-plot" }, [
        // One value (one point, or all equal): its label in the middle, beside the dot.
        el("div", { "class": "hk-axis-y" + (options.yLabels && options.yLabels.length === 1 ? " hk-axis-y-one" : ""), "aria-hidden": "true" }, options.svg ? options.yLabels.map(function (label) {
          return el("span", { text: label });
        }) : null),
        plot,
        el("div", { "class": "hk-axis-x", "aria-hidden": "true" }, options.xLabels.map(function (label) {
          return el("span", { text: label });
        }))
      ]),
      el("figcaption", {}, [el("span", { text: options.title }), readout])
    ]);
  }

  function chartSvg(id, description, children) {
    var width = CHART.width, height = CHART.height;
    return svg("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": id + "-title",
      preserveAspectRatio: "none", "class": "hk-chart-svg"
    }, [
      svg("title", { id: id + "-title", text: description }),
      // The lines of the highest and the lowest value.
      svg("line", { x1: 0, x2: width, y1: CHART.pad, y2: CHART.pad, "class": "hk-grid" }),
      svg("line", { x1: 0, x2: width, y1: height - CHART.pad, y2: height - CHART.pad, "class": "hk-grid" }),
      children
    ]);
  }

  var CHART = { width: 320, height: 120, pad: 8 };

  // First, middle and last day of a time span (milliseconds), as axis labels.
  function timeLabels(t0, t1) {
    return [t0, (t0 + t1) / 2, t1].map(function (t) { return formatDate(new Date(t)); });
  }

  function formatDate(date) {
    return date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }

  // A line chart of one series over the chart period, drawn as SVG, described for screen readers.
  // Every point is drawn (a dot while they are few) and says its time and value on hover.
  function chart(series, statistics) {
    var days = statistics.days;
    var width = CHART.width, height = CHART.height, pad = CHART.pad;
    var points = series.points;
    var values = points.map(function (p) { return p.value; });
    var min = Math.min.apply(null, values), max = Math.max.apply(null, values);
    var title = humanize(series.key);
    var description = points.length
      ? title + " over the last " + days + " days: " + formatNumber(values[values.length - 1]) +
        " now, lowest " + formatNumber(min) + ", highest " + formatNumber(max) + ", " + points.length + " runs."
      : title + ": no data in the last " + days + " days.";
    var id = "hk-chart-" + series.key.replace(/[^A-Za-z0-9_-]/g, "-");
    var times = points.map(function (p) { return new Date(p.at).getTime(); });
    // The time axis spans the chart period (from its start to now), not just the points in it.
    var now = new Date(state.data.now).getTime();
    var t1 = Math.max.apply(null, times.concat([isNaN(now) ? -Infinity : now]));
    var since = statistics.since ? new Date(statistics.since).getTime() : NaN;
    var t0 = isNaN(since) ? t1 - days * 86400000 : since;
    t0 = Math.min.apply(null, times.concat([t0]));
    if (!points.length) {
      return chartFigure({
        title: title, range: "no data", empty: "No data in the last " + days + " days.",
        xLabels: timeLabels(t0, t1)
      });
    }
    var x = function (t) { return t1 === t0 ? width / 2 : pad + (t - t0) / (t1 - t0) * (width - 2 * pad); };
    var y = function (v) { return max === min ? height / 2 : height - pad - (v - min) / (max - min) * (height - 2 * pad); };
    var coordinates = points.map(function (p, i) { return x(times[i]).toFixed(1) + "," + y(p.value).toFixed(1); });
    var dense = points.length > 60;
    var marks = points.map(function (p, i) {
      var label = formatTime(p.at) + ": " + formatNumber(p.value);
      var xy = coordinates[i].split(",");
      // A zero-length round-capped stroke: a dot that stays round in a stretched chart.
      return svg("path", {
        d: "M" + xy[0] + " " + xy[1] + "h0", "data-label": label,
        "class": "hk-point" + (dense ? " hk-point-dense" : "") + (i === points.length - 1 ? " hk-point-last" : "")
      }, svg("title", { text: label + (p.run_id ? " (run #" + p.run_id + ")" : "") }));
    });
    return chartFigure({
      title: title,
      range: min === max ? formatNumber(min) : formatNumber(min) + " – " + formatNumber(max),
      svg: chartSvg(id, description, [svg("polyline", { points: coordinates.join(" "), "class": "hk-line" }), marks]),
      yLabels: min === max ? [formatNumber(max)] : [formatNumber(max), formatNumber(min)],
      xLabels: timeLabels(t0, t1)
    });
  }

  // The library's own numbers, on every site: rows deleted per day, and each task's durations.
  function renderLibrary(library, days) {
    replace($("hk-library"), library ? [
      deletionsChart(library.rows_deleted_per_day, days),
      durationsChart(library.tasks, days)
    ] : []);
  }

  function formatDay(iso) {
    var parts = iso.split("-");
    return formatDate(new Date(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])));
  }

  // A bar per day of the rows the real runs started that day deleted, drawn as SVG. Each day's
  // column says its date and rows on hover, days without deletions included.
  function deletionsChart(perDay, days) {
    var width = CHART.width, height = CHART.height, pad = CHART.pad;
    var total = 0, top = null;
    perDay.forEach(function (day) {
      total += day.rows;
      if (top === null || day.rows > top.rows) top = day;
    });
    var description = total
      ? "Rows deleted per day over the last " + days + " days: " + formatNumber(total) +
        " in all, at most " + formatNumber(top.rows) + " on " + formatDay(top.day) + "."
      : "Rows deleted per day: none in the last " + days + " days.";
    var xLabels = perDay.length
      ? [perDay[0], perDay[Math.floor((perDay.length - 1) / 2)], perDay[perDay.length - 1]].map(function (day) { return formatDay(day.day); })
      : [];
    if (!total) {
      return chartFigure({
        id: "hk-chart-rows-deleted", title: "Rows deleted per day", range: "none",
        empty: "No rows deleted in the last " + days + " days.", xLabels: xLabels
      });
    }
    var step = (width - 2 * pad) / Math.max(perDay.length, 1);
    var columns = perDay.map(function (day, i) {
      var label = formatDay(day.day) + ": " + formatNumber(day.rows) + (day.rows === 1 ? " row" : " rows");
      var h = day.rows ? Math.max(day.rows / top.rows * (height - 2 * pad), 1) : 0;
      return svg("g", { "class": "hk-day", "data-label": label }, [
        svg("title", { text: label }),
        svg("rect", { x: (pad + i * step).toFixed(2), y: 0, width: step.toFixed(2), height: height, "class": "hk-hit" }),
        day.rows ? svg("rect", {
          x: (pad + i * step + step * 0.15).toFixed(1), y: (height - pad - h).toFixed(1),
          width: (step * 0.7).toFixed(1), height: h.toFixed(1), "class": "hk-bar"
        }) : null
      ]);
    });
    return chartFigure({
      id: "hk-chart-rows-deleted", title: "Rows deleted per day", range: formatNumber(total) + " in all",
      svg: chartSvg("hk-chart-rows-deleted", description, columns),
      yLabels: [formatNumber(top.rows), "0"], xLabels: xLabels
    });
  }

  // Per task: the p50 and p95 of its run durations as two bars (p95 behind, lighter), its runs.
  function durationsChart(tasks, days) {
    var names = Object.keys(tasks);
    var longest = 0;
    names.forEach(function (name) { longest = Math.max(longest, tasks[name].duration_seconds.p95 || 0); });
    var rows = names.map(function (name) {
      var task = tasks[name], d = task.duration_seconds;
      var runs = 0;
      Object.keys(task.runs).forEach(function (status) { runs += task.runs[status]; });
      var failed = (task.runs.failed || 0) + (task.runs.interrupted || 0);
      var text = (d.p50 === null ? "no finished run" : "p50 " + formatDuration(d.p50) + " · p95 " + formatDuration(d.p95)) +
        " · " + formatNumber(runs) + (runs === 1 ? " run" : " runs") + (failed ? ", " + formatNumber(failed) + " failed" : "");
      var bars = [];
      if (d.p50 !== null && longest) {
        bars.push(svg("rect", { x: 0, y: 0, height: 10, width: (d.p95 / longest * 100).toFixed(2), "class": "hk-bar-p95" }));
        bars.push(svg("rect", { x: 0, y: 0, height: 10, width: (d.p50 / longest * 100).toFixed(2), "class": "hk-bar" }));
      }
      return el("li", { "class": "hk-duration", "data-task": name }, [
        el("span", { "class": "hk-duration-name", title: name, text: name }),
        svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true", "class": "hk-duration-bar" }, bars),
        el("span", { "class": "hk-muted", text: text })
      ]);
    });
    return el("figure", { "class": "hk-chart", id: "hk-durations" }, [
      rows.length
        ? el("ul", { "class": "hk-durations", "aria-label": "Run durations per task over the last " + days + " days" }, rows)
        : el("p", { "class": "hk-durations hk-muted", text: "No runs in the last " + days + " days." }),
      el("figcaption", {}, [
        el("span", { text: "Run durations" }),
        el("span", { "class": "hk-muted", text: "p50 dark, p95 light" })
      ])
    ]);
  }

  // A task that deletes nothing (destructive: false) runs without a dry run and a confirmation.
  function actionButtons(name, label, destructive) {
    if (!config.canRun) return null;
    var busy = !!state.busy[name];
    return el("div", { "class": "hk-actions" }, [
      el("button", {
        type: "button", "class": "hk-button hk-secondary", "data-task": name, "data-action": "dry-run",
        "aria-label": "Dry-run " + label, disabled: busy, text: "Dry run",
        onclick: function () { dryRun(name, label); }
      }),
      el("button", {
        type: "button", "class": "hk-button", "data-task": name, "data-action": "run",
        "aria-label": "Run " + label, disabled: busy, text: "Run",
        onclick: function () { if (destructive === false) runNow(name, label); else confirmAndRun(name, label); }
      })
    ]);
  }

  function renderTasks(tasks) {
    replace($("hk-all-actions"), !tasks.length ? [] : config.canRun ? [
      el("span", { "class": "hk-muted", text: "All tasks:" }), actionButtons("all", "all tasks")
    ] : el("span", { "class": "hk-muted", text: "You may look, not run: ask for the “Can run housekeeping tasks” permission." }));
    var table = $("hk-tasks");
    if (!tasks.length) {
      replace(table.tBodies[0], emptyRow(table, "No tasks yet: the tasks in every installed app's housekeeping.py appear here."));
      return;
    }
    replace(table.tBodies[0], tasks.map(function (task) {
      var flags = [];
      if (task.is_group) flags.push(badge("group", "group"));
      if (task.paused) flags.push(badge("skipped", "paused"));
      if (!task.enabled) flags.push(badge("skipped", "disabled"));
      var last = task.last_run;
      return el("tr", { "data-task": task.name }, [
        el("th", { scope: "row" }, [
          el("span", { "class": "hk-task-name", text: task.name }), " ", flags,
          task.description && task.description !== task.name ? el("div", { "class": "hk-muted", text: task.description }) : null
        ]),
        el("td", { text: task.schedule }),
        el("td", { title: task.next_run || "" }, task.next_run && !task.paused && task.enabled
          ? [formatTime(task.next_run), el("div", { "class": "hk-muted", text: relative(task.next_run) })]
          : "—"),
        el("td", {}, last ? [badge(last.status), " ", el("span", { "class": "hk-muted", text: formatTime(last.started_at) })] : "never"),
        el("td", {}, actionButtons(task.name, task.name, task.destructive))
      ]);
    }));
  }

  // Retention policies: windows in effect, rows due now, held rows, the latest preview (a dry run).
  function renderPolicies(policies) {
    var table = $("hk-policies");
    $("hk-policies-panel").hidden = !policies.length;
    if (!policies.length) {
      replace(table.tBodies[0], emptyRow(table, "No retention policies."));
      return;
    }
    replace(table.tBodies[0], policies.map(function (policy) {
      var preview = policy.preview;
      var label = "preview of " + policy.name;
      return el("tr", { "data-policy": policy.name }, [
        el("th", { scope: "row" }, [
          el("span", { "class": "hk-task-name", text: policy.name }),
          el("div", { "class": "hk-muted", text: policy.model + "." + policy.field + (policy.keep_by ? ", per " + policy.keep_by : "") })
        ]),
        el("td", {}, el("ul", { "class": "hk-counts" }, policy.windows.map(function (window) {
          return el("li", { text: window.rows + ": " + window.keep + (window.source === "settings" ? " (from settings)" : "") });
        }))),
        el("td", { "class": "hk-number rows-due", text: policy.rows_due.text }),
        el("td", { "class": "hk-number held", text: policy.held_text }),
        el("td", { "class": "hk-result" }, preview ? [
          badge(preview.status), " ",
          adminRunUrl(preview.id) ? el("a", { href: adminRunUrl(preview.id), text: "#" + preview.id }) : "#" + preview.id,
          preview.summary ? el("div", { "class": "hk-muted", text: preview.summary }) : null,
          preview.receivers.length ? el("div", { "class": "hk-muted", text: "Receivers: " + preview.receivers.map(function (row) {
            return row.model + " " + row.signal + " → " + row.receivers.join(", ");
          }).join("; ") }) : null
        ] : "—"),
        el("td", {}, config.canRun ? el("button", {
          type: "button", "class": "hk-button hk-secondary", "data-policy": policy.name, "data-action": "preview",
          "aria-label": "Preview " + policy.name, disabled: !!state.busy[policy.name], text: "Preview",
          onclick: function () { dryRun(policy.name, label); }
        }) : null)
      ]);
    }));
  }

  // A table's one row when it has nothing to show.
  function emptyRow(table, text) {
    return el("tr", { "class": "hk-empty-row" }, el("td", { colspan: table.tHead.rows[0].cells.length, text: text }));
  }

  function renderRuns(runs) {
    var table = $("hk-runs");
    replace(table.tBodies[0], runs.length ? runs.map(function (run) {
      var link = adminRunUrl(run.id);
      return el("tr", { "data-run": run.id }, [
        el("td", {}, link ? el("a", { href: link, text: "#" + run.id }) : "#" + run.id),
        el("td", {}, [run.task, run.parent_id ? el("div", { "class": "hk-muted", text: "in run #" + run.parent_id }) : null]),
        el("td", {}, [badge(run.status), run.dry_run ? [" ", badge("dry", "dry run")] : null]),
        el("td", { title: run.started_at, text: formatTime(run.started_at) }),
        el("td", { text: formatDuration(run.duration_seconds) }),
        el("td", { "class": "hk-result" }, resultView(run))
      ]);
    }) : emptyRow(table, "No runs yet: the runs of every task, however started, appear here."));
  }

  function renderRunning(running) {
    running.forEach(function (run) { showActivity(run); });
    $("hk-activity-empty").hidden = $("hk-activity").children.length > 0;
  }

  // A run that has not ended: dispatched and waiting for its thread (queued), or running.
  function isActive(run) {
    return run.status === "queued" || run.status === "running";
  }

  // One line of the activity list per run: status, summary, progress while running.
  function showActivity(run, note) {
    var list = $("hk-activity");
    var id = "hk-activity-" + run.id;
    var item = $(id);
    if (!item) {
      item = el("li", { id: id, "class": "hk-activity-item", "data-run": run.id });
      list.insertBefore(item, list.firstChild);
    }
    var children = [
      el("div", { "class": "hk-activity-head" }, [
        badge(run.status), " ",
        el("strong", { text: run.task }), run.dry_run ? " (dry run)" : "",
        el("span", { "class": "hk-muted", text: " run #" + run.id })
      ])
    ];
    if (note) children.push(el("div", { "class": "hk-muted", text: note }));
    if (isActive(run)) {
      var p = run.progress;
      var label = "Progress of " + run.task + " run #" + run.id;
      children.push(p.total
        ? el("progress", { max: p.total, value: p.done || 0, "aria-label": label })
        : el("progress", { "aria-label": label }));
      children.push(el("div", { "class": "hk-muted", text:
        p.done !== null && p.done !== undefined
          ? formatNumber(p.done) + (p.total ? " of " + formatNumber(p.total) + " (" + p.percent + " %)" : "") + " done"
          : run.status + "…" }));
      if (config.canRun && run.cancel_requested_at === null) {
        children.push(el("button", {
          type: "button", "class": "hk-cancel", "data-cancel": run.id,
          "aria-label": "Cancel " + run.task + " run #" + run.id, text: "Cancel",
          onclick: function () { confirmAndCancel(run); }
        }));
      } else if (run.cancel_requested_at !== null) {
        children.push(el("div", { "class": "hk-muted", text: "Cancelling: it stops at its next progress step…" }));
      }
    } else {
      children.push(el("div", { "class": "hk-activity-result" }, resultView(run, runText(run), true, "activity")));
    }
    replace(item, children);
    $("hk-activity-empty").hidden = true;
  }

  // -- data ------------------------------------------------------------------------------------

  function refresh() {
    var url = config.urls.data + "?days=" + state.days +
      (config.statisticsTask ? "&task=" + encodeURIComponent(config.statisticsTask) : "");
    return request(url).then(function (response) {
      if (response.status !== 200) {
        showError(response.body.detail || "The dashboard could not refresh (HTTP " + response.status + ").");
        return;
      }
      showError("");
      state.data = response.body;
      render();
    }, function () {
      showError("The dashboard could not reach the server; it tries again in " + config.refreshSeconds + " s.");
    });
  }

  // Poll a run until it ends; resolve with the finished run.
  function follow(run, note) {
    state.followed[run.id] = true;
    showActivity(run, note);
    return new Promise(function (resolve, reject) {
      function poll() {
        request(runUrl(run.id)).then(function (response) {
          if (response.status !== 200) {
            delete state.followed[run.id];
            reject(new Error(response.body.detail || "HTTP " + response.status));
            return;
          }
          var current = response.body;
          showActivity(current, isActive(current) ? note : null);
          if (isActive(current)) {
            window.setTimeout(poll, FOLLOW_MS);
          } else {
            delete state.followed[run.id];
            resolve(current);
          }
        }, function (error) {
          delete state.followed[run.id];
          reject(error);
        });
      }
      window.setTimeout(poll, FOLLOW_MS / 4);
    });
  }

  // Start one run; resolve with the started run, or reject with a message.
  function start(name, dryRun) {
    return request(config.urls.trigger, { body: { task: name, dry_run: dryRun } }).then(function (response) {
      if (response.status === 202) return response.body.runs[0];
      if (response.status === 409 && response.body.running_run) {
        follow(response.body.running_run, "already running");
      }
      throw new Error(response.body.detail || "HTTP " + response.status);
    });
  }

  function setBusy(name, busy) {
    if (busy) state.busy[name] = true; else delete state.busy[name];
    Array.prototype.forEach.call(document.querySelectorAll("button[data-task]"), function (button) {
      if (button.getAttribute("data-task") === name) button.disabled = busy;
    });
  }

  function dryRun(name, label) {
    setBusy(name, true);
    return start(name, true)
      .then(function (run) { return follow(run, "Dry run of " + label + ": counting, deleting nothing…"); })
      .then(function (run) { refresh(); return run; })
      .catch(function (error) { showError(error.message); })
      .then(function (run) { setBusy(name, false); return run; });
  }

  function runNow(name, label) {
    setBusy(name, true);
    return start(name, false)
      .then(function (run) { return follow(run, "Running " + label + "…"); })
      .then(function () { return refresh(); })
      .catch(function (error) { showError(error.message); })
      .then(function () { setBusy(name, false); });
  }

  // A real run: first a dry run, then a confirmation showing what it would delete.
  function confirmAndRun(name, label) {
    dryRun(name, label).then(function (preview) {
      if (!preview) return;
      var dialog = $("hk-confirm");
      $("hk-confirm-title").textContent = "Run " + label + " now?";
      var modelCounts = counts(preview);
      var preface = preview.status === "failed"
        ? "The dry run failed: " + runText(preview) + ". Run it anyway?"
        : "A dry run just now found: " + runText(preview) + ".";
      if (preview.children && preview.children.length) {
        modelCounts = [];
        preview.children.forEach(function (child) {
          counts(child).forEach(function (line) { modelCounts.push(child.task + " — " + line); });
        });
      }
      $("hk-confirm-text").textContent = preface + (modelCounts.length ? " This run deletes:" : "");
      replace($("hk-confirm-counts"), modelCounts.map(function (line) { return el("li", { text: line }); }));
      $("hk-confirm-ok").textContent = modelCounts.length ? "Delete and run " + label : "Run " + label;
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue !== "confirm") return;
        runNow(name, label);
      });
      dialog.showModal();
      $("hk-confirm-cancel").focus();
    });
  }

  // Cancel a run: a task that may delete asks first (the dialog of "Run now"), as "Run now" does.
  function cancelRun(run) {
    var url = config.urls.cancel.replace("/0/", "/" + run.id + "/");
    return request(url, { body: {} }).then(function (response) {
      if (response.status !== 202) throw new Error(response.body.detail || "HTTP " + response.status);
      showError("");
      showActivity(response.body.run, response.body.detail);
      if (!state.followed[run.id] && isActive(response.body.run)) follow(response.body.run).then(refresh, function () {});
      else refresh();
    }).catch(function (error) { showError(error.message); });
  }

  function isDestructive(name) {
    var task = state.data.tasks.filter(function (t) { return t.name === name; })[0];
    return !task || task.destructive !== false;
  }

  function confirmAndCancel(run) {
    if (!isDestructive(run.task)) { cancelRun(run); return; }
    var dialog = $("hk-confirm");
    $("hk-confirm-title").textContent = "Cancel " + run.task + " run #" + run.id + "?";
    $("hk-confirm-text").textContent = "It stops at its next progress step (a purge: after its current batch). " +
      "What it deleted so far stays deleted; the next run goes on from there.";
    replace($("hk-confirm-counts"), []);
    $("hk-confirm-ok").textContent = "Cancel run #" + run.id;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "confirm") cancelRun(run);
    });
    dialog.showModal();
    $("hk-confirm-cancel").focus();
  }

  // -- start -----------------------------------------------------------------------------------

  $("hk-refresh").addEventListener("click", refresh);
  render();
  state.data.running.forEach(function (run) {
    if (!state.followed[run.id]) follow(run).then(refresh, function () {});
  });
  window.setInterval(function () {
    refresh().then(function () {
      state.data.running.forEach(function (run) {
        if (!state.followed[run.id]) follow(run).then(refresh, function () {});
      });
    });
  }, config.refreshSeconds * 1000);
})();
