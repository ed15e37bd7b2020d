// Households: a registrar sees those they registered, a coordinator all (GET /households decides).
import { $, all, h, priorityWords, registerServiceWorker, say, start } from "./common.js";

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  const everyone = await all("/households");
  // Records not confirmed at a check-in lately (EVAC_CHECKIN_STALE_DAYS) or flagged "changed".
  const stale = new Map((await all("/checkins/stale?kind=household")).map((r) => [r.id, r]));
  const show = () => draw(everyone.filter((x) => !$("#only-stale").checked || stale.has(x.id)), stale);
  $("#only-stale").addEventListener("change", show);
  show();
  if (user.role === "registrar") $("h1").textContent = "Households you registered";
  say(`${everyone.length} household${everyone.length === 1 ? "" : "s"}, ${stale.size} not confirmed lately.`);
});

function draw(households, stale) {
  $("#household-table tbody").replaceChildren(...households.map((x) => h("tr", {},
    h("td", {}, x.name || `Household ${x.id}`),
    h("td", {}, x.address || `${x.lat.toFixed(5)}, ${x.lon.toFixed(5)}`),
    h("td", {}, x.people),
    h("td", {}, x.wheelchair_users),
    h("td", {}, priorityWords(x.priority)),
    h("td", {}, x.needs.join(", ")),
    h("td", {}, !stale.has(x.id) ? "yes" : stale.get(x.id).changed_at ? "changed: check it" : "not lately"),
    h("td", {}, h("a", { href: `/app/households/${x.id}` }, "Change ", h("span", { class: "visually-hidden" }, x.name || `household ${x.id}`))),
  )));
  $("#household-table").hidden = households.length === 0;
  $("#empty").hidden = households.length > 0;
}
