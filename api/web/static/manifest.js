// The driver's manifest: their stops in driving order, with tap-to-call phone numbers and status buttons.
// It stays readable without a connection: the last manifest loaded is kept in this tab's sessionStorage (the
// browser deletes it when the tab is closed; it is also removed at sign-out, when someone else signs in here and
// when the alert ends: docs/security.md), the service worker keeps the page itself, and status reports made
// offline are sent when the connection is back.
import { $, ApiError, Offline, api, h, params, registerServiceWorker, say, start } from "./common.js";
import { watch } from "./live.js";
import { SvgMap, geoLink, loadRoads } from "./map.js";

const DONE = ["picked_up", "dropped_off", "no_show", "cannot_reach"];
const WORDS = {
  on_the_way: "on the way", picked_up: "picked up", dropped_off: "dropped off", no_show: "not there",
  cannot_reach: "cannot reach",
};
const MISSED = ["no_show", "cannot_reach"];
// A household marked missed leaves the plan: ask before sending, so a slip of the thumb does not strand anyone.
const ASK = {
  no_show: (who) => `Nobody at ${who}? They are taken out of the plan and the coordinator calls them.`,
  cannot_reach: (who) => `You cannot get to ${who}? They are taken out of the plan and the coordinator calls them.`,
};
const BUTTONS = {
  pickup: [["on_the_way", "On my way"], ["picked_up", "Picked up"], ["no_show", "Not there"], ["cannot_reach", "Cannot reach them"]],
  dropoff: [["on_the_way", "On my way"], ["dropped_off", "Dropped off"]],
};

let me = null;
let target = null; // a coordinator reading someone's manifest: their user id
let manifest = null;
let roads = null;
let unwatch = null;
let watching = null;
let alertList = []; // the active alerts (their closed roads are drawn on the maps)

const alertId = () => Number($("#alert-select").value);
const storeKey = (id) => `evac.manifest.${me.id}.${id}.${target || "me"}`;
const outboxKey = () => `evac.outbox.${me.id}`;
// Names, phones and needs: kept for this tab only. A closed tab needs a sign-in again (the token is per tab too),
// so a copy outliving the tab could never be shown by this page, only read off the device.
const copies = sessionStorage;

/** Drop the manifest copies of alerts that are no longer active (ended, or not this user's any more). */
function dropEnded(activeIds) {
  const prefix = `evac.manifest.${me.id}.`;
  for (const key of Object.keys(copies)) {
    if (key.startsWith(prefix) && !activeIds.includes(Number(key.slice(prefix.length).split(".")[0]))) {
      copies.removeItem(key);
    }
  }
  for (const key of Object.keys(localStorage)) {  // copies an older version of this page kept on the device
    if (key.startsWith("evac.manifest.") || key.startsWith("evac.alerts.")) localStorage.removeItem(key);
  }
}

function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function telHref(phone) {
  return `tel:${phone.replace(/[^+\d]/g, "")}`;
}

function outbox() {
  return JSON.parse(localStorage.getItem(outboxKey()) || "[]");
}

function saveOutbox(items) {
  if (items.length) localStorage.setItem(outboxKey(), JSON.stringify(items));
  else localStorage.removeItem(outboxKey());
}

// --- loading -------------------------------------------------------------------------------------------------------

async function loadAlerts() {
  const key = `evac.alerts.${me.id}`;
  let alerts;
  try {
    alerts = await api("/alerts?status=active");
    copies.setItem(key, JSON.stringify(alerts));
    dropEnded(alerts.map((a) => a.id));
  } catch (exc) {
    if (!(exc instanceof Offline)) throw exc;
    alerts = JSON.parse(copies.getItem(key) || "[]");
  }
  const wanted = Number(params().get("alert"));
  if (wanted && !alerts.some((a) => a.id === wanted)) alerts.unshift({ id: wanted, name: "" });
  alertList = alerts;
  $("#alert-select").replaceChildren(...(alerts.length
    ? alerts.map((a) => h("option", { value: a.id }, a.name || `Alert ${a.id}`))
    : [h("option", { value: "" }, "No active alert")]));
  if (wanted) $("#alert-select").value = String(wanted);
  // One alert (the usual case): no choice to make, so no room taken on a phone.
  $("#alert-choice").hidden = alerts.length <= 1;
  return alerts;
}

