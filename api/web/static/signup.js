// Volunteer sign-up (POST /users/signup), then sign-in and on to registering a car.
import { $, api, clearErrors, fieldError, formError, showApiError, signIn, start } from "./common.js";

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = {
    name: $("#name").value.trim(),
    email: $("#email").value.trim(),
    phone: $("#phone").value.trim(),
    password: $("#password").value,
  };
  let ok = true;
  if (!body.name) ok = !fieldError("name", "Please enter your name.") && ok;
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email)) {
    ok = !fieldError("email", "Enter an e-mail address like name@example.org.") && ok;
  }
  if (body.password.length < 8) ok = !fieldError("password", "The password must have at least 8 characters.") && ok;
  if (!ok) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  try {
    await api("/users/signup", { method: "POST", body });
  } catch (exc) {
    showApiError(form, exc);
    return;
  }
  try {
    await signIn(body.email, body.password);
  } catch (exc) {
    // The service does not say whether an e-mail has an account; if it had one, this password is not its own.
    formError(form, "We could not sign you in with this e-mail address and password. If you have an account " +
      "already, sign in with your own password instead.");
    return;
  }
  location.assign("/app/vehicles?welcome=1");
}

start().then(() => {
  $("#signup-form").addEventListener("submit", submit);
});
