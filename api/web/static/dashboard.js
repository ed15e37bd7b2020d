// The coordinator's dashboard: what is registered, alerts (a new one with a flood zone drawn on the map), the plan on
// the map, the households without a ride and why, the live status of every stop, re-plans and road closures.
// Everything comes from the JSON API with the coordinator's token; nothing here is more than the API gives them.
import {
  $, $$, all, api, clearErrors, clock, fieldError, h, minutes, numberValue, params, registerServiceWorker, say,
  showApiError, start,
} from "./common.js";
import { watch } from "./live.js";
import { PALETTE, SvgMap, loadRoads, roadGroups, roadName } from "./map.js";
import { loadMessages, loadStale, setupCheckins } from "./messages.js";

const STATUS_WORDS = {
  planned: "planned", on_the_way: "on the way", picked_up: "picked up", dropped_off: "dropped off",
  no_show: "not there", cannot_reach: "cannot reach",
};

const state = {
  roads: null,
  alerts: [],
  alert: null,
  households: new Map(), // database id -> household
  vehicles: new Map(), // database id -> vehicle
  users: new Map(), // account id -> account (drivers' names and phones; the read is audited)
  shelters: [],
  plan: null, // the newest plan summary
  geojson: null,
  statuses: new Map(), // "V1/3" -> status
  drawMap: null,
  planMap: null,
  corners: [],
  closed: new Set(),
  polling: null,
  unwatch: null,
};

const dbId = (planId) => Number(String(planId).slice(1));

// --- counts ----------------------------------------------------------------------------------------------------

function count(n, label, bad = false) {
  return h("li", { class: bad ? "bad" : "" }, h("span", { class: "n" }, n), label);
}

async function loadCounts() {
  // Totals from one small answer, whatever the size of the rosters (GET /rosters/summary); the accounts (who
  // drives) and the shelters are few. The households for the town map follow without holding the page up.
  const [t, users, shelters] = await Promise.all([api("/rosters/summary"), all("/users"), all("/shelters")]);
  state.users = new Map(users.map((u) => [u.id, u]));
  state.shelters = shelters;
  loadTownHouseholds();
  $("#counts").replaceChildren(
    count(t.volunteers, "volunteers"),
    count(t.cars, "cars"),
    count(t.seats, "seats"),
    count(t.wheelchair_spaces, "wheelchair places"),
    count(t.households, "households"),
    count(t.people, "people to move"),
    count(t.wheelchair_users, "wheelchair users"),
    count(t.shelters, "shelters"),
    count(t.shelter_places, "shelter places"),
  );
}

// --- vetting: accounts and cars waiting for a coordinator's approval ----------------------------------------------

async function loadPending() {
  const [people, cars] = await Promise.all([all("/users?approval=pending"), all("/vehicles?approval=pending")]);
  const owners = new Map((await all("/users?role=volunteer")).map((u) => [u.id, u]));
  const approve = (path, what) => h("button", { type: "button", class: "link-button", "aria-label": `Approve ${what}`,
    onclick: async () => {
      try {
        await api(path, { method: "POST" });
        say(`${what} is approved.`);
      } catch (exc) {
        say(`${what} could not be approved: ${exc.message}`);
      }
      await loadPending();
    } }, "Approve");
  const rows = [
    ...people.map((u) => h("tr", {}, h("td", {}, "Account"), h("td", {}, `${u.name || ""} ${u.email}`.trim()),
      h("td", {}, u.phone), h("td", {}, "signed up"), h("td", {}, approve(`/users/${u.id}/approve`, `the account of ${u.email}`)))),
    ...cars.map((v) => {
      const owner = owners.get(v.owner_id);
      const who = owner ? `${owner.name || ""} ${owner.email}`.trim() : `account ${v.owner_id}`;
      return h("tr", {}, h("td", {}, "Car"), h("td", {}, who), h("td", {}, owner ? owner.phone : ""),
        h("td", {}, `${v.label || "car"}: ${v.seats} seats, ${v.wheelchair_spaces} wheelchair places`),
        h("td", {}, approve(`/vehicles/${v.id}/approve`, `car ${v.label || v.id} of ${who}`)));
    }),
  ];
  $("#pending-table tbody").replaceChildren(...rows);
  $("#pending-section").hidden = rows.length === 0;
}

