// dagflow's pages are rendered on the server; this file only adds live refresh and CSRF headers.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.dagflow = {
    csrfToken: meta ? meta.content : "",
    // Fetch JSON from the API with the session cookie (and the CSRF token on state changes).
    api: async function (path, options) {
      const init = Object.assign({ headers: {} }, options || {});
      init.headers["Accept"] = "application/json";
      if (init.method && init.method !== "GET") {
        init.headers["X-CSRFToken"] = this.csrfToken;
        init.headers["Content-Type"] = "application/json";
      }
      const response = await fetch(path, init);
      if (!response.ok) { throw new Error(response.status + " " + path); }
      return response.json();
    },
    // Call fn every `seconds` while the page is visible, until fn returns false.
    poll: function (fn, seconds) {
      let timer = null;
      const tick = async () => {
        let again = true;
        if (!document.hidden) {
          try { again = (await fn()) !== false; } catch (e) { again = true; }
        }
        if (again) { timer = setTimeout(tick, seconds * 1000); }
      };
      timer = setTimeout(tick, seconds * 1000);
      return () => clearTimeout(timer);
    },
  };
})();
