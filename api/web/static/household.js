// Registering a household, a few questions per screen, for oneself or on behalf of someone else.
// Every answer is checked here in plain words and again by the API; an API error brings back the screen of the
// question it is about.
import {
  $, $$, ApiError, api, checkNumber, clearErrors, fieldError, h, numberValue, priorityWords, registerServiceWorker,
  showApiError, start,
} from "./common.js";
import { fillPlace, readPlace, setupPlace } from "./place.js";

const STEPS = $$(".step").map((el) => el.dataset.step);
const STEP_OF = {
  name: "who", phone: "who", address: "where", lat: "where", lon: "where", people: "people",
  wheelchair_users: "people", pets: "people", needs: "needs", other_needs: "needs", language: "needs",
  max_walk_meters: "needs", notes: "needs", priority: "urgency",
};
const KNOWN_NEEDS = $$("[data-need]").map((el) => el.value);

let current = 0;
let household = null; // when changing one
let activeAlert = null; // an alert going on now: a new household can be added to it at once
let picker = null;

function show(index, focus = true) {
  current = index;
  for (const el of $$(".step")) el.hidden = el.dataset.step !== STEPS[index];
  const last = index === STEPS.length - 1;
  $("#back").hidden = index === 0;
  $("#next").hidden = last;
  $("#submit").hidden = !last;
  $("#delete").hidden = !(last && household);
  $("#progress").textContent = `Step ${index + 1} of ${STEPS.length}`;
  if (last) review();
  if (focus) $(`.step[data-step="${STEPS[index]}"] h2`).focus();
}

function needs() {
  const picked = $$("[data-need]").filter((el) => el.checked).map((el) => el.value);
  const other = $("#other_needs").value.split(",").map((s) => s.trim()).filter(Boolean);
  return [...new Set([...picked, ...other])];
}

function priority() {
  const el = $("input[name=priority]:checked");
  return el ? Number(el.value) : 3;
}

/** Check the answers of one screen; errors go next to the fields. */
function check(step) {
  let ok = true;
  if (step === "who") {
    if (!$("#name").value.trim()) ok = !fieldError("name", "Please write the name, so the driver knows whom to ask for.");
  } else if (step === "where") {
    ok = readPlace() !== null;
  } else if (step === "people") {
    ok = checkNumber("people", { min: 1, max: 200, required: true, label: "how many people" });
    ok = checkNumber("wheelchair_users", { min: 0, max: 200 }) && ok;
    ok = checkNumber("pets", { min: 0, max: 50 }) && ok;
    if (ok && (numberValue("wheelchair_users") ?? 0) > numberValue("people")) {
      ok = !fieldError("wheelchair_users", "Cannot be more than the number of people. Count wheelchair users in the people too.");
    }
  } else if (step === "needs") {
    if (needs().some((n) => n.length > 50)) ok = !fieldError("other_needs", "Keep each need short: at most 50 letters.");
    ok = checkNumber("max_walk_meters", { min: 0, max: 5000 }) && ok;
  }
  return ok;
}

function next() {
  const form = $("#household-form");
  clearErrors(form);
  if (!check(STEPS[current])) {
    form.querySelector("[aria-invalid]")?.focus();
    return;
  }
  show(current + 1);
}

function back() {
  clearErrors($("#household-form"));
  show(current - 1);
}

function body() {
  const place = readPlace();
  const out = {
    name: $("#name").value.trim(),
    phone: $("#phone").value.trim(),
    address: place ? place.address : $("#address").value.trim(),
    people: numberValue("people"),
    wheelchair_users: numberValue("wheelchair_users") ?? 0,
    pets: numberValue("pets") ?? 0,
    needs: needs(),
    language: $("#language").value.trim(),
    max_walk_meters: numberValue("max_walk_meters"),
    notes: $("#notes").value.trim(),
    priority: priority(),
  };
  if (place && place.lat !== null) {
    out.lat = place.lat;
    out.lon = place.lon;
  }
  return out;
}

function review() {
  const b = body();
  const where = b.address || (b.lat !== undefined ? `map position ${b.lat}, ${b.lon}` : "");
  const rows = [
    ["Name", b.name, "who"],
    ["Phone", b.phone || "none given", "who"],
    ["Pick-up place", where, "where"],
    ["People", `${b.people}, of them ${b.wheelchair_users} in a wheelchair; ${b.pets} pet${b.pets === 1 ? "" : "s"}`, "people"],
    ["Needs", b.needs.join(", ") || "none", "needs"],
    ["Language", b.language || "not given", "needs"],
    ["Notes", b.notes || "none", "needs"],
    ["How soon", priorityWords(b.priority), "urgency"],
  ];
  $("#review").replaceChildren(...rows.flatMap(([label, value, step]) => [
    h("dt", {}, label),
    h("dd", {}, value, " ", h("button", {
      type: "button", class: "link-button", onclick: () => show(STEPS.indexOf(step)),
    }, "Change", h("span", { class: "visually-hidden" }, ` ${label.toLowerCase()}`))),
  ]));
}

