// Review page behaviour: cell <-> source scrolling, finding highlights, the page image, keyboard
// shortcuts, bulk selection. No report text is ever inserted as HTML here: only textContent,
// classes and positions are set.
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function byId(id) { return document.getElementById(id); }
  var STATUS = { open: "待审", confirmed: "已确认", dismissed: "已驳回", corrected: "已更正" };

  function clearHl() { $$(".hl").forEach(function (el) { el.classList.remove("hl"); }); }
  function hlKeys(keys) {
    keys.forEach(function (k) {
      var cell = byId("cell-" + k); if (cell) cell.classList.add("hl");
      $$("[data-keys]", byId("source")).forEach(function (el) {
        if (el.dataset.keys.split(" ").indexOf(k) >= 0) el.classList.add("hl");
      });
    });
  }
  function scrollSourceTo(el) { if (el) el.scrollIntoView({ block: "center" }); }

  function showPage(card) {
    var fig = byId("page-view");
    if (!fig) return;
    if (!card || !card.dataset.pageSrc) { fig.hidden = true; return; }
    var box = card.dataset.box.split(" ").map(parseFloat);
    var img = byId("page-img"), mark = byId("page-box");
    if (img.getAttribute("src") !== card.dataset.pageSrc) img.setAttribute("src", card.dataset.pageSrc);
    mark.style.left = box[0] + "%"; mark.style.top = box[1] + "%";
    mark.style.width = box[2] + "%"; mark.style.height = box[3] + "%";
    byId("page-caption").textContent = "原件第 " + card.dataset.page + " 页（红框为该格在原件中的位置）";
    fig.hidden = false;
  }

  function selectCell(td) {
    var key = td.dataset.key;
    clearHl();
    hlKeys([key]);
    if (byId("correct-form")) {
      byId("correct-key").value = key;
      byId("correct-label").textContent = td.dataset.label || key;
      byId("correct-value").value = td.dataset.value;
      byId("cell-info").textContent = td.dataset.info || "";
    }
    scrollSourceTo(byId("src-" + key));
  }

  var cards = [];
  var current = -1;
  function isOpen(i) { return cards[i] && cards[i].dataset.status === "open"; }
  function focusCard(i) {
    if (i < 0 || i >= cards.length) return;
    current = i;
    cards.forEach(function (f) { f.classList.remove("current"); });
    var f = cards[current];
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
    showPage(f);
    if (!byId("page-view") || byId("page-view").hidden) {
      if (quotes.length) scrollSourceTo(quotes[0]);
      else if (keys.length) scrollSourceTo(byId("src-" + keys[0]));
    }
    if (history.replaceState) history.replaceState(null, "", "#finding-" + id);
  }
  // j/k walk the cards still to decide; decided ones are skipped
  function step(dir) {
    for (var i = current + dir; i >= 0 && i < cards.length; i += dir) {
      if (isOpen(i)) { focusCard(i); return; }
    }
  }

  function askBeforeChange(form) {
    var was = form.dataset.status, to = form.dataset.new;
    if (!was || was === "open" || was === to) return true;
    if (!window.confirm("这组问题已审核为“" + (STATUS[was] || was) + "”，确定改为“" + (STATUS[to] || to) + "”吗？")) return false;
    var o = $(".overturn", form); if (o) o.value = "1";
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    cards = $$("li.finding");
    $$("td.cell").forEach(function (td) { td.addEventListener("click", function () { selectCell(td); }); });
    $$(".num[data-keys]").forEach(function (el) {
      el.addEventListener("click", function () {
        var key = el.dataset.keys.split(" ")[0];
        var td = byId("cell-" + key);
        if (td) { clearHl(); hlKeys([key]); td.scrollIntoView({ block: "center" }); }
      });
    });
    cards.forEach(function (f, i) {
      f.addEventListener("click", function (ev) {
        if (ev.target.closest("form") || ev.target.closest("a")) return;
        focusCard(i);
      });
    });
    $$("form.confirm-form, form.dismiss-form").forEach(function (form) {
      form.addEventListener("submit", function (ev) { if (!askBeforeChange(form)) ev.preventDefault(); });
    });
    $$(".keylink").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var td = byId("cell-" + a.dataset.key);
        if (td) { ev.preventDefault(); selectCell(td); td.scrollIntoView({ block: "center" }); }
      });
    });
    var bulk = byId("bulk-form");
    if (bulk) {
      var picks = $$("input.pick", bulk);
      var count = function () {
        var n = picks.filter(function (p) { return p.checked; }).length;
        byId("bulk-count").textContent = n ? "已选 " + n + " 条" : "";
      };
      picks.forEach(function (p) { p.addEventListener("change", count); });
      byId("pick-all").addEventListener("change", function (ev) {
        picks.forEach(function (p) { p.checked = ev.target.checked; }); count();
      });
      bulk.addEventListener("submit", function (ev) {
        var action = byId("bulk-action").value;
        var to = { confirm: "confirmed", dismiss: "dismissed", reopen: "open" }[action];
        var chosen = picks.filter(function (p) { return p.checked; });
        if (!chosen.length) { ev.preventDefault(); byId("bulk-count").textContent = "请先选中问题"; return; }
        if (action === "dismiss" && !byId("bulk-reason").value.trim()) {
          ev.preventDefault(); byId("bulk-reason").focus(); byId("bulk-count").textContent = "驳回需要填写理由"; return;
        }
        var changing = chosen.filter(function (p) { return p.dataset.status !== "open" && p.dataset.status !== to; });
        if (changing.length && action !== "reopen") {
          if (!window.confirm("选中的问题中有 " + changing.length + " 条已有审核结论，确定一并改为“" + STATUS[to] + "”吗？")) { ev.preventDefault(); return; }
          $(".overturn", bulk).value = "1";
        }
      });
    }
    var m = /^#finding-(.+)$/.exec(location.hash);
    var after = /^#next-after-(.+)$/.exec(location.hash);
    if (m) {
      var idx = cards.findIndex(function (f) { return f.dataset.id === m[1]; });
      if (idx >= 0) focusCard(idx);
    } else if (after) {
      // back from a decision: on to the next card still open after the one just decided
      var at = cards.findIndex(function (f) { return f.dataset.id === after[1]; });
      current = at;
      step(1);
      if (current === at) { current = -1; step(1); }
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
    if (ev.key === "j") { step(1); ev.preventDefault(); }
    else if (ev.key === "k") { step(-1); ev.preventDefault(); }
    else if (ev.key === "c" && current >= 0) {
      var form = $(".confirm-form", cards[current]);
      if (form && askBeforeChange(form)) form.submit();
    } else if (ev.key === "d" && current >= 0) {
      var reason = $(".dismiss-form .reason", cards[current]);
      if (reason) { reason.focus(); ev.preventDefault(); }
    }
  });
})();
