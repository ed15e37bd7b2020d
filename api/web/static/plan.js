// The printable plan (coordinators): one page per driver with every stop, names and phones, then the households
// without a ride; a print stylesheet drops the page's controls. Data: GET /alerts/{id}/plans/{version}/print.
import { $, api, clock, h, minutes, params, priorityWords, say, start } from "./common.js";
import { downloadFile } from "./roster.js";

let printable = null;

const stopWhat = (s) => (s.type === "pickup" ? "Pick up" : "Drop off");

function sheet(route, index, total) {
  const who = [route.driver_name, route.driver_phone].filter(Boolean).join(", ");
  return h("section", { class: "sheet driver-sheet", "aria-labelledby": `sheet-${index}` },
    h("h2", { id: `sheet-${index}` }, `${route.car}`, who ? ` — ${who}` : ""),
    h("p", { class: "hint" }, `Route ${index + 1} of ${total}. ${route.stops.length} stops.`,
      route.seats !== null ? ` ${route.seats} seats, ${route.wheelchair_spaces} wheelchair places.` : ""),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": `sheet-${index}` },
      h("table", { class: "route-table" },
      h("caption", { class: "visually-hidden" }, `Stops of ${route.car} in driving order`),
      h("thead", {}, h("tr", {}, ...["#", "When", "What", "Who", "Phone", "Where", "People", "Needs"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...route.stops.map((s) => h("tr", {},
        h("td", {}, s.number),
        h("td", {}, `${clock(printable.start, s.arrive_minute)} (${minutes(s.arrive_minute)})`),
        h("td", {}, stopWhat(s)),
        h("td", {}, s.type === "pickup" ? s.names.join(", ") : `${s.shelter}: ${s.names.join(", ")}`),
        h("td", {}, s.phones.join(", ")),
        h("td", {}, s.address),
        h("td", {}, s.people + (s.wheelchair_users ? ` (${s.wheelchair_users} in a wheelchair)` : "")),
        h("td", {}, s.needs.join(", ")),
      ))))));
}

function draw(show) {
  const p = printable;
  const m = p.metrics;
  $("#plan-summary").textContent = `${p.alert_name}, plan version ${p.version}: ${p.routes.length} cars drive, ` +
    `${m.households_served} households served and ${p.unserved.length} without a ride; everyone at a shelter ` +
    `within ${minutes(m.clearance_minute ?? 0)} (deadline ${minutes(p.deadline_minutes)}).`;
  $("#sheets").replaceChildren(...(show === "unserved" ? [] : p.routes.map((r, i) => sheet(r, i, p.routes.length))));
  $("#unserved-sheet").hidden = false;
  $("#unserved-print").hidden = p.unserved.length === 0;
  $("#unserved-none").hidden = p.unserved.length > 0;
  $("#unserved-print tbody").replaceChildren(...p.unserved.map((u) => h("tr", {},
    h("td", {}, u.name),
    h("td", {}, u.phone ? h("a", { href: `tel:${u.phone}` }, u.phone) : "no phone"),
    h("td", {}, u.address),
    h("td", {}, u.people + (u.wheelchair_users ? ` (${u.wheelchair_users} in a wheelchair)` : "")),
    h("td", {}, u.priority ? priorityWords(u.priority) : ""),
    h("td", {}, u.reason))));
  $("#plan-actions").hidden = false;
  document.body.dataset.ready = "true";
}

function unservedCsv() {
  const cell = (v) => {
    const text = String(v ?? "");
    const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text; // never a formula in a spreadsheet
    return /[",\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  const rows = [["household_id", "name", "phone", "address", "people", "wheelchair_users", "priority", "code", "reason"],
    ...printable.unserved.map((u) => [u.household_id, u.name, u.phone, u.address, u.people, u.wheelchair_users, u.priority, u.code, u.reason])];
  const blob = new Blob([rows.map((r) => r.map(cell).join(",")).join("\n") + "\n"], { type: "text/csv" });
  const link = h("a", { href: URL.createObjectURL(blob), download: `unserved-alert-${printable.alert_id}-v${printable.version}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
}

async function load(alertId, show) {
  const plans = await api(`/alerts/${alertId}/plans`);
  const wanted = Number(params().get("version")) || (plans.length ? plans[plans.length - 1].version : null);
  if (!wanted) {
    say("This alert has no plan yet.");
    $("#plan-actions").hidden = true;
    $("#sheets").replaceChildren();
    return;
  }
  printable = await api(`/alerts/${alertId}/plans/${wanted}/print`);
  draw(show);
  say(`Plan version ${wanted} of ${printable.alert_name}: ${printable.routes.length} driver pages.`);
}

start().then(async (user) => {
  if (!user) return;
  const alerts = await api("/alerts?limit=100");
  const select = $("#plan-alert");
  select.replaceChildren(...alerts.map((a) => h("option", { value: a.id }, `${a.name || `Alert ${a.id}`}${a.status === "active" ? " (going on)" : ""}`)));
  if (!alerts.length) {
    say("There is no alert, so there is no plan to print.");
    return;
  }
  const chosen = params().get("alert");
  if (chosen) select.value = chosen;
  $("#plan-show").value = params().get("show") === "unserved" ? "unserved" : "all";
  $("#plan-choose").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams({ alert: select.value, show: $("#plan-show").value });
    history.replaceState(null, "", `?${q}`);
    load(select.value, $("#plan-show").value);
  });
  $("#print").addEventListener("click", () => window.print());
  $("#download-json").addEventListener("click", () => downloadFile(`/alerts/${printable.alert_id}/plans/${printable.version}`, `plan-alert-${printable.alert_id}-v${printable.version}.json`));
  $("#download-geojson").addEventListener("click", () => downloadFile(`/alerts/${printable.alert_id}/plans/${printable.version}/geojson`, `plan-alert-${printable.alert_id}-v${printable.version}.geojson`));
  $("#download-unserved").addEventListener("click", unservedCsv);
  await load(select.value, $("#plan-show").value);
});
