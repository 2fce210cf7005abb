// Sections of an admin page that only one routing mode uses, <div data-routing-section="MODE">
// (the Twilio section of a tenant's page, taskrouter/templates/taskrouter/workspace_inline.html):
// shown while the page's routing mode is MODE, hidden otherwise.

const routing = document.querySelector("select[name=routing]");
routing?.addEventListener("change", () => {
  for (const section of document.querySelectorAll("[data-routing-section]")) {
    section.hidden = section.dataset.routingSection !== routing.value;
  }
});
