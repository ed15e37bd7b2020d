// Drills (coordinators): run one on the town as registered, follow it, open its report and download its contact
// lists. The report opens through a short-lived link (POST /drills/{id}/report-link): a new tab has no token.
import { $, api, clearErrors, formError, h, say, showApiError, start } from "./common.js";
import { downloadFile } from "./roster.js";

let alerts = new Map();
let polling = null;

const STATES = { queued: "waiting to start", running: "running…", done: "done", failed: "failed" };

async function openReport(drill) {
  try {
    const link = await api(`/drills/${drill.id}/report-link`, { method: "POST" });
    window.open(link.url, "_blank", "noopener");
  } catch (exc) {
    say(`The report did not open: ${exc.message}`);
  }
}

function download(drill, file, label) {
  return h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await downloadFile(`/drills/${drill.id}/files/${file}`, `drill-${drill.drill_date}-${file.replace("/", "-")}`);
    } catch (exc) {
      say(`Not downloaded: ${exc.message}`);
    }
  } }, label);
}

function row(d) {
  const s = d.summary;
  const alert = alerts.get(d.alert_id);
  const versus = !s ? "" : s.previous_date === null ? "first drill"
    : `${s.better} better, ${s.worse} worse than ${s.previous_date}`;
  return h("tr", { "data-drill": d.id },
    h("td", {}, d.drill_date),
    h("td", {}, alert ? alert.name || `Alert ${alert.id}` : d.name),
    h("td", {}, d.status === "failed" ? `failed: ${d.error}` : STATES[d.status]),
    h("td", {}, s ? `${s.people_out_mean.toFixed(0)} of ${s.people_total} (worst ${s.people_out_min.toFixed(0)})` : ""),
    h("td", {}, s ? s.at_risk : ""),
    h("td", {}, s ? s.cars_to_add : ""),
    h("td", {}, versus),
    h("td", {}, d.status !== "done" ? "" : h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => openReport(d) }, "Open the report ", h("span", { class: "visually-hidden" }, `of ${d.drill_date}`)),
      download(d, "contacts/drivers.csv", "Drivers' contact list (CSV)"),
      download(d, "contacts/households.csv", "Households' contact list (CSV)"))),
  );
}

async function load() {
  if (polling) clearTimeout(polling);
  const drills = await api("/drills?limit=50");
  $("#drill-table tbody").replaceChildren(...drills.map(row));
  $("#drill-table").hidden = drills.length === 0;
  $("#drills-empty").hidden = drills.length > 0;
  const busy = drills.some((d) => d.status === "queued" || d.status === "running");
  $("#run-drill").disabled = busy;
  if (busy) polling = setTimeout(load, 2000);
  return drills;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = { alert_id: Number($("#alert_id").value), runs: Number($("#runs").value), seed: Number($("#seed").value) };
  try {
    const drill = await api("/drills", { method: "POST", body });
    say(`Drill ${drill.id} is running. Its report appears below when it is done.`);
    await load();
  } catch (exc) {
    if (exc.status === 409 || exc.status === 429) formError(form, exc.message); // one at a time; a few an hour
    else showApiError(form, exc);
  }
}

start().then(async (user) => {
  if (!user) return;
  const list = await api("/alerts?limit=100");
  alerts = new Map(list.map((a) => [a.id, a]));
  $("#alert_id").replaceChildren(...list.map((a) => h("option", { value: a.id }, `${a.name || `Alert ${a.id}`}${a.status === "active" ? " (going on)" : ""}`)));
  if (!list.length) {
    $("#drill-form").hidden = true;
    say("Start an alert first (on the dashboard; it can be ended at once): its deadline, flood zone and closed roads are the drill's.");
  }
  $("#drill-form").addEventListener("submit", submit);
  await load();
});