async function save(event) {
  event.preventDefault();
  if (current < STEPS.length - 1) {
    next();
    return;
  }
  const form = $("#household-form");
  clearErrors(form);
  for (const step of STEPS.slice(0, -1)) {
    if (!check(step)) {
      show(STEPS.indexOf(step), false);
      form.querySelector("[aria-invalid]")?.focus();
      return;
    }
  }
  const data = body();
  const alert = !household && activeAlert && $("#in-alert").checked ? activeAlert : null;
  try {
    let saved;
    if (household) {
      saved = await api(`/households/${household.id}`, { method: "PATCH", body: { ...data, version: household.version } });
    } else if (alert) { // during an alert: registered and put in it at once, and a new plan is made
      saved = (await api(`/alerts/${alert.id}/households`, { method: "POST", body: data })).household;
    } else {
      saved = await api("/households", { method: "POST", body: data });
    }
    finish(household
      ? `The changes for ${saved.name} are saved.`
      : alert
        ? `Thank you. ${saved.name} is registered and added to ${alert.name || "the alert"}: a new plan with a ride for them is being made.`
        : `Thank you. ${saved.name} is registered. When an alert comes, the coordinator plans a ride for them.`);
  } catch (exc) {
    const placed = showApiError(form, exc, { needs: "other_needs" });
    if (placed.length) {
      show(STEPS.indexOf(STEP_OF[placed[0]] || "who"), false);
      $(`#${placed[0]}`).focus();
    }
  }
}

function finish(text) {
  $("#household-form").hidden = true;
  $("#done").hidden = false;
  $("#done-text").textContent = text;
  $("#done-text").focus();
}

async function remove() {
  if (!confirm(`Remove ${household.name || "this household"}? They will not get a ride.`)) return;
  try {
    await api(`/households/${household.id}?version=${household.version}`, { method: "DELETE" });
    finish(`${household.name || "The household"} was removed.`);
  } catch (exc) {
    showApiError($("#household-form"), exc);
  }
}

function fill(x) {
  $("#name").value = x.name;
  $("#phone").value = x.phone;
  fillPlace(x, picker);
  $("#people").value = x.people;
  $("#wheelchair_users").value = x.wheelchair_users;
  $("#pets").value = x.pets;
  for (const el of $$("[data-need]")) el.checked = x.needs.includes(el.value);
  $("#other_needs").value = x.needs.filter((n) => !KNOWN_NEEDS.includes(n)).join(", ");
  $("#language").value = x.language;
  $("#max_walk_meters").value = x.max_walk_meters ?? "";
  $("#notes").value = x.notes;
  let radio = $(`#priority-${x.priority}`);
  if (!radio) { // a level these screens do not offer (set through the API or a CSV): keep it selectable as it is
    const fieldset = $("input[name=priority]").closest("fieldset");
    radio = h("input", { type: "radio", name: "priority", id: `priority-${x.priority}`, value: x.priority });
    fieldset.append(h("div", { class: "check" }, radio,
      h("label", { for: `priority-${x.priority}` }, `As registered before (level ${x.priority}: ${priorityWords(x.priority)})`)));
  }
  radio.checked = true;
}

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  const form = $("#household-form");
  form.addEventListener("submit", save);
  $("#next").addEventListener("click", next);
  $("#back").addEventListener("click", back);
  $("#delete").addEventListener("click", remove);
  picker = await setupPlace(form);
  const id = document.body.dataset.householdId;
  if (id) {
    try {
      household = await api(`/households/${id}`);
    } catch (exc) {
      const box = $("#refused");
      box.textContent = exc instanceof ApiError && exc.status === 404
        ? "There is no such household, or it is not one you registered."
        : `The household could not be loaded: ${exc.message}`;
      box.hidden = false;
      $("#content").hidden = true;
      return;
    }
    fill(household);
    $("#submit").textContent = "Save the changes";
    $("#again").hidden = true;
  } else {
    const active = await api("/alerts?status=active").catch(() => []);
    activeAlert = active[0] || null;
    if (activeAlert) {
      $("#in-alert-label").textContent = `An evacuation is going on (${activeAlert.name || `alert ${activeAlert.id}`}): ` +
        "ask for a ride for them in it now";
      $("#in-alert-box").hidden = false;
    }
  }
  show(0, false);
});
