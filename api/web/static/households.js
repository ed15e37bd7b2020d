// Households: a registrar sees those they registered, a coordinator all (GET /households decides).
import { $, all, h, priorityWords, registerServiceWorker, say, start } from "./common.js";

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  const households = await all("/households");
  $("#household-table tbody").replaceChildren(...households.map((x) => h("tr", {},
    h("td", {}, x.name || `Household ${x.id}`),
    h("td", {}, x.address || `${x.lat.toFixed(5)}, ${x.lon.toFixed(5)}`),
    h("td", {}, x.people),
    h("td", {}, x.wheelchair_users),
    h("td", {}, priorityWords(x.priority)),
    h("td", {}, x.needs.join(", ")),
    h("td", {}, h("a", { href: `/app/households/${x.id}` }, "Change ", h("span", { class: "visually-hidden" }, x.name || `household ${x.id}`))),
  )));
  $("#household-table").hidden = households.length === 0;
  $("#empty").hidden = households.length > 0;
  if (user.role === "registrar") $("h1").textContent = "Households you registered";
  say(`${households.length} household${households.length === 1 ? "" : "s"}.`);
});
