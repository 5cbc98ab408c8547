/* The /chat page, live: sends messages to /api/chat and draws replies without reloading.
   Without JavaScript the same page works through plain form posts. */
(function () {
  "use strict";
  var root = document.querySelector("[data-chat]");
  if (!root || !window.fetch) return;
  var log = root.querySelector("[data-chat-log]");
  var form = root.querySelector("[data-chat-form]");
  var input = form.querySelector("textarea");
  var KEY = "kb_chat_session";
  var session = root.getAttribute("data-session") || localStorage.getItem(KEY) || null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function post(url, body) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) throw new Error(data.detail || "Something went wrong, please try again.");
          return data;
        });
      });
  }

  function cards(articles, withSnippet) {
    var list = el("ul", "chat-cards");
    articles.forEach(function (a, i) {
      var item = el("li", "chat-card");
      var link = el("a", "chat-card__title", a.title);
      link.href = a.url + (a.anchor ? "#" + a.anchor : "");
      item.appendChild(link);
      if (a.section && a.section !== a.title) item.appendChild(el("span", "chat-card__section", a.section));
      if (withSnippet && i === 0 && a.snippet) {
        var p = el("p", "chat-card__snippet");
        p.innerHTML = a.snippet; // server-escaped text with <mark> only
        item.appendChild(p);
      }
      list.appendChild(item);
    });
    return list;
  }

  function clearSuggestions() {
    var old = root.querySelector(".chat__suggestions");
    if (old) old.remove();
  }

  function add(role, text, reply) {
    var msg = el("div", "chat-msg chat-msg--" + role);
    msg.appendChild(el("p", "chat-msg__text", text));
    if (reply && reply.articles && reply.articles.length) msg.appendChild(cards(reply.articles, reply.type === "answer"));
    if (reply && reply.type === "answer") msg.appendChild(voteBar());
    log.appendChild(msg);
    msg.scrollIntoView({block: "nearest", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth"});
    return msg;
  }

  function voteBar() {
    var bar = el("div", "chat-vote");
    bar.appendChild(el("span", null, "Did this help?"));
    [["Yes", true], ["No", false]].forEach(function (pair) {
      var b = el("button", "chip", pair[0]);
      b.type = "button";
      b.addEventListener("click", function () {
        post("/api/chat/" + session + "/feedback", {helpful: pair[1]}).then(function (data) {
          bar.replaceChildren(el("span", "chat-vote__done", "Thanks for the feedback."));
          if (data.reply) show(data.reply);
        }).catch(showError);
      });
      bar.appendChild(b);
    });
    return bar;
  }

  function show(reply) {
    add("bot", reply.text, reply);
    clearSuggestions();
    if (reply.suggestions && reply.suggestions.length) {
      var box = el("div", "chat__suggestions");
      box.setAttribute("aria-label", "Suggested replies");
      reply.suggestions.forEach(function (s) {
        var b = el("button", "chip", s);
        b.type = "button";
        b.addEventListener("click", function () {
          if (s === "Talk to a person") return openHandoff();
          send(s);
        });
        box.appendChild(b);
      });
      form.before(box);
    }
    if (reply.type === "handoff" && reply.handoff && reply.handoff.email_required) openHandoff();
  }

  function openHandoff() {
    var details = root.querySelector("[data-chat-handoff]");
    if (details) { details.open = true; details.querySelector("input").focus(); }
  }

  function showError(err) {
    var box = root.querySelector(".chat__error") || el("p", "chat__error");
    box.setAttribute("role", "alert");
    box.textContent = err.message;
    form.before(box);
  }

  function send(text) {
    var old = root.querySelector(".chat__error");
    if (old) old.remove();
    add("user", text);
    clearSuggestions();
    var body = {message: text, session_id: session, page_url: location.href};
    return post("/api/chat", body).then(function (reply) {
      session = reply.session_id;
      localStorage.setItem(KEY, session);
      show(reply);
    }).catch(showError);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  var handoff = root.querySelector("[data-chat-handoff] form");
  if (handoff) handoff.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData(handoff);
    var start = session ? Promise.resolve() : send("I'd like to talk to a person");
    start.then(function () {
      return post("/api/chat/" + session + "/handoff",
        {email: data.get("email"), name: data.get("name") || "", note: data.get("note") || ""});
    }).then(function (ticket) {
      var details = root.querySelector("[data-chat-handoff]");
      var done = el("p", "chat__ticket", ticket.text);
      done.setAttribute("role", "status");
      details.replaceWith(done);
    }).catch(showError);
  });

  // A conversation started here with JavaScript survives a reload through localStorage.
  if (!root.getAttribute("data-session") && session) {
    fetch("/api/chat/" + session).then(function (r) { return r.ok ? r.json() : null; }).then(function (t) {
      if (!t) { localStorage.removeItem(KEY); session = null; return; }
      t.messages.forEach(function (m) {
        add(m.role, m.text, m.role === "bot" ? {articles: m.articles, type: m.type} : null);
      });
    });
  }
})();
