/* The help widget's loader, served as /widget.js. It draws only the launcher button; the panel is an
   iframe of the help center, made on first open. Budget: 5 KB gzipped (see BENCHMARKS.md).
   Install:  <script async src="https://HELP-HOST/widget.js"></script>
   Settings: window.KBWidgetSettings = {...} and/or data-* attributes on the script tag.
   API:      KBWidget("open" | "close" | "toggle" | "ask", text | "search", text | "suggest", [slugs] |
                      "identify", user | "reset" | "on", event, callback); calls made before this
             script ran wait in KBWidget.q (the queue stub in the README). */
(function (w, d) {
  "use strict";
  if (w.KBWidget && w.KBWidget.loaded) return;
  var script = d.currentScript || d.querySelector("script[src*='/widget.js']");
  if (!script) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var KEY = "kbw_conv";
  var data = script.dataset, S = {
    position: data.position || "right", color: data.color || "", greeting: data.greeting || "",
    launcherLabel: data.launcherLabel || "Help", darkMode: data.darkMode || "auto", locale: data.locale || "auto",
    defaultOpen: data.defaultOpen === "true", hideLauncher: data.hideLauncher === "true", zIndex: 2147483000
  };
  var given = w.KBWidgetSettings || {};
  for (var k in given) S[k] = given[k];
  var handlers = {}, user = S.user || null, token = read(), session = null;
  var host, root, button, box, frame, frameReady, toFrame = [], opened = false, ready = false, lastUrl;

  function read() { try { return localStorage.getItem(KEY); } catch (e) { return null; } }
  function write(value) {
    try { if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY); } catch (e) { /* private mode */ }
  }
  function emit(event, payload) {
    (handlers[event] || []).slice().forEach(function (cb) {
      try { cb(payload); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }
  function warn(text) { if (w.console) console.warn("KBWidget: " + text); }

  // White or black text on the accent, whichever contrasts more.
  function onColor(hex) {
    var n = parseInt(hex.slice(1), 16), l = 0;
    [n >> 16, (n >> 8) & 255, n & 255].forEach(function (c, i) {
      c /= 255;
      l += [0.2126, 0.7152, 0.0722][i] * (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    });
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#000";
  }

  function draw() {
    host = d.createElement("div");
    host.setAttribute("data-kb-widget", "");
    root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
    var color = /^#([0-9a-f]{3}){1,2}$/i.test(S.color) ? S.color : "#4f46e5";
    if (color.length === 4) color = "#" + color.slice(1).replace(/./g, "$&$&");
    var side = S.position === "left" ? "left" : "right", z = parseInt(S.zIndex, 10) || 2147483000;
    var css = ":host{all:initial}" +
      "button{position:fixed;bottom:20px;" + side + ":20px;z-index:" + z + ";display:flex;align-items:center;gap:8px;" +
      "min-height:48px;padding:0 18px 0 14px;border:2px solid #fff;border-radius:999px;background:" + color +
      ";color:" + onColor(color) + ";font:600 15px/1 system-ui,sans-serif;cursor:pointer;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
      "button:focus-visible{outline:3px solid " + color + ";outline-offset:3px}" +
      "svg{width:22px;height:22px}" +
      ".p{position:fixed;bottom:84px;" + side + ":20px;z-index:" + z + ";width:400px;max-width:calc(100vw - 40px);" +
      "height:min(680px,calc(100vh - 104px));border-radius:16px;overflow:hidden;background:#fff;" +
      "box-shadow:0 12px 48px rgba(0,0,0,.3)}" +
      ".p[hidden]{display:none}iframe{border:0;width:100%;height:100%;display:block;color-scheme:normal}" +
      "@media (prefers-reduced-motion:no-preference){.p{animation:kbw .16s ease-out}" +
      "@keyframes kbw{from{opacity:0;transform:translateY(8px)}}}" +
      // Phones: the panel takes the whole screen (it has its own close button).
      "@media (max-width:667px){.p{inset:0;width:100%;max-width:none;height:100%;border-radius:0}}";
    // A constructed sheet is not an inline <style>, so pages whose CSP forbids inline styles still work.
    if (root.adoptedStyleSheets && w.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = d.createElement("style");
      style.textContent = css;
      root.appendChild(style);
    }
    button = d.createElement("button");
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "kbw-panel");
    button.setAttribute("aria-haspopup", "dialog");
    var NS = "http://www.w3.org/2000/svg", icon = d.createElementNS(NS, "svg"), path = d.createElementNS(NS, "path");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12 3C6.5 3 2 6.9 2 11.6c0 2.5 1.3 4.8 3.4 6.3L4.6 21l3.9-1.9c1.1.3 2.3.5 3.5.5 " +
      "5.5 0 10-3.9 10-8.6S17.5 3 12 3z");
    icon.appendChild(path);
    button.appendChild(icon);
    button.appendChild(d.createTextNode(S.launcherLabel));
    button.addEventListener("click", toggle);
    if (S.hideLauncher) button.hidden = true;
    box = d.createElement("div");
    box.className = "p";
    box.id = "kbw-panel";
    box.hidden = true;
    root.appendChild(button);
    root.appendChild(box);
    d.body.appendChild(host);
  }

  function page() { return {url: location.href, title: d.title}; }

  // The conversation token lives in this page's storage: the frame's own storage is partitioned or
  // blocked as third-party in current browsers, so it would forget the conversation on every site.
  function start() {
    if (!session) {
      session = fetch(ORIGIN + "/api/widget/session", {
        method: "POST", headers: {"Content-Type": "application/json"}, credentials: "omit",
        body: JSON.stringify({token: token, page_url: location.href, user: user})
      }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.detail || "HTTP " + r.status);
          token = body.token;
          write(token);
          return body;
        });
      }).catch(function (e) {
        session = null;
        warn("the help center refused or could not be reached (" + e.message + "). Is this site in " +
             "KB_WIDGET_ALLOWED_ORIGINS?");
        throw e;
      });
    }
    return session;
  }

  function post(message) {
    if (frameReady) frame.contentWindow.postMessage(message, ORIGIN);
    else toFrame.push(message);
  }

  function init(s) {
    var message = {type: "kbw:init", token: s.token, user: s.user, page: page(), settings: {
      color: S.color, greeting: S.greeting, darkMode: S.darkMode, locale: S.locale, suggestions: S.suggestions
    }};
    // init goes first, ahead of any queued command.
    if (frameReady) frame.contentWindow.postMessage(message, ORIGIN);
    else toFrame.unshift(message);
  }

  function makeFrame() {
    frame = d.createElement("iframe");
    frame.title = "Help";
    var theme = S.darkMode === "light" || S.darkMode === "dark" ? S.darkMode : "auto";
    frame.src = ORIGIN + "/widget/frame?host=" + encodeURIComponent(location.origin) + "&theme=" + theme +
      "&lang=" + encodeURIComponent(S.locale === "auto" ? (navigator.language || "en") : S.locale);
    box.appendChild(frame);
    if (!lastUrl) setInterval(watchUrl, 1000);
    lastUrl = location.href;
  }

  // Single-page products change the URL without a page load: tell the frame, so each message records
  // the page it was sent from and the suggestions follow.
  function watchUrl() {
    if (frame && location.href !== lastUrl) {
      lastUrl = location.href;
      post({type: "kbw:page", page: page()});
    }
  }

  w.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== ORIGIN) return;
    var m = event.data || {};
    if (m.type === "kbw:ready") {
      frameReady = true;
      toFrame.splice(0).forEach(post);
    } else if (m.type === "kbw:close") close();
    else if (m.type === "kbw:message") emit("message", m.message);
    else if (m.type === "kbw:handoff") emit("handoff", m.ticket);
    else if (m.type === "kbw:expired") {
      token = session = null;
      write(null);
      start().then(init, function () {});
    }
  });

  function open(quiet) {
    if (opened) return;
    opened = true;
    button.setAttribute("aria-expanded", "true");
    if (!frame) makeFrame();
    box.hidden = false;
    start().then(init, function () { close(); });
    // Focus moves into the panel, to its message box (not when the page opens it on load).
    if (quiet !== true) {
      frame.focus();
      post({type: "kbw:open"});
    }
    emit("open");
  }

  function close() {
    if (!opened) return;
    opened = false;
    box.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.focus();
    emit("close");
  }

  function toggle() { if (opened) close(); else open(); }

  var API = {
    open: function () { open(); }, close: close, toggle: toggle,
    ask: function (text) { open(); post({type: "kbw:ask", text: String(text || "")}); },
    search: function (text) { open(); post({type: "kbw:search", text: String(text || "")}); },
    suggest: function (slugs) {
      S.suggestions = slugs;
      post({type: "kbw:suggest", slugs: slugs});
    },
    identify: function (u) {
      user = u || null;
      session = null;
      if (frame) start().then(init, function () {});
    },
    reset: function () {
      close();
      token = user = session = null;
      write(null);
      if (frame) { frame.remove(); frame = null; frameReady = false; toFrame = []; }
    },
    on: function (event, cb) {
      (handlers[event] = handlers[event] || []).push(cb);
      if (event === "ready" && ready) cb();
      return function () { handlers[event] = handlers[event].filter(function (f) { return f !== cb; }); };
    }
  };

  function KBWidget(command) {
    var f = API[command];
    if (!f) return warn("unknown command " + command);
    return f.apply(null, [].slice.call(arguments, 1));
  }
  KBWidget.loaded = true;

  function boot() {
    draw();
    var queue = (w.KBWidget && w.KBWidget.q) || [];
    w.KBWidget = KBWidget;
    queue.forEach(function (args) { KBWidget.apply(null, args); });
    ready = true;
    emit("ready");
    if (S.defaultOpen && !opened) open(true);
  }
  if (d.body) boot(); else d.addEventListener("DOMContentLoaded", boot);
})(window, document);