/** Every household, for the new-alert map (drawn when they are here; the counts and plan do not wait for them). */
async function loadTownHouseholds() {
  try {
    const households = await all("/households");
    for (const x of households) state.households.set(x.id, x);
    drawTown();
  } catch (exc) {
    say(`The households could not be loaded for the map: ${exc.message}`);
  }
}

/** Names and phones of the households and cars in the plan shown (only those: the rosters may be large). */
async function loadPlanPeople() {
  const found = state.geojson.features.flatMap((f) => [f.properties.household_id, f.properties.driver_id,
    ...(f.properties.household_ids || [])]);
  const ids = (prefix) => [...new Set(found.filter((x) => x && String(x).startsWith(prefix)).map(dbId))];
  const fetchAll = async (path, wanted) => {
    const out = [];
    for (let k = 0; k < wanted.length; k += 200) {
      const q = wanted.slice(k, k + 200).map((id) => `ids=${id}`).join("&");
      out.push(...await api(`${path}?limit=1000&${q}`));
    }
    return out;
  };
  const [households, vehicles] = await Promise.all([fetchAll("/households", ids("H")), fetchAll("/vehicles", ids("V"))]);
  for (const x of households) state.households.set(x.id, x);
  for (const v of vehicles) state.vehicles.set(v.id, v);
}

// --- alerts and jobs ------------------------------------------------------------------------------------------

function alertLabel(a) {
  const when = new Date(a.start).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  return `${a.name || `Alert ${a.id}`} (${a.status === "active" ? "active" : "ended"}, ${when})`;
}

async function loadAlerts(selectId = null) {
  state.alerts = await all("/alerts");
  const select = $("#alert-select");
  select.replaceChildren(...(state.alerts.length
    ? state.alerts.map((a) => h("option", { value: a.id }, alertLabel(a)))
    : [h("option", { value: "" }, "No alerts yet")]));
  const wanted = selectId || Number(params().get("alert")) || (state.alerts.find((a) => a.status === "active") || state.alerts[0] || {}).id;
  if (wanted) select.value = String(wanted);
  await showAlert();
}

/** A new plan version or stop report refreshes the page by itself; a new version also says so. */
function follow(a) {
  if (state.unwatch) state.unwatch();
  state.unwatch = null;
  $("#plan-changed").hidden = true;
  if (!a || a.status !== "active") return;
  let seen = null;
  state.unwatch = watch(a.id, async (change) => {
    if (seen && (change.version !== seen.version || change.status_at !== seen.status_at)) {
      const before = state.plan ? state.plan.version : 0;
      await refresh();
      if (state.plan && state.plan.version > before && before > 0) {
        const banner = $("#plan-changed");
        banner.textContent = `The plan changed: version ${state.plan.version} replaces version ${before}. ` +
          "Only the people whose pickup changed are told.";
        banner.hidden = false;
      }
    }
    seen = change;
  });
}

async function showAlert() {
  const id = Number($("#alert-select").value);
  state.alert = state.alerts.find((a) => a.id === id) || null;
  follow(state.alert);
  stopPolling();
  const a = state.alert;
  $("#alert-actions").hidden = !a || a.status !== "active";
  for (const id2 of ["#plan-section", "#unserved-section", "#stops-section", "#cars-section", "#closure-section"]) {
    $(id2).hidden = true;
  }
  if (!a) {
    $("#alert-info").textContent = "There is no alert. Start one below when an evacuation is ordered.";
    $("#job-status").textContent = "";
    return;
  }
  const zones = a.flood_zones.length;
  const roads = a.closed_ways.length;
  $("#alert-info").textContent = `Everyone must be at a shelter within ${minutes(a.deadline_minutes)} of ` +
    `${new Date(a.start).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}. ` +
    `${zones} flood zone${zones === 1 ? "" : "s"}, ${roads} closed road${roads === 1 ? "" : "s"}. ` +
    `${a.household_ids === null ? "All registered households" : `${a.household_ids.length} households`} are in it.` +
    (a.status === "active" ? "" : " This alert has ended.");
  $("#closure-section").hidden = a.status !== "active";
  await refresh();
}

