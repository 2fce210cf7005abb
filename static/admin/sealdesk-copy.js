// Copy buttons of Sealdesk's admin pages: <button data-copy="ID"> copies the text of the field
// with that id, and says so in the element with data-copy-status="ID" (the embed snippet on the
// tenant's page, templates/admin/agents/tenant/change_form.html), in the words the button's
// data-copied and data-select-to-copy give, which the template translates.

for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
  button.addEventListener("click", async () => {
    field.focus();
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = button.dataset.copied;
    } catch {
      // No clipboard access (a page not served over HTTPS, say): the text is selected to copy.
      status.textContent = button.dataset.selectToCopy;
    }
  });
}
