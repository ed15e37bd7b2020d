// Cars: a volunteer registers and changes their own; a coordinator sees every car (GET /vehicles decides).
import {
  $, all, api, checkNumber, clearErrors, fieldError, h, minutes, numberValue, params, registerServiceWorker, say,
  showApiError, start,
} from "./common.js";
import { placeText } from "./map.js";
import { fillPlace, readPlace, setupPlace } from "./place.js";
import { Pager, setupCsv } from "./roster.js";

let user = null;
let editing = null; // the vehicle being changed, or null when registering a new one
let picker = null;
let pager = null; // coordinators: one page of all the cars at a time
let owners = new Map(); // coordinators: account id -> account, to say who drives each car

function describe(v) {
  const parts = [`${v.seats} seat${v.seats === 1 ? "" : "s"}`];
  if (v.wheelchair_spaces) parts.push(`${v.wheelchair_spaces} wheelchair place${v.wheelchair_spaces === 1 ? "" : "s"}`);
  const from = v.available_from_minute ? `from ${minutes(v.available_from_minute)} after the alarm` : "from the start";
  const until = v.available_until_minute === null ? "to the end" : `until ${minutes(v.available_until_minute)}`;
  parts.push(`free ${from} ${until}`);
  return parts.join(", ");
}

/** Who drives a car, in words: a coordinator sees the owner's name and phone (the accounts read is audited). */
function driver(v, owners) {
  const u = v.owner_id === user.id ? user : owners.get(v.owner_id);
  if (!u) return h("p", { class: "hint" }, `Driver: account ${v.owner_id}`);
  const phone = u.phone ? [", ", h("a", { href: `tel:${u.phone.replace(/[^+\d]/g, "")}` }, u.phone)] : ", no phone given";
  return h("p", { class: "driver" }, "Driver: ", h("strong", {}, u.name || u.email), v.owner_id === user.id ? " (you)" : "", phone);
}

async function load() {
  if (pager) return pager.load();
  const vehicles = await all("/vehicles");
  cards(vehicles);
  return vehicles;
}

function cards(vehicles) {
  const list = $("#vehicle-list");
  list.replaceChildren(...vehicles.map((v) => h("li", { class: "card" },
    h("h3", {}, v.label || `Car ${v.id}`),
    h("p", {}, describe(v)),
    h("p", {}, placeText(v)),
    driver(v, owners),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => edit(v) }, "Change ", h("span", { class: "visually-hidden" }, v.label || `car ${v.id}`)),
      h("button", { type: "button", class: "secondary", onclick: () => remove(v) }, "Remove ", h("span", { class: "visually-hidden" }, v.label || `car ${v.id}`))),
  )));
  $("#empty").hidden = vehicles.length > 0 || (pager !== null && pager.query().toString() !== "");
}

function edit(v) {
  editing = v;
  const form = $("#vehicle-form");
  clearErrors(form);
  $("#form-title").textContent = `Change ${v.label || `car ${v.id}`}`;
  $("#label").value = v.label;
  $("#seats").value = v.seats;
  $("#wheelchair_spaces").value = v.wheelchair_spaces;
  $("#available_from_minute").value = v.available_from_minute;
  $("#available_until_minute").value = v.available_until_minute ?? "";
  fillPlace(v, picker);
  $("#save").textContent = "Save the changes";
  $("#cancel").hidden = false;
  $("#label").focus();
}

function reset() {
  editing = null;
  const form = $("#vehicle-form");
  form.reset();
  clearErrors(form);
  fillPlace(null, picker);
  $("#form-title").textContent = "Register a car";
  $("#save").textContent = "Register the car";
  $("#cancel").hidden = true;
}

async function remove(v) {
  if (!confirm(`Remove ${v.label || `car ${v.id}`}? It will not be given drives any more.`)) return;
  try {
    await api(`/vehicles/${v.id}?version=${v.version}`, { method: "DELETE" });
    say(`${v.label || `Car ${v.id}`} was removed.`);
    if (editing && editing.id === v.id) reset();
    await load();
  } catch (exc) {
    say(exc.status === 409 ? "Someone changed this car meanwhile: the list is reloaded, try again." : `Not removed: ${exc.message}`);
    await load();
  }
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  let ok = checkNumber("seats", { min: 0, max: 100, required: true, label: "the number of seats" });
  ok = checkNumber("wheelchair_spaces", { min: 0, max: 20 }) && ok;
  ok = checkNumber("available_from_minute", { min: 0, max: 10080 }) && ok;
  ok = checkNumber("available_until_minute", { min: 0, max: 10080 }) && ok;
  const seats = numberValue("seats");
  const chairs = numberValue("wheelchair_spaces") ?? 0;
  if (ok && seats === 0 && chairs === 0) ok = !fieldError("seats", "The car needs at least one seat or wheelchair place.");
  const from = numberValue("available_from_minute") ?? 0;
  const until = numberValue("available_until_minute");
  if (ok && until !== null && until <= from) ok = !fieldError("available_until_minute", "Must be later than the start.");
  const place = readPlace();
  if (!ok || !place) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  const body = {
    label: $("#label").value.trim(),
    seats,
    wheelchair_spaces: chairs,
    available_from_minute: from,
    available_until_minute: until,
    ...place,
  };
  if (place.lat === null) {
    delete body.lat;
    delete body.lon;
  }
  try {
    if (editing) {
      await api(`/vehicles/${editing.id}`, { method: "PATCH", body: { ...body, version: editing.version } });
      say(`${body.label || "The car"} was saved.`);
    } else {
      const saved = await api("/vehicles", { method: "POST", body });
      say(`${saved.label || "Your car"} is registered. Thank you! You will see your drives under "My drives" when an alert comes.`);
    }
    reset();
    await load();
  } catch (exc) {
    showApiError(form, exc);
  }
}

registerServiceWorker();
start().then(async (me) => {
  if (!me) return;
  user = me;
  if (params().get("welcome")) say("Welcome! You are signed up. Now tell us about your car.");
  $("#vehicle-form").addEventListener("submit", submit);
  $("#cancel").addEventListener("click", reset);
  picker = await setupPlace();
  if (me.role === "coordinator") {
    owners = new Map((await all("/users")).map((u) => [u.id, u]));
    $("#vehicle-find").hidden = false;
    pager = new Pager({ path: "/vehicles", form: $("#vehicle-find"), table: $("#vehicle-list"), nav: $("#vehicle-pages"),
      noun: "car", nouns: "cars", render: cards });
    setupCsv("vehicles", { canImport: true, noun: "cars", onImported: load });
  }
  await load();
  if (me.role === "coordinator") $("#list-title").textContent = `All registered cars (${pager.total.toLocaleString("en-GB")})`;
  else $("#list-title").textContent = "Your cars";
});