/** Follow the alert: a new plan version reloads the manifest by itself and says so in a banner. */
function follow(id) {
  if (watching === id) return;
  if (unwatch) unwatch();
  watching = id;
  unwatch = id ? watch(id, async (change) => {
    if (!manifest || change.alert_id !== manifest.alert_id || change.version <= (manifest.plan_version || 0)) return;
    const before = manifest.plan_version;
    await load();
    if (manifest && manifest.plan_version > before) {
      const banner = $("#changed");
      banner.textContent = `Your route changed (plan version ${manifest.plan_version}, ${time(new Date().toISOString())}). ` +
        "Check your next stop.";
      banner.hidden = false;
    }
  }) : null;
}

async function load() {
  const id = alertId();
  follow(id);
  $("#offline").hidden = true;
  if (!id) {
    $("#manifest").replaceChildren(h("p", { class: "lead" }, "There is no active alert. When one comes, your drives appear here."));
    return;
  }
  const path = target ? `/alerts/${id}/manifests/${target}` : `/alerts/${id}/manifest`;
  try {
    await flush();
    manifest = await api(path);
    copies.setItem(storeKey(id), JSON.stringify({ at: new Date().toISOString(), manifest }));
  } catch (exc) {
    if (exc instanceof Offline) {
      const kept = JSON.parse(copies.getItem(storeKey(id)) || "null");
      if (!kept) {
        $("#manifest").replaceChildren(h("p", { class: "lead" }, "There is no connection, and this manifest was not loaded before on this phone."));
        return;
      }
      manifest = kept.manifest;
      const line = $("#offline");
      line.textContent = `No connection. This is the manifest as loaded at ${time(kept.at)}. ` +
        "Buttons you press are sent when the connection is back.";
      line.hidden = false;
    } else if (exc instanceof ApiError && exc.status === 404) {
      manifest = null;
      copies.removeItem(storeKey(id));  // the alert ended (or was never ours): no copy stays
      $("#manifest").replaceChildren(h("p", { class: "refused", role: "alert" },
        target ? "There is no such manifest, or you may not see it." : "There is no such alert, or it has ended."));
      return;
    } else {
      throw exc;
    }
  }
  render();
}

/** Send the status reports made while offline, in the order they were made. */
async function flush() {
  const items = outbox();
  if (!items.length) return;
  const versions = new Map();
  const left = [];
  for (const [i, item] of items.entries()) {
    const key = `${item.alert}/${item.body.driver_id}/${item.body.stop_index}`;
    const body = { ...item.body, version: versions.has(key) ? versions.get(key) : item.body.version };
    try {
      const out = await api(`/alerts/${item.alert}/stops`, { method: "POST", body });
      versions.set(key, out.stop.version);
    } catch (exc) {
      if (exc instanceof Offline) {
        left.push(...items.slice(i));
        break;
      }
      say(`A report made offline was not accepted (${exc.message}). The manifest is reloaded: check the stop.`);
    }
  }
  saveOutbox(left);
}

// --- rendering ------------------------------------------------------------------------------------------------------

function pending(route, stop) {
  return outbox().filter((x) => x.alert === manifest.alert_id && x.body.driver_id === route.driver_id
    && x.body.stop_index === stop.index).pop();
}

function statusOf(route, stop) {
  const p = pending(route, stop);
  return p ? p.body.status : stop.status;
}

function describePeople(stop) {
  const n = `${stop.people} ${stop.people === 1 ? "person" : "people"}`;
  return stop.wheelchair_users ? `${n} (${stop.wheelchair_users} in a wheelchair)` : n;
}

