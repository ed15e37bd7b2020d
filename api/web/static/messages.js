// The dashboard's messages part: what the alert sent to whom and how far each got (or why it was not sent), the
// replies asking for help, and the monthly check-in (start one, records not confirmed lately).
import { $, api, h, say } from "./common.js";

const STATUS = {
  queued: "queued", sending: "sending", sent: "sent", delivered: "delivered", failed: "failed", replied: "replied",
  cancelled: "cancelled", unknown: "may have gone: check with the person",
};

export async function loadMessages(alertId) {
  const section = $("#messages-section");
  let data;
  let replies;
  try {
    data = await api(`/alerts/${alertId}/messages?limit=1000`);
    replies = await api(`/alerts/${alertId}/replies?limit=1000`);
  } catch (exc) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const counts = Object.entries(data.summary.counts).map(([s, n]) => `${n} ${STATUS[s] || s}`);
  $("#messages-info").textContent = counts.length ? `Messages: ${counts.join(", ")}.` : "No messages yet.";
  $("#messages-blocked").replaceChildren(...data.summary.blocked.map((b) => h("li", {}, b)));
  $("#messages-blocked").hidden = !data.summary.blocked.length;
  const help = replies.filter((r) => r.outcome === "help");
  const confirmed = new Set(replies.filter((r) => r.outcome === "confirmed").map((r) => r.recipient));
  const withdrawn = replies.filter((r) => r.outcome === "withdrawn");
  $("#replies-info").textContent = `${confirmed.size} confirmed, ${withdrawn.length} no longer need a ride, ` +
    `${help.length} asked for help.`;
  $("#help-list").replaceChildren(...help.map((r) => h("li", { class: "refused" },
    `${r.recipient}: asked for help at ${new Date(r.received_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`)));
  const rows = data.messages.slice(0, 200).map((m) => h("tr", {},
    h("td", {}, m.recipient), h("td", {}, m.channel), h("td", {}, m.template.replaceAll("_", " ")),
    h("td", {}, h("span", { class: `badge ${m.status}` }, STATUS[m.status] || m.status)),
    h("td", {}, m.note || "", m.status === "unknown"
      ? h("button", { type: "button", class: "secondary", onclick: () => resend(alertId, m) }, "Resend") : null)));
  $("#messages-table tbody").replaceChildren(...rows);
}

async function resend(alertId, m) {
  if (!confirm(`Send message ${m.id} to ${m.recipient} again? Only if they did not get it.`)) return;
  try {
    await api(`/messages/${m.id}/resend`, { method: "POST" });
    say(`Message ${m.id} queued again.`);
  } catch (exc) {
    say(`Could not resend: ${exc.message}`);
  }
  await loadMessages(alertId);
}

export async function loadStale() {
  try {
    const stale = await api("/checkins/stale?limit=1000");
    const changed = stale.filter((r) => r.changed_at);
    $("#stale-info").textContent = `${stale.length} records not confirmed lately` +
      (changed.length ? `, ${changed.length} flagged as changed for their registrar.` : ".");
    $("#stale-table tbody").replaceChildren(...stale.slice(0, 200).map((r) => h("tr", {},
      h("td", {}, r.kind), h("td", {}, r.label || `${r.kind} ${r.id}`),
      h("td", {}, r.confirmed_at ? new Date(r.confirmed_at).toLocaleDateString() : "never"),
      h("td", {}, r.changed_at ? "changed: check it" : ""))));
  } catch (exc) {
    $("#stale-info").textContent = `Could not load the records: ${exc.message}`;
  }
}

export function setupCheckins() {
  $("#start-checkin").addEventListener("click", async () => {
    if (!confirm("Ask every volunteer and household to confirm their registration now?")) return;
    try {
      const out = await api("/checkins", { method: "POST", body: { note: "" } });
      say(`Check-in started: ${out.messages} messages queued.`);
      await loadStale();
    } catch (exc) {
      say(`Not started: ${exc.message}`);
    }
  });
}
