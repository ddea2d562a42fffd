// Caravan dashboard: keyboard shortcuts and the job editor's line numbers. No framework.
(function () {
  "use strict";
  var GO = { j: "nav-jobs", c: "nav-clients", s: "nav-servers", t: "nav-topology" };
  var pendingG = false;

  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (pendingG) {
      pendingG = false;
      var link = document.getElementById(GO[event.key]);
      if (link) { event.preventDefault(); window.location.href = link.href; }
      return;
    }
    if (event.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1200); return; }
    if (event.key === "/") {
      var search = document.getElementById("search");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (event.key === "?") { event.preventDefault(); showHelp(); }
  }

  function showHelp() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function badLines() {
    var lines = {};
    document.querySelectorAll(".diagnostic[data-line]").forEach(function (el) {
      var n = parseInt(el.getAttribute("data-line"), 10);
      if (n > 0) lines[n] = true;
    });
    return lines;
  }

  function setupEditor() {
    var area = document.getElementById("job-source");
    var gutter = document.getElementById("editor-gutter");
    if (!area || !gutter) return;
    var bad = badLines();
    function render() {
      var count = area.value.split("\n").length;
      gutter.textContent = "";
      for (var i = 1; i <= count; i++) {
        var span = document.createElement("span");
        if (bad[i]) span.className = "bad";
        span.textContent = i + "\n";
        gutter.appendChild(span);
      }
      gutter.scrollTop = area.scrollTop;
    }
    area.addEventListener("input", render);
    // Run submits what was planned: once the file is edited, Run waits for a new plan.
    var run = document.getElementById("run-button");
    if (run) {
      area.addEventListener("input", function () {
        run.disabled = true;
        var hint = document.getElementById("replan-hint");
        if (hint) hint.hidden = false;
        var result = document.getElementById("plan-result");
        if (result) result.classList.add("stale");
      }, {once: true});
    }
    area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Tab" && !event.shiftKey) {
        event.preventDefault();
        var start = area.selectionStart;
        area.setRangeText("  ", start, area.selectionEnd, "end");
        area.dispatchEvent(new Event("input"));  // an edit like any other: gutter, and Run waits for a plan
      }
    });
    document.querySelectorAll(".goto-line").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var line = parseInt(link.getAttribute("data-line"), 10);
        var offset = area.value.split("\n").slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
        area.focus();
        area.setSelectionRange(offset, offset);
        area.scrollTop = Math.max(0, (line - 5) * 18);
      });
    });
    render();
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("DOMContentLoaded", function () {
    var help = document.getElementById("help-button");
    if (help) help.addEventListener("click", showHelp);
    setupEditor();
  });
  // Delegated, so buttons that a live region swaps in (live.js) open and close their dialogs too.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-open-dialog], [data-close-dialog]") : null;
    if (!button) return;
    var opening = button.hasAttribute("data-open-dialog");
    var dialog = document.getElementById(button.getAttribute(opening ? "data-open-dialog" : "data-close-dialog"));
    if (!dialog) return;
    if (opening && !dialog.open) dialog.showModal();
    else if (!opening) dialog.close();
  });
})();
