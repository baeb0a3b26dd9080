// Runs in <head>, before the page is painted: the theme the user chose (remembered), else the system's.
(function () {
  "use strict";
  let theme = null;
  try { theme = localStorage.getItem("dagflow-theme"); } catch (e) { theme = null; }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.dataset.theme = theme;
})();
