// Change your own password (POST /users/me/password): the current one proves it is you; every other session of
// the account ends, and this page keeps the new token it is answered with. Also where a temporary password leads.
import { $, ApiError, api, clearErrors, fieldError, params, say, showApiError, start, useToken } from "./common.js";

const HOME = { coordinator: "/app/dashboard", volunteer: "/app/manifest", registrar: "/app/households" };
let me = null;

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = { current_password: $("#current_password").value, new_password: $("#new_password").value };
  let ok = true;
  if (!body.current_password) ok = !fieldError("current_password", "Please enter your current password.") && ok;
  if (body.new_password.length < 8) ok = !fieldError("new_password", "The password must have at least 8 characters.") && ok;
  else if ($("#repeat_password").value !== body.new_password) {
    ok = !fieldError("repeat_password", "The two new passwords are not the same.") && ok;
  }
  if (!ok) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  let answer;
  try {
    answer = await api("/users/me/password", { method: "POST", body });
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 422) showApiError(form, exc, { password: "new_password" });
    else showApiError(form, exc);
    return;
  }
  const wasTemporary = me.must_change_password;
  me = await useToken(answer.access_token);
  form.reset();
  say("Your password is changed. You are signed out on every other device.");
  if (wasTemporary) {
    const next = params().get("next");
    location.assign(next && next.startsWith("/app/") && !next.startsWith("//") ? next : HOME[me.role] || "/app/");
  }
}

start().then((user) => {
  if (!user) return;
  me = user;
  $("#temporary-note").hidden = !user.must_change_password;
  $("#password-form").addEventListener("submit", submit);
});
