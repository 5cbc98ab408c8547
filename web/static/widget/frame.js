/* The widget's panel (an iframe of the help center inside the customer's page).
   It talks to /api/widget with the conversation token the loader passes in, and to the loader only
   by postMessage: always to the page's own origin (data-host), and it only listens to that origin. */
(function () {
  "use strict";
  var panel = document.querySelector("[data-panel]");
  var HOST = panel.getAttribute("data-host");
  function $(selector) { return panel.querySelector(selector); }
  var body = $("[data-body]"), home = $("[data-home]"), log = $("[data-log]"), input = $("#kbw-input");
  var composer = $("[data-composer]"), errorBox = $("[data-error]"), results = $("[data-results]");
  var articleView = $("[data-article]"), handoffView = $("[data-handoff]"), handoffForm = $("[data-handoff-form]");
  var state = {token: null, user: null, settings: {}, page: {url: "", title: ""}, slugs: null, shownSlugs: "",
               ticket: null, back: null};
  var reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");
  // Resolved by the loader's first "init" (the token): what the visitor does before that waits for it.
  var markReady, ready = new Promise(function (resolve) { markReady = resolve; });

  function tell(type, data) {
    var message = {type: "kbw:" + type};
    for (var key in data || {}) message[key] = data[key];
    parent.postMessage(message, HOST);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function api(method, path, payload) {
    var headers = {"Authorization": "Bearer " + state.token};
    if (payload) headers["Content-Type"] = "application/json";
    return fetch(path, {method: method, headers: headers, body: payload ? JSON.stringify(payload) : undefined})
      .then(function (r) {
        if (r.status === 401) {
          tell("expired"); // the help center forgot this conversation: the loader starts a new one
          throw new Error("This conversation had ended, so a new one has started. Please try again.");
        }
        if (r.status === 429) {
          throw new Error("You're going a little fast. Please try again in " + (r.headers.get("Retry-After") || "a few") + " seconds.");
        }
        if (!r.ok) {
          return r.json().catch(function () { return {}; }).then(function (data) {
            throw new Error(data.detail ? "Sorry: " + data.detail + "." : "Something went wrong. Please try again.");
          });
        }
        return (/json/.test(r.headers.get("Content-Type") || "") ? r.json() : r.text());
      });
  }

  function showError(err) { errorBox.textContent = (err && err.message) || String(err); }
  function clearError() { errorBox.textContent = ""; }

  function scrollToEnd() {
    body.scrollTo({top: body.scrollHeight, behavior: reducedMotion.matches ? "auto" : "smooth"});
  }

  // -- views: home (greeting, suggestions, search, conversation), an article, the handoff form ----

  function showView(view, focusTarget) {
    if (!state.back) state.back = {scroll: body.scrollTop, focus: document.activeElement};
    home.hidden = view !== home;
    articleView.hidden = view !== articleView;
    handoffView.hidden = view !== handoffView;
    body.scrollTop = 0;
    if (focusTarget) focusTarget.focus();
  }

  function showHome(restore) {
    if (home.hidden) {
      home.hidden = false;
      articleView.hidden = handoffView.hidden = true;
      if (restore && state.back) {
        body.scrollTop = state.back.scroll;
        if (state.back.focus && document.contains(state.back.focus)) state.back.focus.focus();
      }
    }
    state.back = null;
  }

  Array.prototype.forEach.call(panel.querySelectorAll("[data-back]"), function (button) {
    button.addEventListener("click", function () { showHome(true); });
  });

  // -- articles: cards in answers, opened inside the panel (or in a new tab) -----------------------

  function articleHref(a) { return a.url + (a.anchor ? "#" + a.anchor : ""); }

  function openLink(link, slug, anchor) {
    link.addEventListener("click", function (event) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return; // a new tab, as asked
      event.preventDefault();
      openArticle(slug, anchor);
    });
  }

  function openArticle(slug, anchor) {
    clearError();
    return fetch("/api/articles/" + encodeURIComponent(slug)).then(function (r) {
      if (!r.ok) throw new Error("Sorry, that article could not be opened.");
      return r.json();
    }).then(function (article) {
      $("[data-article-title]").textContent = article.title;
      var content = $("[data-article-body]");
      content.innerHTML = article.html; // sanitized by the help center when the article was built
      Array.prototype.forEach.call(content.querySelectorAll("a[href]"), function (a) {
        var target = new URL(a.getAttribute("href"), location.href);
        var inner = target.origin === location.origin && /^\/articles\/([^/]+)$/.exec(target.pathname);
        if (a.getAttribute("href").charAt(0) === "#") return;
        if (inner) openLink(a, decodeURIComponent(inner[1]), target.hash.slice(1));
        else { a.target = "_blank"; a.rel = "noopener"; }
      });
      var newTab = $("[data-newtab]");
      newTab.href = article.url + (anchor ? "#" + anchor : "");
      showView(articleView, $("[data-article-title]"));
      var section = anchor && document.getElementById(anchor);
      if (section && content.contains(section)) section.scrollIntoView();
    }).catch(showError);
  }

  function cards(articles, withSnippet) {
    var list = el("ul", "cards");
    articles.forEach(function (a, i) {
      var item = el("li", "card");
      var link = el("a", "card__title", a.title);
      link.href = articleHref(a);
      openLink(link, a.slug, a.anchor);
      item.appendChild(link);
      if (a.section && a.section !== a.title) item.appendChild(el("span", "card__section", a.section));
      if (withSnippet && i === 0 && a.snippet) {
        var p = el("p", "card__snippet");
        p.innerHTML = a.snippet; // escaped by the server, with <mark> only
        item.appendChild(p);
      }
      var tab = el("a", "card__newtab", "Open in a new tab");
      tab.href = articleHref(a);
      tab.target = "_blank";
      tab.rel = "noopener";
      tab.setAttribute("aria-label", "Open \u201c" + a.title + "\u201d in a new tab");
      item.appendChild(tab);
      list.appendChild(item);
    });
    return list;
  }

  // -- the conversation ---------------------------------------------------------------------------

  var SPEAKERS = {user: "You", bot: "Assistant", system: "Notice"};

  function addMessage(m) {
    var node = el("div", "msg msg--" + m.role);
    node.setAttribute("role", "article");
    node.setAttribute("aria-label", SPEAKERS[m.role] || m.role);
    node.appendChild(el("p", "msg__text", m.text));
    if (m.articles && m.articles.length) node.appendChild(cards(m.articles, m.type === "answer"));
    if (m.role === "bot" && m.type === "answer" && m.id) node.appendChild(voteBar(m));
    var chips = (m.suggestions || []).slice();
    if (m.type === "handoff" && m.handoff && m.handoff.email_required) chips.push("Talk to a person");
    if (chips.length) node.appendChild(chipBar(chips));
    log.appendChild(node);
    return node;
  }

  function chipBar(labels) {
    var bar = el("div", "chips");
    labels.forEach(function (label) {
      var chip = el("button", "chip", label);
      chip.type = "button";
      chip.addEventListener("click", function () {
        if (label === "Talk to a person") openHandoff();
        else { bar.remove(); send(label); }
      });
      bar.appendChild(chip);
    });
    return bar;
  }

  function voteBar(m) {
    var bar = el("div", "vote");
    if (m.feedback) {
      bar.appendChild(el("span", "vote__done", "Thanks for the feedback."));
      return bar;
    }
    bar.appendChild(el("span", null, "Was this helpful?"));
    [["Yes", true], ["No", false]].forEach(function (pair) {
      var button = el("button", "chip", pair[0]);
      button.type = "button";
      button.addEventListener("click", function () {
        api("POST", "/api/widget/feedback", {helpful: pair[1], message_id: m.id}).then(function (data) {
          var done = el("span", "vote__done", "Thanks for the feedback.");
          bar.replaceChildren(done);
          if (data.reply) reply(data.reply);
        }).catch(showError);
      });
      bar.appendChild(button);
    });
    return bar;
  }

  function reply(r) {
    addMessage({role: "bot", id: r.message_id, text: r.text, type: r.type, articles: r.articles,
                suggestions: r.suggestions, handoff: r.handoff});
    if (r.handoff && r.handoff.ticket) state.ticket = r.handoff.ticket;
    tell("message", {message: {role: "bot", type: r.type, text: r.text}});
    scrollToEnd();
  }

  function send(text) {
    text = (text || "").trim();
    if (!text || !state.token) return Promise.resolve();
    clearError();
    showHome(false);
    Array.prototype.forEach.call(log.querySelectorAll(".chips"), function (bar) { bar.remove(); });
    addMessage({role: "user", text: text});
    tell("message", {message: {role: "user", text: text}});
    var typing = el("p", "typing", "The assistant is typing…");
    log.appendChild(typing);
    scrollToEnd();
    return api("POST", "/api/widget/messages", {message: text, page_url: state.page.url || null})
      .then(reply, showError)
      .then(function () { typing.remove(); });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    input.style.height = "";
    ready.then(function () { send(text); });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    input.style.height = "";
    input.style.height = input.scrollHeight + 2 + "px";
  });

  // -- talk to a person ----------------------------------------------------------------------------

  function openHandoff() {
    var email = handoffForm.elements.email;
    var intro = $("[data-handoff-intro]");
    if (state.ticket) intro.textContent = "Your request " + state.ticket.reference + " is with our team. You can update your email here.";
    showView(handoffView, email.value ? handoffForm.elements.note : email);
  }

  $("[data-person]").addEventListener("click", openHandoff);

  handoffForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var f = handoffForm.elements, button = handoffForm.querySelector("button[type=submit]");
    button.disabled = true;
    clearError();
    var payload = {email: f.email.value.trim(), name: f.name.value.trim(), note: f.note.value.trim()};
    ready.then(function () { return api("POST", "/api/widget/handoff", payload); }).then(function (ticket) {
      state.ticket = {reference: ticket.reference, status: ticket.status};
      f.note.value = "";
      showHome(false);
      var node = addMessage({role: "system", text: ticket.text});
      node.setAttribute("tabindex", "-1");
      node.focus();
      scrollToEnd();
      tell("handoff", {ticket: state.ticket});
    }, showError).then(function () { button.disabled = false; });
  });

  // -- search and suggested articles --------------------------------------------------------------

  function articleLinks(list, items, describe) {
    list.replaceChildren();
    items.forEach(function (a) {
      var li = el("li");
      var link = el("a", null, a.title);
      link.href = articleHref(a);
      openLink(link, a.slug, a.anchor);
      var more = describe(a);
      if (more) {
        var small = el("small");
        small.innerHTML = more; // server-escaped snippet, or text set below
        link.appendChild(small);
      }
      li.appendChild(link);
      list.appendChild(li);
    });
  }

  $("[data-search]").addEventListener("submit", function (event) {
    event.preventDefault();
    search($("#kbw-search").value);
  });

  function search(q) {
    q = (q || "").trim();
    $("#kbw-search").value = q;
    if (!q) return;
    fetch("/api/search?limit=5&q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (data) {
      results.replaceChildren();
      if (!data.results || !data.results.length) {
        results.appendChild(el("p", null, "No articles match \u201c" + q + "\u201d. Try other words, or ask below."));
        return;
      }
      var list = el("ul", "links");
      list.setAttribute("aria-label", "Search results");
      articleLinks(list, data.results, function (a) { return a.snippet; });
      results.appendChild(list);
    }).catch(showError);
  }

  function glob(pattern, text) {
    var source = pattern.split("*").map(function (part) { return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"); }).join(".*");
    return new RegExp("^" + source + "$").test(text);
  }

  // KBWidgetSettings.suggestions: a list of slugs, or {"/billing/*": ["refunds"], ...} matched on the path (or the whole URL).
  function slugsForPage() {
    if (state.slugs) return state.slugs;
    var map = state.settings.suggestions;
    if (!map) return [];
    if (Array.isArray(map)) return map;
    var url = state.page.url || "", path = url;
    try { path = new URL(url).pathname; } catch (e) { /* not a URL: match it as it is */ }
    for (var pattern in map) {
      if (glob(pattern, pattern.charAt(0) === "/" ? path : url)) return map[pattern];
    }
    return [];
  }

  function showSuggested() {
    var slugs = slugsForPage().slice(0, 3), key = slugs.join(",");
    if (key === state.shownSlugs && state.token) return;
    state.shownSlugs = key;
    var query = slugs.map(function (s) { return "slug=" + encodeURIComponent(s); }).join("&");
    api("GET", "/api/widget/articles" + (query ? "?" + query : "")).then(function (articles) {
      var box = $("[data-suggested]");
      $("#kbw-suggested").textContent = slugs.length ? "Suggested for this page" : "Popular articles";
      articleLinks($("[data-suggested-list]"), articles, function () { return ""; });
      box.hidden = !articles.length;
    }).catch(function () { /* suggestions are a nicety: the panel works without them */ });
  }

  // -- settings from the page ---------------------------------------------------------------------

  function luminance(hex) {
    var n = parseInt(hex.slice(1), 16);
    return [n >> 16, (n >> 8) & 255, n & 255].reduce(function (sum, c, i) {
      c /= 255;
      c = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
      return sum + c * [0.2126, 0.7152, 0.0722][i];
    }, 0);
  }

  function applySettings(s) {
    var root = document.documentElement;
    if (s.darkMode === "light" || s.darkMode === "dark") root.setAttribute("data-theme", s.darkMode);
    else root.removeAttribute("data-theme");
    var color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(s.color || "") ? s.color : "";
    if (color.length === 4) color = "#" + color.slice(1).replace(/./g, "$&$&");
    if (color) {
      // White or black text, whichever contrasts more with the accent (at least 4.58:1 for any colour).
      var l = luminance(color);
      root.style.setProperty("--accent", color);
      root.style.setProperty("--on-accent", (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? "#ffffff" : "#000000");
    } else {
      root.style.removeProperty("--accent");
      root.style.removeProperty("--on-accent");
    }
    var lang = s.locale && s.locale !== "auto" ? s.locale : navigator.language;
    if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(lang || "")) root.lang = lang;
    if (s.greeting) $("[data-greeting]").textContent = s.greeting;
  }

  function applyUser(user) {
    state.user = user;
    var f = handoffForm.elements;
    if (user && user.email && !f.email.value) f.email.value = user.email;
    if (user && user.name && !f.name.value) f.name.value = user.name;
  }

  // -- messages from the loader -------------------------------------------------------------------

  function load() {
    log.replaceChildren();
    state.ticket = null;
    return api("GET", "/api/widget/transcript").then(function (t) {
      state.ticket = t.ticket;
      if (t.user) applyUser(t.user);
      t.messages.forEach(function (m) { addMessage(m); });
      scrollToEnd();
    }).catch(showError);
  }

  var commands = {
    init: function (m) {
      var fresh = m.token !== state.token;
      state.token = m.token;
      state.settings = m.settings || {};
      state.page = m.page || state.page;
      applySettings(state.settings);
      applyUser(m.user);
      state.shownSlugs = null;
      showSuggested();
      if (fresh) load().then(markReady);
    },
    open: function () {
      if (!articleView.hidden || !handoffView.hidden) return;
      input.focus();
    },
    page: function (m) {
      state.page = m.page;
      showSuggested();
    },
    ask: function (m) { ready.then(function () { send(m.text); }); },
    search: function (m) { showHome(false); search(m.text); $("#kbw-search").focus(); },
    suggest: function (m) { state.slugs = Array.isArray(m.slugs) ? m.slugs : null; showSuggested(); }
  };

  window.addEventListener("message", function (event) {
    if (event.source !== parent || event.origin !== HOST) return; // only the page that embeds us
    var m = event.data;
    if (!m || typeof m.type !== "string" || m.type.indexOf("kbw:") !== 0) return;
    var command = commands[m.type.slice(4)];
    if (command) command(m);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); tell("close"); }
  });
  $("[data-close]").addEventListener("click", function () { tell("close"); });

  $("[data-download]").addEventListener("click", function () {
    api("GET", "/api/widget/transcript.txt").then(function (text) {
      var link = el("a");
      link.href = URL.createObjectURL(new Blob([text], {type: "text/plain"}));
      link.download = "conversation-" + new Date().toISOString().slice(0, 10) + ".txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }).catch(showError);
  });

  tell("ready");
})();