function stopItem(route, stop, next, names, undoable) {
  const status = statusOf(route, stop);
  const waiting = pending(route, stop);
  const x = stop.household;
  const badge = status
    ? h("span", { class: `badge ${status}` }, WORDS[status] + (waiting ? " (not sent yet)" : ""))
    : null;
  const head = h("div", { class: "stop-head" },
    h("span", { class: "stop-time" }, time(stop.arrive_at)),
    h("span", { class: "stop-what" }, stop.type === "pickup"
      ? `Pick up ${describePeople(stop)}${stop.parts ? ` (part ${stop.part} of ${stop.parts})` : ""}`
      : `Drop off ${describePeople(stop)}`),
    badge);
  const body = [];
  if (stop.type === "pickup") {
    body.push(h("h3", { class: "stop-name" }, x ? x.name || `Household ${x.id}` : "Household (no longer registered)"));
    body.push(h("p", { class: "stop-address" }, x && x.address ? x.address : stop.place || "On the map below"));
    if (x && x.address && stop.place && stop.place !== x.address) body.push(h("p", { class: "hint" }, `On the map: ${stop.place}`));
    body.push(placeLinks(stop, x ? x.name || x.address : ""));
    if (stop.meeting_point) {
      // The street is closed: the household walks to this corner; the driver goes there, not to the door.
      const m = stop.meeting_point;
      body.push(h("p", { class: "meeting-point" }, h("strong", {}, "Meet at: "),
        `${m.name} (they walk about ${Math.round(m.walk_meters)} m: their street is closed)`));
    }
    // A household that may not rely on voice is texted, never called (api/messaging/reach.py).
    if (x && x.phone) {
      body.push(h("p", {}, x.contact === "text"
        ? h("a", { class: "tel", href: telHref(x.phone).replace(/^tel:/, "sms:") }, `Text ${x.phone} (do not call)`)
        : h("a", { class: "tel", href: telHref(x.phone) }, `Call ${x.phone}`)));
    }
    if (x && x.at_the_door) body.push(h("p", { class: "at-the-door" }, h("strong", {}, "At the door: "), x.at_the_door));
    if (x && x.door_card) {
      body.push(h("p", { class: "door-card", lang: x.language || undefined, "aria-label": "Show this at the door" },
        x.door_card));
    }
    const facts = [];
    const needs = x ? (x.needs_described && x.needs_described.length ? x.needs_described : x.needs) : [];
    if (needs.length) facts.push(`Needs: ${needs.join(", ")}`);
    if (x && x.pets) facts.push(`Pets: ${x.pets}`);
    if (x && x.language) facts.push(`Language: ${x.language}`);
    if (facts.length) body.push(h("p", {}, facts.join(". ")));
    if (x && x.notes) body.push(h("p", {}, h("strong", {}, "Notes: "), x.notes));
  } else {
    const s = stop.shelter;
    body.push(h("h3", { class: "stop-name" }, s ? s.name || "Shelter" : "Shelter"));
    body.push(h("p", { class: "stop-address" }, s && s.address ? s.address : stop.place || "On the map below"));
    body.push(placeLinks(stop, s ? s.name : "Shelter"));
    const riders = stop.household_ids.map((id) => names.get(id) || id);
    if (riders.length) body.push(h("p", {}, `Getting off: ${riders.join(", ")}`));
  }
  const actions = [];
  const canAct = manifest.alert_status === "active" && !route.dropped_out;
  if (undoable && canAct && !waiting && MISSED.includes(status)) {
    actions.push(h("button", { type: "button", class: "big secondary", onclick: () => undo(route, stop) },
      "Undo: they are there after all"));
  }
  if (next && canAct) {
    for (const [value, label] of BUTTONS[stop.type]) {
      if (value === "on_the_way" && status === "on_the_way") continue;
      actions.push(h("button", {
        type: "button", class: value === "picked_up" || value === "dropped_off" ? "big" : "big secondary",
        onclick: () => report(route, stop, value),
      }, label));
    }
  }
  return h("li", { class: DONE.includes(status) ? "done" : "", "data-stop": stop.index },
    head, ...body, actions.length ? h("div", { class: "stop-actions", role: "group", "aria-label": "Report this stop" }, ...actions) : null);
}

