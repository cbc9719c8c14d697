// Webmail helpers: select-all and confirmations. No inline handlers (the page CSP forbids them).
"use strict";
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
});