function stopPolling() {
  if (state.polling) clearTimeout(state.polling);
  state.polling = null;
}

/** Jobs, then the newest plan and the stop statuses; again every few seconds while the page is open. */
async function refresh() {
  const a = state.alert;
  if (!a) return;
  stopPolling();
  let busy = false;
  try {
    const jobs = await api(`/alerts/${a.id}/jobs`);
    const last = jobs[jobs.length - 1];
    busy = jobs.some((j) => j.status === "queued" || j.status === "running");
    const line = $("#job-status");
    line.classList.toggle("failed", Boolean(last && last.status === "failed"));
    if (busy) line.textContent = "Making a plan… This takes a few seconds.";
    else if (last && last.status === "failed") line.textContent = `The last plan failed: ${last.error}`;
    else line.textContent = "";
    const plans = await api(`/alerts/${a.id}/plans`);
    const newest = plans[plans.length - 1] || null;
    if (newest && (!state.plan || state.plan.version !== newest.version || state.plan.alert_id !== a.id)) {
      if (state.plan) await loadCounts(); // households may have been added since
      state.plan = newest;
      state.geojson = await api(`/alerts/${a.id}/plans/${newest.version}/geojson`);
      await loadPlanPeople();
      drawPlan();
    } else if (!newest) {
      state.plan = null;
      state.geojson = null;
      $("#plan-section").hidden = true;
    }
    if (state.plan) await loadStatuses();
    await loadMessages(a.id);
  } catch (exc) {
    $("#job-status").textContent = `Could not load the alert: ${exc.message}`;
  }
  if (a.status === "active") state.polling = setTimeout(refresh, busy ? 1500 : 10000);
}

async function loadStatuses() {
  const rows = await api(`/alerts/${state.alert.id}/stops?plan_version=${state.plan.version}`);
  state.statuses = new Map(rows.map((r) => [`${r.driver_id}/${r.stop_index}`, r]));
  drawStops();
}

// --- the plan ---------------------------------------------------------------------------------------------------

function householdName(planId) {
  const x = state.households.get(dbId(planId));
  return x ? x.name || `Household ${x.id}` : `Household ${dbId(planId)}`;
}

function carName(driverId) {
  const v = state.vehicles.get(dbId(driverId));
  return v ? v.label || `Car ${v.id}` : `Car ${dbId(driverId)}`;
}

function features(kind) {
  return state.geojson.features.filter((f) => f.properties.feature === kind);
}

