// Webmail helpers: select-all, confirmations, and unread counts kept fresh without a reload.
// No inline handlers anywhere (the page CSP forbids them).
"use strict";
(function () {
  var POLL_MS = 30000;

  function updateFromStatus(data) {
    var table = document.querySelector("table.messages[data-folder]");
    (data.folders || []).forEach(function (folder) {
      document.querySelectorAll(".folders a[data-folder]").forEach(function (link) {
        if (link.getAttribute("data-folder") !== folder.name) {
          return;
        }
        var badge = link.querySelector(".badge");
        if (badge) {
          badge.textContent = String(folder.unseen);
          badge.hidden = folder.unseen === 0;
        }
      });
      if (table && table.getAttribute("data-folder") === folder.name &&
          String(folder.exists) !== table.getAttribute("data-exists")) {
        var note = document.getElementById("new-mail");
        if (note) {
          note.hidden = false;
        }
      }
    });
  }

  function poll() {
    var url = document.body.getAttribute("data-status-url");
    if (!url || !document.querySelector(".folders")) {
      return Promise.resolve();
    }
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(updateFromStatus)
      .catch(function () { /* offline or signed out: try again later */ });
  }
  window.webmailPoll = poll;  // lets the browser tests run one poll now

  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("table.messages input[name=uid]").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
    document.querySelectorAll(".confirm[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
    window.setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        poll();
      }
    });
  });
})();
