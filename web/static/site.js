/* Progressive enhancement for the help center. Every feature here also works without it:
   search submits a normal form, votes post a normal form, the theme follows the system. */
(function () {
  "use strict";

  var root = document.documentElement;
  var THEME_KEY = "kb-theme";

  /* ---------- theme toggle ---------- */
  function storedTheme() {
    try { return localStorage.getItem(THEME_KEY); } catch (e) { return null; }
  }
  var toggle = document.querySelector("[data-theme-toggle]");
  function syncToggle() {
    if (toggle) toggle.setAttribute("aria-pressed", String(root.getAttribute("data-theme") === "dark"));
  }
  if (toggle) {
    toggle.hidden = false;
    syncToggle();
    toggle.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* the choice lasts this page only */ }
      syncToggle();
    });
  }
  if (window.matchMedia) {
    // Follow the system while the reader has not chosen.
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function (event) {
      if (!storedTheme()) { root.setAttribute("data-theme", event.matches ? "dark" : "light"); syncToggle(); }
    });
  }

  /* ---------- search as you type (ARIA 1.2 combobox with a listbox popup) ---------- */
  var DEBOUNCE_MS = 250;
  var MIN_CHARS = 2;

  function setupSearch(form) {
    var input = form.querySelector("[role=combobox]");
    var list = form.querySelector("[role=listbox]");
    var status = form.querySelector("[data-search-status]");
    if (!input || !list) return;
    var timer = null, controller = null, options = [], active = -1, shownFor = null;

    function isOpen() { return !list.hidden; }
    function open() { if (options.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); } }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      setActive(-1);
    }
    function setActive(index) {
      options.forEach(function (option, i) { option.setAttribute("aria-selected", String(i === index)); });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function go(index) {
      var option = options[index];
      if (!option) return;
      if (option.dataset.url) { window.location.assign(option.dataset.url); } else { form.submit(); }
    }
    function option(id, title, meta, url, extraClass) {
      var li = document.createElement("li");
      li.id = id;
      li.className = "search__option" + (extraClass ? " " + extraClass : "");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      if (url) li.dataset.url = url;
      var t = document.createElement("span");
      t.className = "search__option-title";
      t.textContent = title; // text, never HTML: suggestions cannot inject markup
      li.appendChild(t);
      if (meta) {
        var m = document.createElement("span");
        m.className = "search__option-meta";
        m.textContent = meta;
        li.appendChild(m);
      }
      return li;
    }
    function render(query, suggestions) {
      list.textContent = "";
      options = suggestions.map(function (s, i) {
        var meta = s.section ? s.category_title + " › " + s.section : s.category_title;
        return option(list.id + "-" + i, s.title, meta, s.url);
      });
      if (options.length) {
        options.push(option(list.id + "-all", "See all results for “" + query + "”", "", "", "search__option--all"));
      }
      options.forEach(function (li, i) {
        li.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep focus in the input
        li.addEventListener("click", function () { go(i); });
        list.appendChild(li);
      });
      shownFor = query;
      setActive(-1);
      if (options.length) { open(); } else { close(); }
      if (status) {
        status.textContent = suggestions.length
          ? suggestions.length + " suggestion" + (suggestions.length === 1 ? "" : "s") + ". Use the up and down arrows to choose."
          : "No suggestions.";
      }
    }
    function fetchSuggestions() {
      var query = input.value.trim();
      if (query.length < MIN_CHARS) { close(); shownFor = null; return; }
      if (query === shownFor) { open(); return; }
      if (controller) controller.abort();
      controller = new AbortController();
      fetch("/api/suggest?q=" + encodeURIComponent(query), {
        signal: controller.signal, headers: { Accept: "application/json" }, credentials: "same-origin"
      })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) {
          if (input.value.trim() === query) render(query, data.suggestions || []);
        })
        .catch(function (error) { if (error.name !== "AbortError") close(); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!isOpen()) { if (options.length) open(); else fetchSuggestions(); return; }
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        var next = active + step;
        if (next >= options.length) next = -1;
        if (next < -1) next = options.length - 1;
        setActive(next);
      } else if (event.key === "Enter") {
        if (isOpen() && active >= 0) { event.preventDefault(); go(active); }
      } else if (event.key === "Escape") {
        if (isOpen()) { event.preventDefault(); close(); } else if (input.value) { event.preventDefault(); input.value = ""; shownFor = null; }
      } else if (event.key === "Home" || event.key === "End") {
        if (isOpen()) setActive(-1);
      }
    });
    input.addEventListener("focus", function () { if (input.value.trim() === shownFor) open(); });
    input.addEventListener("blur", function () { setTimeout(close, 120); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-search]"), setupSearch);

  // "/" or Ctrl/Cmd+K jumps to the search box (not while typing somewhere else).
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && target.closest && target.closest("input, textarea, select, [contenteditable='true']");
    var slash = event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey;
    var commandK = (event.key === "k" || event.key === "K") && (event.ctrlKey || event.metaKey);
    if (!slash && !commandK) return;
    var input = document.querySelector("[data-search] [role=combobox]");
    if (!input) return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  /* ---------- "Was this helpful?" without a page reload ---------- */
  var box = document.querySelector("[data-feedback]");
  if (box && window.fetch) {
    var slug = box.dataset.slug;
    var voteForm = box.querySelector("[data-vote-form]");
    var reasonForm = box.querySelector("[data-reason-form]");
    var thanks = box.querySelector("[data-feedback-status]");
    var comment = box.querySelector("textarea");
    var count = box.querySelector("[data-count]");

    var send = function (payload) {
      return fetch("/api/feedback", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload)
      }).then(function (response) {
        if (!response.ok) throw new Error("feedback was not recorded: " + response.status);
        return response.json();
      });
    };
    var say = function (text) {
      thanks.textContent = "";
      var span = document.createElement("span");
      span.textContent = text;
      thanks.appendChild(span);
    };
    var pressed = function (vote) {
      Array.prototype.forEach.call(voteForm.querySelectorAll("button[name=vote]"), function (b) {
        b.setAttribute("aria-pressed", String(b.value === vote));
      });
    };

    voteForm.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.value) return; // let the browser post the form
      event.preventDefault();
      var vote = button.value;
      send({ article_slug: slug, vote: vote }).then(function () {
        pressed(vote);
        if (vote === "up") {
          voteForm.hidden = true;
          reasonForm.hidden = true;
          say("Thanks! We're glad it helped.");
        } else {
          reasonForm.hidden = false;
          say("");
          var first = reasonForm.querySelector("input[type=radio]");
          if (first) first.focus();
        }
      }).catch(function () {
        // Fall back to the plain form post.
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "vote"; hidden.value = vote;
        voteForm.appendChild(hidden);
        voteForm.submit();
      });
    });

    reasonForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var checked = reasonForm.querySelector("input[name=reason]:checked");
      send({
        article_slug: slug, vote: "down", reason: checked ? checked.value : null,
        comment: comment ? comment.value : ""
      }).then(function () {
        reasonForm.hidden = true;
        voteForm.hidden = true;
        say("Thanks for telling us. We'll use it to improve this article.");
        thanks.setAttribute("tabindex", "-1");
        thanks.focus();
      }).catch(function () { reasonForm.submit(); });
    });

    if (comment && count) {
      var help = count.textContent;
      comment.addEventListener("input", function () {
        count.textContent = comment.value.length ? comment.value.length + " / 1000 characters" : help;
      });
    }
  }

  /* ---------- print button, and the table of contents following the reader ---------- */
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var tocLinks = document.querySelectorAll(".toc--side a[href^='#']");
  if (tocLinks.length && "IntersectionObserver" in window) {
    var byId = {};
    Array.prototype.forEach.call(tocLinks, function (a) { byId[decodeURIComponent(a.hash.slice(1))] = a; });
    var headings = Object.keys(byId).map(function (id) { return document.getElementById(id); }).filter(Boolean);
    var current = null;
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          if (current) current.removeAttribute("aria-current");
          current = byId[entry.target.id];
          current.setAttribute("aria-current", "true");
        }
      });
    }, { rootMargin: "-80px 0px -70% 0px" });
    headings.forEach(function (h) { observer.observe(h); });
  }
})();