/** Open the stop in the phone's own map app (geo: link), or show it on the map of this page. */
function placeLinks(stop, label) {
  const show = h("button", { type: "button", class: "link-button", onclick: () => showOnMap(stop) },
    "Show on the map below", h("span", { class: "visually-hidden" }, `: stop ${stop.index + 1}`));
  return h("p", { class: "place-links" }, geoLink(stop.lat, stop.lon, label, "Open in my map app"),
    h("span", { class: "visually-hidden" }, `: stop ${stop.index + 1}`), " · ", show);
}

const maps = new Map(); // driver id -> { map, box }

function showOnMap(stop) {
  for (const { map, box, stops } of maps.values()) {
    if (!stops.includes(stop)) continue;
    box.scrollIntoView({ block: "center" });
    map.fit([[stop.lon, stop.lat]]);
    map.clear("pins");
    map.mark("pins", [stop.lon, stop.lat], { cls: "pin", r: 10, title: `Stop ${stop.index + 1}` });
  }
}

function render() {
  maps.clear();
  const root = $("#manifest");
  if (!manifest.plan_version) {
    root.replaceChildren(h("p", { class: "lead" }, "The plan is not ready yet. Load again in a minute."));
    return;
  }
  if (!manifest.routes.length) {
    root.replaceChildren(h("p", { class: "lead" }, "You have no drives in this plan. Thank you for being ready: the coordinator may call you."));
    return;
  }
  const made = time(manifest.plan_created_at);
  const parts = [h("p", {}, `${manifest.alert_name || `Alert ${manifest.alert_id}`}: plan version ${manifest.plan_version}, made at ${made}.`)];
  if (manifest.driver_name || manifest.driver_phone) {
    parts.push(h("p", { class: "driver" }, "Driver: ", h("strong", {}, manifest.driver_name || `account ${manifest.user_id}`),
      manifest.driver_phone ? [", ", h("a", { href: telHref(manifest.driver_phone) }, manifest.driver_phone)] : ""));
  }
  for (const route of manifest.routes) {
    const names = new Map(route.stops.filter((s) => s.type === "pickup" && s.household)
      .map((s) => [s.household_id, s.household.name || s.household_id]));
    const next = route.stops.find((s) => !DONE.includes(statusOf(route, s)));
    // Only the last done stop can be taken back: stops are done in driving order.
    const lastDone = (next ? next.index : route.stops.length) - 1;
    const title = route.vehicle_label || `Car ${route.vehicle_id}`;
    const doneCount = route.stops.filter((s) => DONE.includes(statusOf(route, s))).length;
    const mapBox = h("div", { class: "map" });
    parts.push(h("section", { class: "trip", "aria-label": title },
      h("h2", {}, title),
      h("p", {}, `${doneCount} of ${route.stops.length} stops done.`),
      route.dropped_out ? h("p", { class: "refused" }, "This car is out of the plan: take the people on board to their shelter.") : null,
      h("ol", { class: "stops" }, ...route.stops.map((s) => stopItem(route, s, s === next, names, s.index === lastDone))),
      mapBox,
      manifest.alert_status === "active" && !route.dropped_out && !target
        ? h("div", { class: "actions no-print" }, h("button", {
          type: "button", class: "danger", onclick: () => dropOut(route, title),
        }, "I cannot drive any more")) : null));
    if (roads) drawRoute(mapBox, route, title);
    else mapBox.hidden = true;
  }
  root.replaceChildren(...parts);
}

function drawRoute(box, route, title) {
  const map = new SvgMap(box, roads, { label: `Map of the drive of ${title}: the road to each stop, numbered in order`,
    legend: ["route", "pickup", "shelter", "flood", "closed"] });
  maps.set(route.driver_id, { map, box, stops: route.stops });
  const points = [];
  for (const stop of route.stops) {
    if (stop.leg.coordinates.length) {
      map.route(stop.leg.coordinates, { color: "#0b6fb8", width: 4 });
      points.push(...stop.leg.coordinates);
    }
    map.mark("marks", [stop.lon, stop.lat], {
      cls: stop.type === "pickup" ? "stop" : "shelter", r: 9, square: stop.type !== "pickup", number: stop.index + 1,
      color: stop.type === "pickup" ? "#0b6fb8" : null,
      title: `Stop ${stop.index + 1} at ${time(stop.arrive_at)}: ${stop.place || ""}`,
    });
    points.push([stop.lon, stop.lat]);
  }
  const alert = alertList.find((a) => a.id === manifest.alert_id) || {};
  for (const zone of alert.flood_zones || []) map.geometry("flood", zone);
  if ((alert.closed_ways || []).length) map.closed(alert.closed_ways);
  // Fit once the element has its size.
  requestAnimationFrame(() => map.fit(points));
}

