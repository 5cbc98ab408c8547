/* Runs in <head>, before the page is painted: apply the saved theme (or the system's) so a dark
   page never flashes white. Kept tiny and blocking on purpose. */
(function () {
  var theme = null;
  try { theme = localStorage.getItem("kb-theme"); } catch (e) { /* storage may be blocked */ }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.setAttribute("data-theme", theme);
})();
