// Runs in <head>, before the page is painted: the theme the user chose (remembered), else the system's.
// Without JavaScript the page follows the system through the dark sheet's media query (base.html);
// here a remembered "dark" turns that sheet on whatever the system says ("light" turns it off: its
// rules all skip <html data-theme="light">). dagflow-ui.js calls window.dagflowTheme on a toggle.
(function () {
  "use strict";
  const SYSTEM = "(prefers-color-scheme: dark)";
  function apply(theme) {
    document.documentElement.dataset.theme = theme;
    const sheet = document.getElementById("dark-theme");
    if (sheet) { sheet.media = theme === "dark" ? "all" : SYSTEM; }
  }
  let theme = null;
  try { theme = localStorage.getItem("dagflow-theme"); } catch (e) { theme = null; }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia(SYSTEM).matches ? "dark" : "light";
  }
  apply(theme);
  window.dagflowTheme = apply;
})();