function drawPlan() {
  const g = state.geojson;
  const m = state.plan.metrics;
  $("#plan-section").hidden = false;
  $("#unserved-section").hidden = false;
  $("#stops-section").hidden = false;
  $("#cars-section").hidden = false;
  const made = new Date(state.plan.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  $("#plan-info").textContent = `Plan version ${state.plan.version}, made at ${made}.`;
  $("#print-link").href = `/app/plan?alert=${state.alert.id}&version=${state.plan.version}`;
  const unserved = m.households_unserved || 0;
  $("#metrics").replaceChildren(
    h("li", {}, h("span", { class: "n" }, m.households_served ?? 0), "households get a ride"),
    h("li", { class: unserved ? "bad" : "" }, h("span", { class: "n" }, unserved), "households without a ride"),
    h("li", {}, h("span", { class: "n" }, m.people_served ?? 0), "people get a ride"),
    h("li", {}, h("span", { class: "n" }, minutes(m.clearance_minute)), "until the last arrives"),
    h("li", {}, h("span", { class: "n" }, new Set(features("leg").map((f) => f.properties.driver_id)).size), "cars driving"),
    // Urgency: the latest pickup per priority ("first of all" is priority 1), and the pickup targets met.
    ...Object.entries(m.latest_pickup_by_priority || {}).map(([p, minute]) =>
      h("li", {}, h("span", { class: "n" }, minutes(minute)), `until the last priority ${p} household is picked up`)),
    m.pickup_targets_total ? h("li", { class: m.pickup_targets_met < m.pickup_targets_total ? "bad" : "" },
      h("span", { class: "n" }, `${m.pickup_targets_met} of ${m.pickup_targets_total}`),
      "urgent households picked up in time") : null,
    m.language_households ? h("li", {}, h("span", { class: "n" }, `${Math.round(100 * m.language_matched / m.language_households)}%`),
      "get a driver who speaks their language") : null,
  );
  // the map
  const map = state.planMap;
  map.clear("flood", "routes", "marks");
  for (const zone of state.alert.flood_zones) map.geometry("flood", zone);
  map.closed(state.alert.closed_ways);
  const drivers = [...new Set(features("leg").map((f) => f.properties.driver_id))];
  const color = (d) => PALETTE[drivers.indexOf(d) % PALETTE.length];
  map.clear("arrows");
  for (const f of features("leg")) {
    if (f.geometry.type !== "LineString") continue; // a leg of length zero (two stops at one place) is a Point
    map.route(f.geometry.coordinates, { color: color(f.properties.driver_id), width: 3.5,
      title: `${carName(f.properties.driver_id)}: ${minutes(f.properties.minutes)} to stop ${f.properties.leg + 1}` });
  }
  for (const f of features("shelter")) {
    const p = f.properties;
    map.mark("marks", f.geometry.coordinates, { cls: "shelter", r: 8, square: true,
      title: `${p.name}: ${p.people_assigned} of ${p.capacity} places taken` });
  }
  for (const f of features("unserved")) {
    map.mark("marks", f.geometry.coordinates, { cls: "unserved", r: 7,
      title: `${householdName(f.properties.household_id)}: no ride. ${f.properties.reason}` });
  }
  state.stopMarks = new Map();
  for (const f of features("stop")) {
    const p = f.properties;
    if (p.type !== "pickup") continue;
    const el = map.mark("marks", f.geometry.coordinates, { cls: "stop", r: 8, color: color(p.driver_id),
      number: p.stop + 1, title: `${householdName(p.household_id)}: picked up by ${carName(p.driver_id)} at ${clock(state.alert.start, p.arrive_minute)}` });
    state.stopMarks.set(`${p.driver_id}/${p.stop}`, el);
  }
  // the households without a ride
  const rows = features("unserved");
  $("#unserved-empty").hidden = rows.length > 0;
  $("#unserved-table").hidden = rows.length === 0;
  $("#unserved-table tbody").replaceChildren(...rows.map((f) => {
    const x = state.households.get(dbId(f.properties.household_id));
    const phone = x && x.phone ? h("a", { href: `tel:${x.phone.replace(/[^+\d]/g, "")}` }, x.phone) : "";
    return h("tr", {},
      h("td", { "data-label": "Household" }, x ? h("a", { href: `/app/households/${x.id}` }, householdName(f.properties.household_id)) : householdName(f.properties.household_id)),
      h("td", { "data-label": "Phone" }, phone),
      h("td", { "data-label": "People" }, `${f.properties.people}${f.properties.wheelchair_users ? `, ${f.properties.wheelchair_users} in a wheelchair` : ""}`),
      h("td", { "data-label": "Why, and what to do", class: "reason" }, f.properties.reason));
  }));
  drawStops();
}

function drawStops() {
  if (!state.geojson) return;
  const stops = features("stop");
  const tbody = $("#stops-table tbody");
  const rows = [];
  let done = 0;
  for (const f of stops) {
    const p = f.properties;
    const status = state.statuses.get(`${p.driver_id}/${p.stop}`);
    const word = status ? status.status : "planned";
    if (status && ["picked_up", "dropped_off", "no_show", "cannot_reach"].includes(word)) done += 1;
    const what = p.type === "pickup"
      ? `Pick up ${p.people}${p.parts ? ` (part ${p.part} of ${p.parts})` : ""}`
      : `Drop off ${p.people}`;
    const home = p.type === "pickup" ? state.households.get(dbId(p.household_id)) : null;
    const where = p.type === "pickup"
      ? [householdName(p.household_id), home && home.address ? h("span", { class: "hint" }, `, ${home.address}`) : ""]
      : shelterName(p.shelter_id);
    rows.push(h("tr", {},
      h("td", {}, carName(p.driver_id)),
      h("td", {}, driverCell(p.driver_id, false)),
      h("td", {}, p.stop + 1),
      h("td", {}, what),
      h("td", {}, where),
      h("td", {}, clock(state.alert.start, p.arrive_minute)),
      h("td", {}, h("span", { class: `badge ${word}` }, STATUS_WORDS[word] || word),
        status && status.note ? ` ${status.note}` : "")));
    const mark = state.stopMarks && state.stopMarks.get(`${p.driver_id}/${p.stop}`);
    if (mark) mark.classList.toggle("picked", word === "picked_up");
  }
  tbody.replaceChildren(...rows);
  drawCars(stops);
  $("#stops-info").textContent = `${done} of ${stops.length} stops done. The statuses update by themselves every 10 seconds.`;
}

/** One row per car with drives: progress, its driver's manifest, and "drops out" for a driver who calls in. */
function drawCars(stops) {
  const byCar = new Map();
  for (const f of stops) {
    const p = f.properties;
    if (!byCar.has(p.driver_id)) byCar.set(p.driver_id, []);
    byCar.get(p.driver_id).push(p);
  }
  const active = state.alert.status === "active";
  $("#cars-table tbody").replaceChildren(...[...byCar].map(([driver, list]) => {
    const done = list.filter((p) => {
      const st = state.statuses.get(`${driver}/${p.stop}`);
      return st && ["picked_up", "dropped_off", "no_show", "cannot_reach"].includes(st.status);
    }).length;
    const last = list[list.length - 1];
    const v = state.vehicles.get(dbId(driver));
    const name = carName(driver);
    return h("tr", {},
      h("td", {}, name),
      h("td", {}, driverCell(driver, true)),
      h("td", {}, `${done} of ${list.length}`),
      h("td", {}, clock(state.alert.start, last.arrive_minute)),
      h("td", {},
        v ? h("a", { href: `/app/manifest?alert=${state.alert.id}&user=${v.owner_id}` }, "Manifest",
          h("span", { class: "visually-hidden" }, ` of ${name}`)) : "",
        " ",
        active && v ? h("button", { type: "button", class: "secondary", onclick: () => dropOut(v, name) },
          "Cannot drive any more", h("span", { class: "visually-hidden" }, `: ${name}`)) : ""));
  }));
}

/** Who drives a car: name and phone, with call and text-message links on the car table. */
function driverOf(driverId) {
  const v = state.vehicles.get(dbId(driverId));
  return v ? state.users.get(v.owner_id) || null : null;
}

function driverCell(driverId, links) {
  const u = driverOf(driverId);
  if (!u) return "";
  const name = u.name || u.email;
  if (!u.phone) return links ? [name, h("br"), h("span", { class: "hint" }, "no phone given")] : name;
  const number = u.phone.replace(/[^+\d]/g, "");
  if (!links) return `${name}, ${u.phone}`;
  return [name, h("br"), u.phone, h("br"),
    h("a", { href: `tel:${number}` }, "Call", h("span", { class: "visually-hidden" }, ` ${name}`)), " · ",
    h("a", { href: `sms:${number}` }, "Text message", h("span", { class: "visually-hidden" }, ` to ${name}`))];
}

async function dropOut(vehicle, name) {
  if (!confirm(`${name} cannot drive any more? People on board are still taken to their shelter, and a new plan gives the other stops to other cars.`)) return;
  try {
    await api(`/alerts/${state.alert.id}/dropouts`, { method: "POST", body: { vehicle_id: vehicle.id } });
    say(`${name} is out. A new plan is being made.`);
  } catch (exc) {
    say(`Not recorded: ${exc.message}`);
  }
  await refresh();
}

function shelterName(planId) {
  const f = features("shelter").find((s) => s.properties.shelter_id === planId);
  return f ? f.properties.name || planId : planId;
}

// --- actions ------------------------------------------------------------------------------------------------------

async function replan() {
  const a = state.alert;
  try {
    if (state.plan) await api(`/alerts/${a.id}/replan`, { method: "POST" });
    else await api(`/alerts/${a.id}/jobs`, { method: "POST" });
    say("A new plan is being made. Stops already done stay as they are.");
  } catch (exc) {
    say(`No new plan: ${exc.message}`);
  }
  await refresh();
}

async function endAlert() {
  const a = state.alert;
  if (!confirm(`End ${a.name || `alert ${a.id}`}? Drivers will no longer see their manifests.`)) return;
  try {
    await api(`/alerts/${a.id}`, { method: "PATCH", body: { version: a.version, status: "closed" } });
    say("The alert has ended.");
  } catch (exc) {
    say(`The alert was not ended: ${exc.message}`);
  }
  await loadAlerts(a.id);
}

/** The ways a closure choice stands for: "street:<name>" (every way of that name) or "way:<id>". */
function chosenWays() {
  const value = $("#closure-way").value;
  if (value.startsWith("street:")) return state.planMap.street(value.slice(7)).map((w) => w.id);
  if (value.startsWith("way:")) return [Number(value.slice(4))];
  return [];
}

function describeChoice() {
  const value = $("#closure-way").value;
  const ways = value ? chosenWays() : [];
  const closed = new Set(state.alert ? state.alert.closed_ways : []);
  const shut = ways.filter((w) => closed.has(w)).length;
  const what = value.startsWith("street:") ? `All of ${value.slice(7)} (${ways.length} piece${ways.length === 1 ? "" : "s"})`
    : ways.length ? state.planMap.wayName(ways[0]) : "";
  $("#closure-choice").textContent = !what ? ""
    : `${what}: ${shut === 0 ? "open" : shut === ways.length ? "closed" : `${shut} of ${ways.length} pieces closed`}.`;
}

async function changeClosure(event, reopen) {
  if (event) event.preventDefault();
  const form = $("#closure-form");
  clearErrors(form);
  const ways = chosenWays();
  if (!ways.length) {
    fieldError("closure-way", reopen ? "Choose the road to reopen." : "Choose the road to close.");
    $("#closure-way").focus();
    return;
  }
  const closed = new Set(state.alert.closed_ways);
  const todo = ways.filter((w) => closed.has(w) === reopen);
  if (!todo.length) {
    fieldError("closure-way", reopen ? "This road is not closed." : "This road is closed already.");
    $("#closure-way").focus();
    return;
  }
  const body = reopen ? { reopened_ways: todo } : { closed_ways: todo };
  const what = $("#closure-way").selectedOptions[0].textContent;
  try {
    const out = await api(`/alerts/${state.alert.id}/closures`, { method: "POST", body });
    const i = state.alerts.findIndex((x) => x.id === out.alert.id);
    state.alerts[i] = out.alert;
    state.alert = out.alert;
    state.planMap.closed(out.alert.closed_ways);
    describeChoice();
    say(`${what}: ${reopen ? "open again" : "closed"}. A new plan is being made.`);
    await refresh();
  } catch (exc) {
    showApiError(form, exc, { closed_ways: "closure-way", reopened_ways: "closure-way" });
  }
}

/** The road list, grouped by street: "all of <street>" first, then each piece; unnamed roads one by one. */
function fillRoadChoices(keep = null) {
  const groups = roadGroups(state.roads, $("#road-search").value);
  const select = $("#closure-way");
  const options = [];
  for (const g of groups) {
    if (g.name) {
      const pieces = g.ways.map((w, i) => h("option", { value: `way:${w.id}` },
        `${g.name}, piece ${i + 1} of ${g.ways.length} (road ${w.id})`));
      options.push(h("optgroup", { label: g.name },
        h("option", { value: `street:${g.name}` }, `All of ${g.name} (${g.ways.length} piece${g.ways.length === 1 ? "" : "s"})`),
        ...(g.ways.length > 1 ? pieces : [])));
    }
  }
  const unnamed = groups.filter((g) => !g.name).flatMap((g) => g.ways);
  if (unnamed.length) {
    options.push(h("optgroup", { label: "Roads without a name" },
      ...unnamed.map((w) => h("option", { value: `way:${w.id}` }, roadName(w)))));
  }
  select.replaceChildren(...options);
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
  describeChoice();
}

/** A click on the plan map chooses that street (or, for an unnamed road, that piece) in the closure form. */
function pickRoad(way) {
  if (!state.alert || state.alert.status !== "active") return;
  $("#road-search").value = "";
  const value = way.name ? `street:${way.name}` : `way:${way.id}`;
  fillRoadChoices(value);
  const pieceOption = [...$("#closure-way").options].some((o) => o.value === `way:${way.id}`);
  $("#only-piece").hidden = !pieceOption;
  $("#only-piece").dataset.way = way.id;
  say(`${way.name ? `All of ${way.name}` : roadName(way)} chosen under "Close or reopen a road" below.`);
}

// --- a new alert ----------------------------------------------------------------------------------------------

/** The town on the new-alert map: every registered household and shelter, so the flood zone is drawn seeing them. */
function drawTown() {
  const map = state.drawMap;
  if (!map) return;
  map.clear("marks");
  for (const x of state.households.values()) {
    map.mark("marks", [x.lon, x.lat], { cls: "household", r: 4,
      title: `${x.name || `Household ${x.id}`}: ${x.people} ${x.people === 1 ? "person" : "people"}` });
  }
  for (const s of state.shelters) {
    map.mark("marks", [s.lon, s.lat], { cls: "shelter", r: 7, square: true, title: `Shelter ${s.name}` });
  }
}

function cornersText() {
  $("#flood_zones").value = state.corners.map(([lon, lat]) => `${lon}, ${lat}`).join("\n");
}

function parseCorners() {
  const lines = $("#flood_zones").value.split("\n").map((l) => l.trim()).filter(Boolean);
  const corners = [];
  for (const [i, line] of lines.entries()) {
    const parts = line.split(/[\s,;]+/).filter(Boolean).map(Number);
    if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n))) {
      return { error: `Line ${i + 1} should be two numbers: longitude, then latitude (like 26.95, 60.53).` };
    }
    corners.push(parts);
  }
  if (corners.length > 0 && corners.length < 3) return { error: "A flood zone needs at least 3 corners." };
  return { corners };
}

