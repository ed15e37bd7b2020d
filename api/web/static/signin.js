// Sign-in: the OAuth2 password form of the API; the token is kept in this tab's sessionStorage only.
import { $, ApiError, clearErrors, fieldError, formError, params, registerServiceWorker, signIn, start } from "./common.js";

const HOME = { coordinator: "/app/dashboard", volunteer: "/app/manifest", registrar: "/app/households" };

function safeNext(user) {
  const next = params().get("next");
  // Only our own pages: never an address on another site.
  if (next && next.startsWith("/app/") && !next.startsWith("//")) return next;
  return HOME[user.role] || "/app/";
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const email = $("#email").value.trim();
  const password = $("#password").value;
  let ok = true;
  if (!email) ok = !fieldError("email", "Please enter your e-mail address.") && ok;
  if (!password) ok = !fieldError("password", "Please enter your password.") && ok;
  if (!ok) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  try {
    const user = await signIn(email, password);
    location.assign(safeNext(user));
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) {
      formError(form, "The e-mail address or the password is wrong. Check them and try again.");
      $("#password").focus();
    } else if (exc instanceof ApiError && exc.status === 429) {
      // Locked out for a while after failed tries (or too many sign-ins from this network): say so, and when.
      const text = exc.message.replace(/; try again in (\d+) s$/, ". Try again in $1 seconds.");
      formError(form, text.charAt(0).toUpperCase() + text.slice(1));
    } else if (exc instanceof ApiError && exc.status === 503) {
      formError(form, "The service cannot reach its database just now. Try again in a moment.");
    } else {
      formError(form, "Could not sign in: there is no connection to the service. Try again in a moment.");
    }
  }
}

registerServiceWorker();
start().then(() => {
  $("#signin-form").addEventListener("submit", submit);
  $("#email").focus();
});
