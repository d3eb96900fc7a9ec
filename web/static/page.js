// The pages' own behaviour on top of Gradio (both pages load it; each part acts only where its elements are).
// Gradio renders after this runs, so everything is delegated from the document or watches for elements.
(function () {
  "use strict";
  var LARGE_KEY = "pa-large-text";
  var root = document.documentElement;
  root.lang = "zh-CN";  // Gradio writes lang="en"; screen readers would read the Chinese with an English voice
  try { if (localStorage.getItem(LARGE_KEY) === "1") root.classList.add("pa-large"); } catch (e) { /* storage off */ }

  // 大字 rules live here: Gradio copies the page's CSS scoped under its container, where rules on
  // <html> never match and lose to the scoped copies of the normal sizes
  var style = document.createElement("style");
  style.textContent = "html { scrollbar-gutter: stable; overflow-y: scroll; } " + "html.pa-large #pa-chat .message-wrap .message { font-size: 21px !important; } html.pa-large #pa-chat .placeholder p, html.pa-large #pa-chat .placeholder li, html.pa-large #pa-chat .examples .example-text { font-size: 1.25rem !important; } html.pa-large #pa-chat .placeholder h3 { font-size: 1.4rem !important; } html.pa-large #pa-question textarea { font-size: 21px !important; } html.pa-large .pa-header h1 { font-size: 1.6rem !important; } html.pa-large .pa-header p, html.pa-large .pa-header p span { font-size: 1.1rem !important; } html.pa-large .pa-notice-bar, html.pa-large .pa-tool { font-size: 1.2rem !important; }";
  document.head.appendChild(style);

  function $(sel, el) { return (el || document).querySelector(sel); }
  function say(text) {  // for screen readers: a polite live region
    var live = $("#pa-live");
    if (live) { live.textContent = ""; setTimeout(function () { live.textContent = text; }, 50); }
  }
  function questionBox() { return $("#pa-question textarea"); }

  // ---------------------------------------------------------------- 大字 (large text), remembered
  function syncLarge() {
    var b = $("#pa-large");
    if (b) b.setAttribute("aria-pressed", root.classList.contains("pa-large") ? "true" : "false");
  }

  // ---------------------------------------------------------------- copy an answer (plain text, full citations)
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {  // plain http on a LAN address: the old way
      var t = document.createElement("textarea");
      t.value = text; t.setAttribute("readonly", ""); t.style.position = "fixed"; t.style.opacity = "0";
      document.body.appendChild(t); t.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(t);
      ok ? resolve() : reject(new Error("copy failed"));
    });
  }

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof Element)) return;
    var copyBtn = t.closest(".pa-copy-btn");
    if (copyBtn) {
      e.preventDefault();
      var source = copyBtn.parentElement && copyBtn.parentElement.querySelector(".pa-copy-text");
      copyText(source ? source.textContent : "").then(function () {
        copyBtn.textContent = "已复制"; say("回答已复制");
      }, function () {
        copyBtn.textContent = "复制失败，请长按文字复制"; say("复制失败");
      });
      setTimeout(function () { copyBtn.textContent = "复制回答"; }, 2500);
      return;
    }
    if (t.closest("#pa-large")) {
      var on = root.classList.toggle("pa-large");
      try { localStorage.setItem(LARGE_KEY, on ? "1" : "0"); } catch (err) { /* storage off */ }
      syncLarge(); say(on ? "已切换为大字" : "已切换为标准字号");
      return;
    }
    var dialog = $("#pa-clear-dialog");
    if (t.closest("#pa-clear") && dialog) { dialog.showModal(); $("#pa-clear-cancel").focus(); return; }
    if (t.closest("#pa-clear-cancel") && dialog) { dialog.close(); return; }
    if (t.closest("#pa-clear-ok") && dialog) {
      dialog.close();
      var doIt = $("#pa-clear-do");
      if (doIt) doIt.click();
      say("对话已清空");
      var q = questionBox();
      if (q) q.focus();
    }
  });
  document.addEventListener("keydown", function (e) {  // Space on the copy link, as on a real button
    if (e.key === " " && e.target instanceof Element && e.target.matches(".pa-copy-btn")) {
      e.preventDefault(); e.target.click();
    }
  });
  // the console's article list: filtered as you type (every space-separated part must appear)
  document.addEventListener("input", function (e) {
    if (!(e.target instanceof Element) || e.target.id !== "pa-find") return;
    // brackets do not count: 第十二条 finds 第（十二）条
    var norm = function (t) { return t.toLowerCase().replace(/[（）()〔〕\[\]【】]/g, ""); };
    var parts = norm(e.target.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    document.querySelectorAll("#pa-find-list li").forEach(function (li) {
      var text = norm(li.textContent);
      var ok = parts.every(function (p) { return text.indexOf(p) >= 0; });
      li.hidden = !ok; if (ok) shown++;
    });
    var count = $(".pa-find-count");
    if (count) count.textContent = parts.length ? "筛选出 " + shown + " 条" : "共 " + shown + " 条";
  });
  document.addEventListener("close", function (e) {  // Esc or 取消: back to the button that opened it
    if (e.target && e.target.id === "pa-clear-dialog" && e.target.returnValue !== "ok") {
      var b = $("#pa-clear"); if (b && document.activeElement !== questionBox()) b.focus();
    }
  }, true);

  // ---------------------------------------------------------------- after each answer
  // The question box is locked while an answer is computed; when it unlocks, focus goes back to it
  // and the start of the new answer (not the end of its citation list) is scrolled into view.
  var waiting = false;
  function afterAnswer() {
    var q = questionBox();
    if (!q) return;
    var answers = document.querySelectorAll("#pa-chat .pa-answer:not(.pa-draft)");
    var last = answers[answers.length - 1];
    q.focus({ preventScroll: true });
    if (last) {
      var row = last.closest(".message-row") || last;
      var box = last.closest(".bubble-wrap") || $("#pa-chat .bubble-wrap");
      if (box) box.scrollTop += row.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
      var top = row.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight * 0.6) window.scrollBy(0, top - 8);
      say("已回答");
    }
  }

  // Gradio leaves a few labels in English whatever the locale; residents get Chinese ones.
  var LABELS = { "Like": "有帮助", "Dislike": "没帮助", "赞": "有帮助", "踩": "没帮助", "Liked": "已评：有帮助", "Disliked": "已评：没帮助",
    "Copy": "复制", "Copied": "已复制", "Copy message": "复制", "Clear": "清空", "Scroll down": "滚动到底部",
    "Scroll to bottom": "滚动到底部", "Submit": "发送", "Stop": "停止", "Close": "关闭", "Loading...": "正在回答…",
    "chatbot conversation": "对话", "Textbox": "输入框", "Dropdown": "下拉选择", "Clear chat": "清空" };
  function translate(el) {
    ["aria-label", "title"].forEach(function (attr) {
      var v = el.getAttribute && el.getAttribute(attr);
      if (!v) return;
      if (Object.prototype.hasOwnProperty.call(LABELS, v)) el.setAttribute(attr, LABELS[v]);
      // each chat message is labelled "bot's message: <its raw HTML>": a screen reader would read the markup
      else if (/^bot's message: /.test(v)) el.setAttribute(attr, "助手的回答");
      else if (/^user's message: /.test(v)) el.setAttribute(attr, "您的提问");
      else if (/^Select example \d+: /.test(v)) el.setAttribute(attr, "示例问题：" + v.replace(/^Select example \d+: /, ""));
    });
  }
  // toast titles: Gradio shows "Info"/"Warning"/"Error" whatever title the server gave
  var TITLES = { "Info": "已收到", "Warning": "提示", "Error": "出错了", "Success": "完成" };
  function translateAll(node) {
    if (!(node instanceof Element)) return;
    node.querySelectorAll(".toast-title, [data-testid='toast-title']").forEach(function (t) {
      var v = t.textContent.trim();
      if (Object.prototype.hasOwnProperty.call(TITLES, v)) t.textContent = TITLES[v];
    });
    translate(node);
    node.querySelectorAll("[aria-label],[title]").forEach(translate);
  }

  window.paShowViewer = function () {  // the console: bring the article pane into view after opening one
    setTimeout(function () {
      var v = $("#pa-viewer-box");
      if (!v) return;
      var r = v.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight * 0.5) v.scrollIntoView({ behavior: "smooth", block: "start" });
      var h = $("#pa-viewer h2");
      if (h) { h.setAttribute("tabindex", "-1"); h.focus({ preventScroll: true }); }
    }, 350);
  };

  new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (r.type === "attributes") {
        var el = r.target;
        if (r.attributeName === "disabled" && el.matches && el.matches("#pa-question textarea")) {
          if (el.disabled) waiting = true;
          else if (waiting) { waiting = false; setTimeout(afterAnswer, 60); }
        } else if (r.attributeName === "aria-label" || r.attributeName === "title") {
          translate(el);
        }
      } else {
        r.addedNodes.forEach(translateAll);
        if (r.addedNodes.length) syncLarge();
      }
    });
  }).observe(document.documentElement, { subtree: true, childList: true, attributes: true,
    attributeFilter: ["disabled", "aria-label", "title"] });
})();
