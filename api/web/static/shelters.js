// Shelters: everyone signed in reads them; coordinators add, change and remove them.
import {
  $, all, api, checkNumber, clearErrors, fieldError, h, numberValue, registerServiceWorker, say, showApiError, start,
} from "./common.js";
import { SvgMap, loadRoads, placeText } from "./map.js";
import { fillPlace, readPlace, setupPlace } from "./place.js";
import { setupCsv } from "./roster.js";

let user = null;
let editing = null;
let picker = null;
let overview = null;

const yes = (b) => (b ? "yes" : "no");

async function load() {
  const shelters = await all("/shelters");
  const coordinator = user.role === "coordinator";
  $("#shelter-table tbody").replaceChildren(...shelters.map((s) => h("tr", {},
    h("td", {}, s.name || `Shelter ${s.id}`),
    h("td", {}, placeText(s)),
    h("td", {}, `${s.capacity} people`),
    h("td", {}, yes(s.wheelchair_accessible)),
    h("td", {}, yes(s.pets_allowed)),
    coordinator ? h("td", {},
      h("button", { type: "button", class: "secondary", onclick: () => edit(s) }, "Change", h("span", { class: "visually-hidden" }, ` ${s.name}`)), " ",
      h("button", { type: "button", class: "secondary", onclick: () => remove(s) }, "Remove", h("span", { class: "visually-hidden" }, ` ${s.name}`))) : null,
  )));
  $("#shelter-table").hidden = shelters.length === 0;
  $("#empty").hidden = shelters.length > 0;
  if (overview) {
    overview.clear("marks");
    for (const s of shelters) {
      overview.mark("marks", [s.lon, s.lat], { cls: "shelter", r: 8, square: true, title: `${s.name}: room for ${s.capacity}` });
    }
  }
}

function edit(s) {
  editing = s;
  clearErrors($("#shelter-form"));
  $("#form-title").textContent = `Change ${s.name || `shelter ${s.id}`}`;
  $("#name").value = s.name;
  $("#capacity").value = s.capacity;
  $("#wheelchair_accessible").checked = s.wheelchair_accessible;
  $("#pets_allowed").checked = s.pets_allowed;
  fillPlace(s, picker);
  $("#save").textContent = "Save the changes";
  $("#cancel").hidden = false;
  $("#name").focus();
}

function reset() {
  editing = null;
  const form = $("#shelter-form");
  form.reset();
  clearErrors(form);
  fillPlace(null, picker);
  $("#form-title").textContent = "Add a shelter";
  $("#save").textContent = "Add the shelter";
  $("#cancel").hidden = true;
}

async function remove(s) {
  if (!confirm(`Remove the shelter ${s.name}?`)) return;
  try {
    await api(`/shelters/${s.id}?version=${s.version}`, { method: "DELETE" });
    say(`${s.name} was removed.`);
  } catch (exc) {
    say(`Not removed: ${exc.message}`);
  }
  await load();
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  let ok = true;
  if (!$("#name").value.trim()) ok = !fieldError("name", "Please enter the name of the shelter.");
  ok = checkNumber("capacity", { min: 0, max: 1000000, required: true, label: "how many people fit in" }) && ok;
  const place = readPlace();
  if (!ok || !place) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  const body = {
    name: $("#name").value.trim(),
    capacity: numberValue("capacity"),
    wheelchair_accessible: $("#wheelchair_accessible").checked,
    pets_allowed: $("#pets_allowed").checked,
    ...place,
  };
  if (place.lat === null) {
    delete body.lat;
    delete body.lon;
  }
  try {
    if (editing) await api(`/shelters/${editing.id}`, { method: "PATCH", body: { ...body, version: editing.version } });
    else await api("/shelters", { method: "POST", body });
    say(`${body.name} is saved.`);
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
  try {
    overview = new SvgMap($("#shelter-map"), await loadRoads(), { label: "Map of the shelters (green squares)" });
  } catch (exc) {
    $("#shelter-map").hidden = true;
  }
  setupCsv("shelters", { canImport: me.role === "coordinator", noun: "shelters", onImported: load });
  if (me.role === "coordinator") {
    $("#shelter-form").addEventListener("submit", submit);
    $("#cancel").addEventListener("click", reset);
    picker = await setupPlace($("#shelter-form"));
  }
  await load();
});
