/* Caravan dashboard: live updates over one WebSocket (/ws/events). No page polls.
 *
 * - Every element with data-live-topics="Job:default/web Allocation:*" subscribes to those topics; on a
 *   matching event it fetches its data-live-fragment URL and swaps its inner HTML (server-rendered and
 *   escaped by Django), debounced 250 ms, one request in flight per element.
 * - #alloc-stats[data-alloc-id]: live CPU and memory charts (uPlot, from static/ui/vendor/, installed by
 *   scripts/fetch_static.sh); the stats come over the same socket ({"stats": allocID}).
 * - #alloc-logs[data-alloc-id][data-tasks]: live logs with follow, a filter box and a download link
 *   ({"logs": allocID, "task", "type"}). Log text is inserted as text, never as HTML.
 * The socket reconnects with exponential backoff and re-sends every subscription.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 250;
  var MIN_BACKOFF_MS = 500;
  var MAX_BACKOFF_MS = 30000;
  var MAX_POINTS = 120;
  var MAX_LOG_LINES = 5000;
  var CLOSE_BAD_ORIGIN = 4403;
  var CLOSE_BAD_TOKEN = 4401;

  var script = document.currentScript;
  var vendorBase = script ? script.src.replace(/live\.js(\?.*)?$/, "vendor/") : "/static/ui/vendor/";

  var socket = null;
  var leaving = false;  // the page is being left: fetches cut short by it are no failure
  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("beforeunload", function () { leaving = true; });
  window.addEventListener("pageshow", function () { leaving = false; });  // back from the back-forward cache
  var backoffMs = MIN_BACKOFF_MS;
  var regions = [];   // {el, topics: [{topic, ns, key}], timer, inFlight, dirty}
  var stats = null;   // {el, allocId, ...chart state}
  var logs = null;    // {el, allocId, task, type, ...}

  // ---- the socket ---------------------------------------------------------------------------

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/events");
    socket.onopen = function () {
      backoffMs = MIN_BACKOFF_MS;
      var topics = [];
      regions.forEach(function (r) { r.topics.forEach(function (t) { topics.push(t.raw); }); });
      if (topics.length) send({subscribe: topics});
      if (stats) send({stats: stats.allocId});
      if (logs) startLogs();
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.event) onEvent(data.event);
      else if (data.stats && data.usage) onStats(data.usage);
      else if (data.logs) onLogs(data);
      else if (data.error) onError(data);
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === CLOSE_BAD_ORIGIN || event.code === CLOSE_BAD_TOKEN) {
        setStatus(event.code === CLOSE_BAD_TOKEN ? "Live updates stopped: sign in again." :
          "Live updates refused for this origin.");
        return;
      }
      var wait = backoffMs + Math.floor(Math.random() * backoffMs / 2);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      setTimeout(connect, wait);
    };
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function setStatus(text) {
    var el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }

  function onError(data) {
    var target = data["for"] || {};
    var pane = (target.stats && stats) ? stats.note : (target.logs && logs) ? logs.note : null;
    if (pane) pane.textContent = data.error;
    else if (window.console) console.warn("live:", data.error, target);
  }

  // ---- live regions -------------------------------------------------------------------------

  function parseTopic(raw) {
    var i = raw.indexOf(":");
    var topic = i < 0 ? raw : raw.slice(0, i);
    var key = i < 0 ? "*" : (raw.slice(i + 1) || "*");
    var ns = null;
    var slash = key.indexOf("/");
    if (key !== "*" && slash >= 0 && topic !== "Node") { ns = key.slice(0, slash); key = key.slice(slash + 1); }
    return {raw: raw, topic: topic, ns: ns, key: key};
  }

  function matches(t, event) {
    if (t.topic !== "*" && t.topic !== event.Topic) return false;
    if (t.ns !== null && event.Namespace && t.ns !== event.Namespace) return false;
    if (t.key === "*" || t.key === event.Key) return true;
    return (event.FilterKeys || []).indexOf(t.key) >= 0;
  }

  function onEvent(event) {
    regions.forEach(function (r) {
      if (r.topics.some(function (t) { return matches(t, event); })) schedule(r);
    });
  }

  function schedule(region) {
    if (region.inFlight) { region.dirty = true; return; }
    clearTimeout(region.timer);
    region.timer = setTimeout(function () { refresh(region); }, DEBOUNCE_MS);
  }

  function refresh(region) {
    region.inFlight = true;
    region.dirty = false;
    fetch(region.el.getAttribute("data-live-fragment"), {
      credentials: "same-origin", headers: {"X-Requested-With": "caravan-live"}
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (html) {
      region.el.innerHTML = html;  // a Django-rendered fragment: its data is escaped by the template
      restoreOpen(region.el);
    }).catch(function (e) {
      if (!leaving && window.console) console.warn("live: refresh failed:", e);
    }).then(function () {
      region.inFlight = false;
      if (region.dirty) schedule(region);
    });
  }

  // What the operator opened or closed by hand (a version's diff) stays so across refreshes of its region;
  // the rest follows the fragment (the newest version opens by default).
  var toggled = {};  // details key -> open, as the operator last left it

  function detailsKey(el) {
    return el.id || el.getAttribute("data-version") || el.getAttribute("data-key");
  }

  document.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("summary") : null;
    var details = summary ? summary.parentElement : null;
    if (!details || details.tagName !== "DETAILS" || !detailsKey(details)) return;
    if (event.target.closest("form, button, a")) return;  // a control inside the summary, not the toggle
    toggled[detailsKey(details)] = !details.open;  // the click's default action flips it afterwards
  });

  function restoreOpen(root) {
    root.querySelectorAll("details").forEach(function (d) {
      var key = detailsKey(d);
      if (key && Object.prototype.hasOwnProperty.call(toggled, key)) d.open = toggled[key];
    });
  }

  // ---- allocation stats ---------------------------------------------------------------------

  function loadVendor(done) {
    if (window.uPlot) { done(true); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = vendorBase + "uPlot.min.css";
    document.head.appendChild(css);
    var js = document.createElement("script");
    js.src = vendorBase + "uPlot.iife.min.js";
    js.onload = function () { done(!!window.uPlot); };
    js.onerror = function () { done(false); };
    document.head.appendChild(js);
  }

  function setupStats(el) {
    stats = {el: el, allocId: el.getAttribute("data-alloc-id"), times: [], cpu: [], mem: [], charts: null};
    stats.cpuLimit = Number(el.getAttribute("data-cpu-mhz")) || null;
    stats.memLimit = Number(el.getAttribute("data-memory-mib")) || null;
    stats.note = document.createElement("p");
    stats.note.className = "muted live-note";
    stats.note.textContent = "Waiting for the client's figures…";
    el.appendChild(stats.note);
    loadVendor(function (ok) {
      if (!ok) { stats.note.textContent = "Chart library missing (run scripts/fetch_static.sh)."; return; }
      stats.charts = [chart(el, "CPU (MHz)", stats.cpuLimit), chart(el, "Memory (MiB)", stats.memLimit)];
    });
  }

  function chart(el, label, limit) {
    var box = document.createElement("div");
    box.className = "live-chart";
    box.style.display = "inline-block";
    box.style.verticalAlign = "top";
    el.appendChild(box);
    var width = Math.max(280, Math.floor((el.clientWidth || 600) / 2) - 16);
    return new window.uPlot({
      title: label + (limit ? " of " + limit : ""), width: width, height: 160,
      scales: {x: {time: true}, y: {range: function (u, min, max) { return [0, Math.max(max, limit || 1)]; }}},
      series: [{}, {label: label, stroke: label.indexOf("CPU") === 0 ? "#0969da" : "#8250df", width: 2}]
    }, [[], []], box);
  }

  function onStats(usage) {
    if (!stats) return;
    var r = usage.ResourceUsage || {};
    var cpu = (r.CpuStats || {}).TotalTicks || 0;
    var memBytes = (r.MemoryStats || {}).RSS || (r.MemoryStats || {}).Usage || 0;
    stats.times.push((usage.Timestamp ? usage.Timestamp / 1e9 : Date.now() / 1000));
    stats.cpu.push(Math.round(cpu));
    stats.mem.push(Math.round(memBytes / 1048576 * 10) / 10);
    if (stats.times.length > MAX_POINTS) { stats.times.shift(); stats.cpu.shift(); stats.mem.shift(); }
    stats.note.textContent = "CPU " + stats.cpu[stats.cpu.length - 1] + " MHz · memory " +
      stats.mem[stats.mem.length - 1] + " MiB";
    if (stats.charts) {
      stats.charts[0].setData([stats.times, stats.cpu]);
      stats.charts[1].setData([stats.times, stats.mem]);
    }
  }

  // ---- allocation logs ----------------------------------------------------------------------

  function control(tag, attrs, parent) {
    var el = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    parent.appendChild(el);
    return el;
  }

  function setupLogs(el) {
    var tasks = (el.getAttribute("data-tasks") || "").split(/[\s,]+/).filter(Boolean);
    logs = {el: el, allocId: el.getAttribute("data-alloc-id"), lines: [], partial: ""};
    var bar = control("div", {"class": "log-controls"}, el);
    bar.style.cssText = "display:flex;gap:8px;align-items:center;flex-wrap:wrap;padding:6px";
    logs.taskSelect = control("select", {"aria-label": "Task", id: "log-task"}, bar);
    tasks.forEach(function (t) { var o = control("option", {value: t}, logs.taskSelect); o.textContent = t; });
    logs.typeSelect = control("select", {"aria-label": "Stream", id: "log-type"}, bar);
    ["stdout", "stderr"].forEach(function (t) { var o = control("option", {value: t}, logs.typeSelect); o.textContent = t; });
    logs.filter = control("input", {type: "search", placeholder: "Filter", "aria-label": "Filter", id: "log-filter"}, bar);
    var followLabel = control("label", {}, bar);
    logs.follow = control("input", {type: "checkbox", id: "log-follow"}, followLabel);
    logs.follow.checked = true;
    followLabel.appendChild(document.createTextNode(" Follow"));
    logs.download = control("a", {href: "#", id: "log-download"}, bar);
    logs.download.textContent = "Download";
    logs.note = control("p", {"class": "muted live-note"}, el);
    logs.output = control("pre", {"class": "log-output", id: "log-output", tabindex: "0"}, el);
    logs.output.style.cssText = "max-height:420px;overflow:auto;margin:0;padding:6px;white-space:pre-wrap";

    logs.taskSelect.onchange = logs.typeSelect.onchange = startLogs;
    logs.filter.oninput = applyFilter;
    logs.follow.onchange = function () { if (logs.follow.checked) scrollDown(); };
    // Scrolling up to read stops following (new lines no longer pull the view down); back at the bottom
    // it follows again.
    logs.output.addEventListener("scroll", function () {
      var atBottom = logs.output.scrollHeight - logs.output.scrollTop - logs.output.clientHeight < 4;
      if (logs.follow.checked !== atBottom) logs.follow.checked = atBottom;
    });
    logs.download.onclick = function (e) {
      e.preventDefault();
      var text = logs.lines.join("\n") + (logs.partial ? "\n" + logs.partial : "");
      var url = URL.createObjectURL(new Blob([text], {type: "text/plain;charset=utf-8"}));
      var a = document.createElement("a");
      a.href = url;
      a.download = logs.allocId.slice(0, 8) + "-" + logs.taskSelect.value + "." + logs.typeSelect.value + ".log";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    };
    if (!tasks.length) logs.note.textContent = "This allocation has no tasks.";
  }

  function startLogs() {
    if (!logs || !logs.taskSelect.value) return;
    logs.lines = [];
    logs.partial = "";
    logs.output.textContent = "";
    logs.note.textContent = "";
    send({logs: logs.allocId, task: logs.taskSelect.value, type: logs.typeSelect.value});
  }

  function onLogs(data) {
    if (!logs || data.logs !== logs.allocId || data.task !== logs.taskSelect.value ||
        data.type !== logs.typeSelect.value) return;
    if (data.done) { logs.note.textContent = "The task is dead: this is the whole log."; return; }
    var parts = (logs.partial + (data.data || "")).split("\n");
    logs.partial = parts.pop();
    parts.forEach(appendLine);
    if (logs.lines.length > MAX_LOG_LINES) {
      var drop = logs.lines.length - MAX_LOG_LINES;
      logs.lines.splice(0, drop);
      for (var i = 0; i < drop && logs.output.firstChild; i++) logs.output.removeChild(logs.output.firstChild);
    }
    if (logs.follow.checked) scrollDown();
  }

  function appendLine(text) {
    logs.lines.push(text);
    var line = document.createElement("div");
    line.className = "log-line";
    line.textContent = text;  // text, never HTML: a log may contain markup
    line.hidden = !visible(text);
    logs.output.appendChild(line);
  }

  function visible(text) {
    var needle = logs.filter.value.trim().toLowerCase();
    return !needle || text.toLowerCase().indexOf(needle) >= 0;
  }

  function applyFilter() {
    var nodes = logs.output.children;
    for (var i = 0; i < nodes.length; i++) nodes[i].hidden = !visible(nodes[i].textContent);
  }

  function scrollDown() { logs.output.scrollTop = logs.output.scrollHeight; }

  // ---- start --------------------------------------------------------------------------------

  function start() {
    var els = document.querySelectorAll("[data-live-topics]");
    for (var i = 0; i < els.length; i++) {
      var raw = (els[i].getAttribute("data-live-topics") || "").split(/\s+/).filter(Boolean);
      if (!raw.length || !els[i].getAttribute("data-live-fragment")) continue;
      regions.push({el: els[i], topics: raw.map(parseTopic), timer: null, inFlight: false, dirty: false});
    }
    var statsEl = document.querySelector("#alloc-stats[data-alloc-id]");
    if (statsEl) setupStats(statsEl);
    var logsEl = document.querySelector("#alloc-logs[data-alloc-id]");
    if (logsEl) setupLogs(logsEl);
    if (regions.length || stats || logs) connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
