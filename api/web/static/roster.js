// Rosters at scale: one page of a list at a time (search, filters, sort and page kept in the address bar, the
// total from the API's X-Total-Count header), and CSV import (every bad row shown as a table) and export.
import { $, $$, ApiError, Offline, h, say, token } from "./common.js";

export const PAGE_SIZE = 50;

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function send(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { Accept: "application/json", ...authHeaders(), ...(init.headers || {}) } });
  } catch (exc) {
    throw new Offline("no connection to the service");
  }
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, data ? data.detail : null);
  }
  return response;
}

/** One page of a list endpoint: its items and the total of the whole filtered list. */
export async function fetchPage(path) {
  const response = await send(path);
  const items = await response.json();
  const total = Number(response.headers.get("X-Total-Count") ?? items.length);
  return { items, total };
}

const number = (n) => n.toLocaleString("en-GB");

/**
 * A paged, searchable, sortable list. `form` holds named inputs that become query parameters (q, priority, ...);
 * `table` has header buttons with data-sort; `nav` receives the page links; `render(items)` draws the rows.
 */
export class Pager {
  constructor({ path, form, table, nav, render, noun, nouns, extra = () => ({}) }) {
    Object.assign(this, { path, form, table, nav, render, noun, nouns, extra });
    this.page = 1;
    this.sort = "";
    this.total = 0;
    const url = new URLSearchParams(location.search);
    for (const input of this.inputs()) {
      if (!url.has(input.name)) continue;
      if (input.type === "checkbox") input.checked = url.get(input.name) === input.value;
      else input.value = url.get(input.name);
    }
    this.sort = url.get("sort") || "";
    this.page = Math.max(1, Number(url.get("page")) || 1);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.page = 1;
      this.load();
    });
    for (const button of $$("button[data-sort]", table)) {
      button.addEventListener("click", () => {
        const key = button.dataset.sort;
        this.sort = this.sort === key ? `-${key}` : key;
        this.page = 1;
        this.load();
      });
    }
  }

  inputs() {
    return $$("input[name], select[name]", this.form);
  }

  static value(input) {
    if (input.type === "checkbox") return input.checked ? input.value : "";
    return input.value.trim();
  }

  query() {
    const q = new URLSearchParams();
    for (const input of this.inputs()) {
      const value = Pager.value(input);
      if (value) q.set(input.name, value);
    }
    if (this.sort) q.set("sort", this.sort);
    for (const [k, v] of Object.entries(this.extra())) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    return q;
  }

  async load() {
    const q = this.query();
    const shown = new URLSearchParams(q);
    if (this.page > 1) shown.set("page", this.page);
    history.replaceState(null, "", `${location.pathname}${shown.toString() ? `?${shown}` : ""}`);
    q.set("limit", PAGE_SIZE);
    q.set("offset", (this.page - 1) * PAGE_SIZE);
    this.table.removeAttribute("data-loaded");
    const { items, total } = await fetchPage(`${this.path}?${q}`);
    this.total = total;
    await this.render(items);
    this.drawSort();
    this.drawNav(items.length);
    this.table.dataset.loaded = "true";
    return items;
  }

  drawSort() {
    for (const button of $$("button[data-sort]", this.table)) {
      const key = button.dataset.sort;
      const th = button.closest("th");
      if (this.sort === key) th.setAttribute("aria-sort", "ascending");
      else if (this.sort === `-${key}`) th.setAttribute("aria-sort", "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  drawNav(shown) {
    const pages = Math.max(1, Math.ceil(this.total / PAGE_SIZE));
    const first = this.total === 0 ? 0 : (this.page - 1) * PAGE_SIZE + 1;
    const words = this.total === 0
      ? `No ${this.nouns} match.`
      : `${this.nouns[0].toUpperCase()}${this.nouns.slice(1)} ${number(first)}–${number(first + shown - 1)} of ${number(this.total)}`;
    const go = (page) => () => {
      this.page = page;
      this.load().then(() => this.table.focus());
    };
    this.nav.replaceChildren(
      h("button", { type: "button", class: "secondary", disabled: this.page <= 1 ? "" : null, onclick: go(this.page - 1) },
        "Previous page"),
      h("span", { class: "page-info", role: "status" }, words, pages > 1 ? ` (page ${this.page} of ${number(pages)})` : ""),
      h("button", { type: "button", class: "secondary", disabled: this.page >= pages ? "" : null, onclick: go(this.page + 1) },
        "Next page"),
    );
  }
}

// --- CSV import and export ----------------------------------------------------------------------------------

/** Download `/<kind>/export` (signed in) as a file. */
export async function downloadFile(path, filename) {
  const response = await send(path, { headers: { Accept: "*/*" } });
  const blob = await response.blob();
  const link = h("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function errorTable(rows) {
  return h("table", { id: "import-errors-table" },
    h("caption", {}, `Problems in the file (${rows.length}). Nothing was imported: fix these rows and import the file again.`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Row"), h("th", { scope: "col" }, "Column"), h("th", { scope: "col" }, "Problem"))),
    h("tbody", {}, ...rows.map((e) => h("tr", {}, h("td", {}, e.row ?? ""), h("td", {}, e.field ?? ""), h("td", {}, e.msg ?? "")))));
}

/** Wire the CSV section rendered by the `csv_tools` macro: export button, import form, error table. */
export function setupCsv(kind, { canImport, onImported, noun }) {
  const section = $(`#csv-${kind}`);
  if (!section) return;
  section.hidden = false;
  $(`#export-${kind}`).addEventListener("click", async () => {
    try {
      await downloadFile(`/${kind}/export`, `${kind}.csv`);
      say(`The ${noun} list was downloaded as ${kind}.csv.`);
    } catch (exc) {
      say(`Not downloaded: ${exc.message}`);
    }
  });
  const form = $(`#import-${kind}`);
  form.hidden = !canImport;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $(`#file-${kind}`);
    const out = $(`#import-result-${kind}`);
    out.replaceChildren();
    if (!input.files.length) {
      out.append(h("p", { class: "error", role: "alert" }, "Choose a CSV file first."));
      input.focus();
      return;
    }
    const body = new FormData();
    body.append("file", input.files[0]);
    let response;
    try {
      response = await fetch(`/${kind}/import`, { method: "POST", body, headers: { Accept: "application/json", ...authHeaders() } });
    } catch (exc) {
      out.append(h("p", { class: "error", role: "alert" }, "No connection to the service: nothing was imported."));
      return;
    }
    const data = await response.json().catch(() => null);
    if (response.ok) {
      out.append(h("p", { role: "status" }, `Imported: ${data.created} new and ${data.updated} changed.`));
      form.reset();
      if (onImported) await onImported();
      return;
    }
    if (response.status === 422 && data && Array.isArray(data.detail)) {
      out.append(h("p", { role: "alert", class: "error" }, data.message || "The file has problems: nothing was imported."),
        h("div", { class: "table-wrap" }, errorTable(data.detail)));
      return;
    }
    const why = data && typeof data.detail === "string" ? data.detail : `the service answered ${response.status}`;
    out.append(h("p", { class: "error", role: "alert" }, `Nothing was imported: ${why}.`));
  });
}
