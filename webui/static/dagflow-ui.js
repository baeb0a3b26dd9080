// Preferences (theme, time zone), timestamps in the chosen zone, and pages' [data-live] regions that
// refresh themselves (the server answers 304 while nothing changed). No library, nothing from a CDN.
(function () {
  "use strict";
  const root = document.documentElement;
  const store = {
    get: (key) => { try { return localStorage.getItem(key); } catch (e) { return null; } },
    set: (key, value) => { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } },
  };
  const pad = (n) => String(n).padStart(2, "0");
  // theme-init.js's, which also switches the dark sheet on or off; the attribute alone where it is missing
  const setTheme = window.dagflowTheme || ((theme) => { root.dataset.theme = theme; });

  // One format everywhere: 2024-01-02 03:04:05 UTC, or the same in the browser's zone with its name.
  function formatTime(date, zone) {
    if (zone !== "local") {
      return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) + " " +
        pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds()) + " UTC";
    }
    const name = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date)
      .find((part) => part.type === "timeZoneName");
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      (name ? " " + name.value : "");
  }
  function zone() { return store.get("dagflow-zone") === "local" ? "local" : "utc"; }
  function formatTimes(scope) {
    const chosen = zone();
    for (const el of (scope || document).querySelectorAll("time[datetime]")) {
      const date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) { el.textContent = formatTime(date, chosen); el.title = el.getAttribute("datetime"); }
    }
  }

  function labelButtons() {
    for (const button of document.querySelectorAll("button[data-pref=theme]")) {
      const dark = root.dataset.theme === "dark";
      button.textContent = dark ? "Light" : "Dark";
      button.setAttribute("aria-label", dark ? "Use the light theme" : "Use the dark theme");
    }
    for (const button of document.querySelectorAll("button[data-pref=zone]")) {
      const local = zone() === "local";
      button.textContent = local ? "Local time" : "UTC";
      button.setAttribute("aria-label", local ? "Times in this browser's zone: show UTC" : "Times in UTC: show local time");
    }
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-pref]");
    if (!button) { return; }
    if (button.dataset.pref === "theme") {
      setTheme(root.dataset.theme === "dark" ? "light" : "dark");
      store.set("dagflow-theme", root.dataset.theme);
    } else {
      store.set("dagflow-zone", zone() === "local" ? "utc" : "local");
      formatTimes(document);
    }
    labelButtons();
  });
  // Follow the system's theme while the user has not chosen one.
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", (event) => {
      if (!store.get("dagflow-theme")) { setTheme(event.matches ? "dark" : "light"); labelButtons(); }
    });
  }

  // Live regions: each [data-live="seconds"] element with an id is replaced by the same element of
  // the page fetched again, when the page changed (ETag). Paused while the tab is hidden.
  function live() {
    const regions = Array.from(document.querySelectorAll("[data-live][id]"));
    if (!regions.length || !window.dagflow) { return; }
    const seconds = Math.max(2, Math.min(...regions.map((el) => Number(el.dataset.live) || 5)));
    // The tag of what the page shows: a page whose view has a change mark (webui/live.py) carries it,
    // read before it was rendered, so a change made while the page loads is still seen on the first
    // poll. Other pages ask for it (below), which misses a change made in between.
    const shown = document.querySelector('meta[name="dagflow-etag"]');
    let etag = shown ? '"' + shown.content + '"' : null;
    window.dagflow.poll(async () => {
      const headers = { "X-Requested-With": "dagflow-live" };
      if (etag) { headers["If-None-Match"] = etag; }
      const response = await fetch(window.location.href, { headers: headers, cache: "no-store", credentials: "same-origin" });
      if (response.status === 304) { return true; }
      if (!response.ok || response.redirected) { return true; }
      etag = response.headers.get("ETag");
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of regions) {
        const next = fresh.getElementById(region.id);
        if (next && next.innerHTML !== region.innerHTML) {
          region.innerHTML = next.innerHTML;
          formatTimes(region);
          region.dispatchEvent(new CustomEvent("dagflow:refreshed", { bubbles: true }));
        }
      }
      return true;
    }, seconds);
    if (etag) { return; }
    // any other page: the first answer tells us the ETag of what the page shows now
    fetch(window.location.href, { method: "HEAD", cache: "no-store", credentials: "same-origin" })
      .then((response) => { if (response.ok && !etag) { etag = response.headers.get("ETag"); } })
      .catch(() => {});
  }

  window.dagflow = Object.assign(window.dagflow || {}, { formatTimes: formatTimes, formatTime: formatTime });
  formatTimes(document);
  labelButtons();
  // A chart too wide for the screen (a year's calendar) starts scrolled to what matters most in it.
  for (const el of document.querySelectorAll(".chart-scroll [data-focus]")) {
    const box = el.closest(".chart-scroll");
    box.scrollLeft += el.getBoundingClientRect().right - box.getBoundingClientRect().right + 24;
  }
  live();
})();
