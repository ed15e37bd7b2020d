// Households: a registrar sees those they registered, a coordinator all (GET /households decides), one page at a
// time, searched, filtered and sorted by the API; CSV import and export below the list.
import { $, api, h, priorityWords, registerServiceWorker, say, start } from "./common.js";
import { placeText } from "./map.js";
import { Pager, setupCsv } from "./roster.js";

function row(x, stale) {
  return h("tr", {},
    h("td", {}, x.name || `Household ${x.id}`),
    h("td", {}, x.phone ? h("a", { href: `tel:${x.phone}` }, x.phone) : ""),
    h("td", {}, placeText(x)),
    h("td", {}, x.people),
    h("td", {}, x.wheelchair_users),
    h("td", {}, priorityWords(x.priority)),
    h("td", {}, x.needs.join(", ")),
    h("td", {}, stale.has(x.id) ? "not lately, or changed: check it" : "yes"),
    h("td", {}, h("a", { href: `/app/households/${x.id}` }, "Change ", h("span", { class: "visually-hidden" }, x.name || `household ${x.id}`))),
  );
}

registerServiceWorker();
start().then(async (user) => {
  if (!user) return;
  if (user.role === "registrar") $("h1").textContent = "Households you registered";
  const pager = new Pager({
    path: "/households", form: $("#household-find"), table: $("#household-table"), nav: $("#household-pages"),
    noun: "household", nouns: "households",
    render: async (items) => {
      // Which of this page's households are not confirmed lately (or flagged changed): the same filter, by id.
      const ids = items.map((x) => `ids=${x.id}`).join("&");
      const stale = new Set(items.length ? (await api(`/households?unconfirmed=true&limit=1000&${ids}`)).map((x) => x.id) : []);
      $("#household-table tbody").replaceChildren(...items.map((x) => row(x, stale)));
    },
  });
  $("#only-stale").addEventListener("change", () => {
    pager.page = 1;
    pager.load();
  });
  await pager.load();
  const searching = pager.query().toString() !== "";
  $("#empty").hidden = pager.total > 0 || searching;
  say(`${pager.total.toLocaleString("en-GB")} household${pager.total === 1 ? "" : "s"}${searching ? " found" : ""}.`);
  setupCsv("households", { canImport: true, noun: "households", onImported: () => pager.load() });
});