// --- actions --------------------------------------------------------------------------------------------------------

function householdName(stop) {
  return stop.household && stop.household.name ? stop.household.name : `the household of stop ${stop.index + 1}`;
}

async function report(route, stop, status) {
  if (ASK[status] && !confirm(ASK[status](householdName(stop)))) return;
  const body = {
    plan_version: manifest.plan_version, driver_id: route.driver_id, stop_index: stop.index, status,
    version: stop.status_version,
  };
  try {
    const out = await api(`/alerts/${manifest.alert_id}/stops`, { method: "POST", body });
    stop.status = out.stop.status;
    stop.status_version = out.stop.version;
    stop.status_at = out.stop.at;
    copies.setItem(storeKey(manifest.alert_id), JSON.stringify({ at: new Date().toISOString(), manifest }));
    say(`Stop ${stop.index + 1}: ${WORDS[status]}. Thank you.`);
    render();
    focusNext(route);
  } catch (exc) {
    if (exc instanceof Offline) {
      saveOutbox([...outbox(), { alert: manifest.alert_id, body }]);
      say(`Stop ${stop.index + 1}: ${WORDS[status]}. No connection: it is sent when the connection is back.`);
      render();
      focusNext(route);
    } else if (exc instanceof ApiError && exc.status === 409) {
      say("The plan changed since you loaded it. Here is the new one: check your next stop and press again.");
      await load();
    } else {
      say(`Not recorded: ${exc.message}`);
    }
  }
}

async function undo(route, stop) {
  const body = {
    plan_version: manifest.plan_version, driver_id: route.driver_id, stop_index: stop.index,
    version: stop.status_version,
  };
  try {
    await api(`/alerts/${manifest.alert_id}/stops/undo`, { method: "POST", body });
    stop.status = null;
    stop.status_version = null;
    stop.status_at = null;
    localStorage.setItem(storeKey(manifest.alert_id), JSON.stringify({ at: new Date().toISOString(), manifest }));
    say(`Stop ${stop.index + 1}: taken back. A new plan puts ${householdName(stop)} back in.`);
    render();
    focusNext(route);
  } catch (exc) {
    if (exc instanceof Offline) {
      say("No connection: the stop could not be taken back. Please phone the coordinator.");
    } else if (exc instanceof ApiError && exc.status === 409) {
      say("The plan changed since you loaded it. Here is the new one.");
      await load();
    } else {
      say(`Not taken back: ${exc.message}`);
    }
  }
}

function focusNext(route) {
  const next = route.stops.find((s) => !DONE.includes(statusOf(route, s)));
  const button = next && $(`li[data-stop="${next.index}"] .stop-actions button`);
  if (button) button.focus();
}

async function dropOut(route, title) {
  if (!confirm(`You cannot drive ${title} any more? Take anyone on board to their shelter first. Your other stops go to other cars.`)) return;
  try {
    await api(`/alerts/${manifest.alert_id}/dropouts`, { method: "POST", body: { vehicle_id: route.vehicle_id } });
    say("Thank you. The coordinator knows; a new plan is being made without your car.");
    await load();
  } catch (exc) {
    say(exc instanceof Offline ? "No connection: please phone the coordinator." : `Not recorded: ${exc.message}`);
  }
}

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  me = user;
  target = Number(params().get("user")) || null;
  if (target === me.id) target = null;
  if (target) $("h1").textContent = "Driver's manifest";
  $("#print").addEventListener("click", () => window.print());
  $("#reload").addEventListener("click", () => load());
  $("#alert-select").addEventListener("change", () => load());
  window.addEventListener("online", () => load());
  roads = await loadRoads().catch(() => null);
  await loadAlerts();
  await load();
});
