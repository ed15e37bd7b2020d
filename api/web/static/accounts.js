// Accounts (coordinators only, like the API): create, edit, approve, deactivate or reactivate, end sessions, and
// give a temporary password that must be changed at the next sign-in.
import {
  $, ApiError, all, api, clearErrors, fieldError, formError, h, registerServiceWorker, say, showApiError, start,
} from "./common.js";

const ROLE = { coordinator: "coordinator", volunteer: "volunteer", registrar: "registrar" };
let me = null;
let users = [];
let editing = null; // the account being changed, as last read

function state(u) {
  const words = [u.is_active ? "active" : "deactivated"];
  if (u.approval === "pending") words.push("waiting for approval");
  if (u.must_change_password) words.push("must change password");
  return words.join(", ");
}

async function load() {
  const box = $("#list-error");
  try {
    users = await all("/users");
  } catch (exc) {
    box.textContent = exc instanceof ApiError ? `The accounts could not be read: ${exc.message}.`
      : "There is no connection to the service: the list could not be read.";
    box.hidden = false;
    return;
  }
  box.hidden = true;
  $("#account-table tbody").replaceChildren(...users.map((u) => h("tr", { class: u.is_active ? "" : "inactive" },
    h("td", {}, u.name), h("td", {}, u.email), h("td", {}, u.phone), h("td", {}, ROLE[u.role]), h("td", {}, state(u)),
    h("td", {}, h("button", { type: "button", class: "link-button", onclick: () => edit(u.id),
      "aria-label": `Change ${u.name || u.email}` }, "Change")))));
  if (editing) {
    const fresh = users.find((u) => u.id === editing.id);
    if (fresh) fill(fresh);
  }
}

function fill(u) {
  editing = u;
  $("#edit-title").textContent = `Change the account of ${u.name || u.email}`;
  $("#edit-name").value = u.name;
  $("#edit-phone").value = u.phone;
  $("#edit-role").value = u.role;
  const self = u.id === me.id;
  $("#edit-role").disabled = self; // a coordinator may not demote or lock out themselves
  $("#toggle-active").textContent = u.is_active ? "Deactivate" : "Reactivate";
  $("#toggle-active").hidden = self;
  $("#approve").hidden = u.approval !== "pending";
  $("#end-sessions").hidden = self;
}

function edit(id) {
  const u = users.find((x) => x.id === id);
  clearErrors($("#edit-form"));
  clearErrors($("#reset-form"));
  fill(u);
  $("#edit-section").hidden = false;
  $("#edit-title").focus();
}

/** Run a change of the account being edited; errors go above `form`, success to the status line. */
async function change(form, work, done) {
  clearErrors(form);
  try {
    await work();
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 409) {
      formError(form, "Someone else changed this account since you opened it. It is shown as it is now: make your change again.");
      await load();
    } else showApiError(form, exc, { name: "edit-name", phone: "edit-phone", role: "edit-role" });
    return false;
  }
  say(done);
  await load();
  return true;
}

async function save(event) {
  event.preventDefault();
  const body = { version: editing.version, name: $("#edit-name").value.trim(), phone: $("#edit-phone").value.trim() };
  if (editing.id !== me.id) body.role = $("#edit-role").value;
  await change($("#edit-form"), () => api(`/users/${editing.id}`, { method: "PATCH", body }),
    `The account of ${editing.email} is saved.`);
}

async function toggleActive() {
  const on = !editing.is_active;
  await change($("#edit-form"),
    () => api(`/users/${editing.id}`, { method: "PATCH", body: { version: editing.version, is_active: on } }),
    on ? `${editing.email} can sign in again.` : `${editing.email} is deactivated and signed out everywhere.`);
}

async function approve() {
  await change($("#edit-form"), () => api(`/users/${editing.id}/approve`, { method: "POST" }),
    `${editing.email} is approved: their approved cars take part in the next plan.`);
}

async function endSessions() {
  await change($("#edit-form"), () => api(`/users/${editing.id}/sign-out`, { method: "POST" }),
    `${editing.email} is signed out everywhere.`);
}

async function reset(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const password = $("#temporary_password").value;
  clearErrors(form);
  if (password.length < 8) {
    fieldError("temporary_password", "The password must have at least 8 characters.");
    $("#temporary_password").focus();
    return;
  }
  const ok = await change(form, () => api(`/users/${editing.id}/password`, { method: "POST", body: { temporary_password: password } }),
    `${editing.email} has a temporary password now and is signed out everywhere. At the next sign-in they choose their own.`);
  if (ok) form.reset();
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
    if (exc instanceof ApiError && exc.status === 409) {
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
  me = user;
  $("#account-form").addEventListener("submit", submit);
  $("#edit-form").addEventListener("submit", save);
  $("#reset-form").addEventListener("submit", reset);
  $("#approve").addEventListener("click", approve);
  $("#toggle-active").addEventListener("click", toggleActive);
  $("#end-sessions").addEventListener("click", endSessions);
  $("#edit-cancel").addEventListener("click", () => {
    $("#edit-section").hidden = true;
    editing = null;
  });
  await load();
});
