// /api/docs: Swagger UI (vendored, see swagger-ui/README.md) on the OpenAPI document. "Try it out" sends
// the page's CSRF token, as the app's own pages do, so a logged-in user's session may act.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    requestInterceptor: function (request) {
      request.headers["X-CSRFToken"] = token;
      return request;
    },
  });
})();
