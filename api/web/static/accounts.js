// Accounts (coordinators only, like POST /users and GET /users): create registrars, volunteers, coordinators.
import { $, all, api, clearErrors, fieldError, h, registerServiceWorker, say, showApiError, start } from "./common.js";

const ROLE = { coordinator: "coordinator", volunteer: "volunteer", registrar: "registrar" };

async function load() {
  const users = await all("/users");
  $("#account-table tbody").replaceChildren(...users.map((u) => h("tr", {},
    h("td", {}, u.name), h("td", {}, u.email), h("td", {}, u.phone), h("td", {}, ROLE[u.role] + (u.is_active ? "" : " (deactivated)")))));
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = {
    name: $("#name").value.trim(),
    email: $("#email").value.trim(),
    phone: $("#phone").value.trim(),
    role: $("#role").value,
    password: $("#password").value,
  };
  let ok = true;
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email)) ok = !fieldError("email", "Enter an e-mail address like name@example.org.") && ok;
  if (body.password.length < 8) ok = !fieldError("password", "The password must have at least 8 characters.") && ok;
  if (!ok) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  try {
    await api("/users", { method: "POST", body });
  } catch (exc) {
    if (exc.status === 409) {
      fieldError("email", "An account with this e-mail address exists already.");
      $("#email").focus();
    } else showApiError(form, exc);
    return;
  }
  say(`The account for ${body.email} (${body.role}) is created.`);
  form.reset();
  await load();
}

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  $("#account-form").addEventListener("submit", submit);
  await load();
});
