// Review page behaviour: cell <-> source scrolling, finding highlights, keyboard shortcuts.
// No report text is ever inserted as HTML here: only textContent and classes are set.
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function byId(id) { return document.getElementById(id); }

  function clearHl() { $$(".hl").forEach(function (el) { el.classList.remove("hl"); }); }
  function hlKeys(keys) {
    keys.forEach(function (k) {
      var cell = byId("cell-" + k); if (cell) cell.classList.add("hl");
      $$("[data-keys]", byId("source")).forEach(function (el) {
        if (el.dataset.keys.split(" ").indexOf(k) >= 0) el.classList.add("hl");
      });
    });
  }
  function scrollSourceTo(el) {
    if (!el) return;
    el.scrollIntoView({ block: "center" });
  }

  function selectCell(td) {
    var key = td.dataset.key;
    clearHl();
    hlKeys([key]);
    var form = byId("correct-form");
    if (form) {
      byId("correct-key").value = key;
      byId("correct-value").value = td.dataset.value;
      byId("cell-info").textContent = td.title || key;
    }
    scrollSourceTo(byId("src-" + key));
  }

  var findings = [];
  var current = -1;
  function focusFinding(i) {
    if (!findings.length) return;
    current = Math.max(0, Math.min(findings.length - 1, i));
    findings.forEach(function (f) { f.classList.remove("current"); });
    var f = findings[current];
    f.classList.add("current");
    f.scrollIntoView({ block: "nearest" });
    clearHl();
    var keys = (f.dataset.keys || "").split(" ").filter(Boolean);
    hlKeys(keys);
    var id = f.dataset.id;
    var quotes = $$("[data-findings]", byId("source")).filter(function (el) {
      return el.dataset.findings.split(" ").indexOf(id) >= 0;
    });
    quotes.forEach(function (el) { el.classList.add("hl"); });
    if (quotes.length) scrollSourceTo(quotes[0]);
    else if (keys.length) scrollSourceTo(byId("src-" + keys[0]));
    if (history.replaceState) history.replaceState(null, "", "#finding-" + id);
  }

  document.addEventListener("DOMContentLoaded", function () {
    findings = $$("li.finding");
    $$("td.cell").forEach(function (td) { td.addEventListener("click", function () { selectCell(td); }); });
    $$(".num[data-keys]").forEach(function (el) {
      el.addEventListener("click", function () {
        var key = el.dataset.keys.split(" ")[0];
        var td = byId("cell-" + key);
        if (td) { clearHl(); hlKeys([key]); td.scrollIntoView({ block: "center" }); }
      });
    });
    findings.forEach(function (f, i) {
      f.addEventListener("click", function (ev) {
        if (ev.target.closest("form") || ev.target.closest("a")) return;
        focusFinding(i);
      });
    });
    $$(".keylink").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var td = byId("cell-" + a.dataset.key);
        if (td) { ev.preventDefault(); selectCell(td); td.scrollIntoView({ block: "center" }); }
      });
    });
    var m = /^#finding-(.+)$/.exec(location.hash);
    if (m) {
      var idx = findings.findIndex(function (f) { return f.dataset.id === m[1]; });
      if (idx >= 0) focusFinding(idx);
    }
    var c = /^#cell-(.+)$/.exec(location.hash);
    if (c) { var td = byId("cell-" + decodeURIComponent(c[1])); if (td) selectCell(td); }
  });

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "j") { focusFinding(current + 1); ev.preventDefault(); }
    else if (ev.key === "k") { focusFinding(current - 1); ev.preventDefault(); }
    else if (ev.key === "c" && current >= 0) {
      var form = $(".confirm-form", findings[current]);
      if (form) form.submit();
    } else if (ev.key === "d" && current >= 0) {
      var reason = $(".dismiss-form .reason", findings[current]);
      if (reason) { reason.focus(); ev.preventDefault(); }
    }
  });
})();