function drawDraft() {
  const map = state.drawMap;
  map.clear("draft", "pins");
  const parsed = parseCorners();
  const corners = parsed.corners || state.corners;
  if (corners.length >= 3) map.polygon("draft", [[...corners, corners[0]]], "flood-draft");
  else if (corners.length === 2) map.line("draft", corners, { cls: "flood-draft", width: 2 });
  for (const c of corners) map.mark("pins", c, { cls: "corner", r: 5, title: "corner of the flood zone" });
  map.closed([...state.closed]);
  drawTown();
  $("#closed_ways").value = [...state.closed].join(", ");
  $("#closed-names").textContent = state.closed.size
    ? `Closed: ${[...state.closed].map((w) => map.wayName(w)).join(", ")}` : "";
}

function parseWays() {
  const text = $("#closed_ways").value.trim();
  if (!text) return [];
  const ways = text.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (ways.some((w) => !Number.isInteger(w) || w < 1)) return null;
  return ways;
}

async function createAlert(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const deadline = numberValue("deadline_minutes");
  let ok = true;
  if (deadline === null || Number.isNaN(deadline) || deadline <= 0 || deadline > 10080) {
    ok = !fieldError("deadline_minutes", "Enter the minutes everyone has, between 1 and 10080 (a week).");
  }
  const parsed = parseCorners();
  if (parsed.error) ok = !fieldError("flood_zones", parsed.error) && ok;
  const ways = parseWays();
  if (ways === null) ok = !fieldError("closed_ways", "Road numbers are whole numbers, separated by commas.") && ok;
  if (!ok) {
    form.querySelector("[aria-invalid]").focus();
    return;
  }
  const corners = parsed.corners;
  const body = {
    name: $("#alert-name").value.trim(),
    deadline_minutes: deadline,
    flood_zones: corners.length ? [{ type: "Polygon", coordinates: [[...corners, corners[0]]] }] : [],
    closed_ways: ways,
    household_ids: null,
  };
  try {
    const out = await api("/alerts", { method: "POST", body });
    say(`${out.alert.name || `Alert ${out.alert.id}`} has started. The plan is being made.`);
    $("#new-alert").open = false;
    form.reset();
    state.corners = [];
    state.closed = new Set();
    drawDraft();
    state.plan = null;
    await loadAlerts(out.alert.id);
  } catch (exc) {
    showApiError(form, exc, { name: "alert-name" });
  }
}

