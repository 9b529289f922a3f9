// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Close open <details> menus on Escape or on a click outside them.
  function closeMenus(except) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.user-menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.user-menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });

  // After a failed save, move focus to the first field that needs attention.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("form [aria-invalid='true']");
    if (invalid) invalid.focus();
  });
})();
