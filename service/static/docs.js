// Starts the vendored Swagger UI on /docs (an external script: the page's CSP allows no
// inline one). validatorUrl null: the badge would otherwise call validator.swagger.io.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.openapi,
  domNode: root,
  validatorUrl: null,
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