// --- start ---------------------------------------------------------------------------------------------------------

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  try {
    state.roads = await loadRoads();
  } catch (exc) {
    say("The road map could not be loaded; maps are not shown.");
  }
  if (state.roads) {
    state.planMap = new SvgMap($("#plan-map"), state.roads, {
      label: "Map of the plan: routes of the cars, pick-ups, shelters, households without a ride, flood zones and closed roads",
      onRoad: pickRoad,
      legend: ["route", "pickup", "shelter", "unserved", "flood", "closed", "water", "green", "building"],
    });
    state.drawMap = new SvgMap($("#draw-map"), state.roads, {
      label: "Map for drawing the flood zone and closing roads, with the registered households and shelters",
      legend: ["household", "shelter", "flood", "closed", "water", "green", "building"],
      onPick: (lon, lat) => {
        if ($("#mode-flood").checked) {
          const parsed = parseCorners();
          state.corners = parsed.corners || state.corners;
          state.corners.push([lon, lat]);
          cornersText();
          drawDraft();
        }
      },
      onRoad: (way) => {
        if (!$("#mode-road").checked) {
          // In flood-zone mode a click on a road is a corner too.
          return;
        }
        const ways = $("#draw-whole").checked && way.name ? state.drawMap.street(way.name) : [way];
        const close = !state.closed.has(way.id);
        for (const w of ways) {
          if (close) state.closed.add(w.id);
          else state.closed.delete(w.id);
        }
        drawDraft();
      },
    });
    // In flood-zone mode, clicks must reach the map under the roads.
    const hitsOff = () => $$(".layer-hits", $("#draw-map")).forEach((g) => {
      g.style.pointerEvents = $("#mode-road").checked ? "auto" : "none";
    });
    $$("input[name=draw-mode]").forEach((r) => r.addEventListener("change", hitsOff));
    hitsOff();
    fillRoadChoices();
  } else {
    for (const id of ["#plan-map", "#draw-map"]) $(id).hidden = true;
  }
  $("#alert-select").addEventListener("change", () => {
    state.plan = null;
    showAlert();
  });
  $("#replan").addEventListener("click", replan);
  $("#end-alert").addEventListener("click", endAlert);
  $("#alert-form").addEventListener("submit", createAlert);
  $("#closure-form").addEventListener("submit", (event) => changeClosure(event, false));
  $("#reopen-road").addEventListener("click", (event) => changeClosure(event, true));
  $("#road-search").addEventListener("input", () => fillRoadChoices($("#closure-way").value));
  $("#closure-way").addEventListener("change", () => {
    $("#only-piece").hidden = true;
    describeChoice();
  });
  $("#only-piece").addEventListener("click", () => {
    $("#closure-way").value = `way:${$("#only-piece").dataset.way}`;
    $("#only-piece").hidden = true;
    describeChoice();
    $("#closure-way").focus();
  });
  $("#undo-corner").addEventListener("click", () => {
    state.corners = (parseCorners().corners || state.corners).slice(0, -1);
    cornersText();
    drawDraft();
  });
  $("#clear-zone").addEventListener("click", () => {
    state.corners = [];
    cornersText();
    drawDraft();
  });
  $("#flood_zones").addEventListener("input", () => {
    const parsed = parseCorners();
    if (parsed.corners) state.corners = parsed.corners;
    drawDraft();
  });
  $("#closed_ways").addEventListener("change", () => {
    const ways = parseWays();
    if (ways) state.closed = new Set(ways);
    drawDraft();
  });
  setupCheckins();
  await loadCounts();
  await loadPending();
  await loadAlerts();
  await loadStale();
});
