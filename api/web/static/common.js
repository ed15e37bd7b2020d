// Shared by every page: the JSON API with the bearer token, the signed-in user, navigation by role, DOM building
// without innerHTML, and errors placed next to the field they are about, in plain words.

const TOKEN = "evac.token";
const ME = "evac.me";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `request failed (${status})`);
    this.status = status;
    this.detail = detail;
  }
}

export class Offline extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

function goSignIn() {
  const next = location.pathname + location.search;
  location.assign(`/app/signin?next=${encodeURIComponent(next)}`);
}

/** Call the JSON API. `body` is sent as JSON, `form` as a URL-encoded form. Throws ApiError or Offline. */
export async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form !== undefined) {
    payload = new URLSearchParams(form);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload });
  } catch (exc) {
    throw new Offline("no connection to the service");
  }
  if (response.status === 401 && t) {
    forget();
    goSignIn();
    throw new ApiError(401, "your sign-in has expired: please sign in again");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data ? data.detail : null);
  return data;
}

/** Every item of a paged list endpoint. */
export async function all(path) {
  const out = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`${path}${sep}limit=1000&offset=${offset}`);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

export async function signIn(email, password) {
  const data = await api("/login/access-token", { method: "POST", form: { username: email, password } });
  const user = await useToken(data.access_token);
  // Someone else signed in on this device before: nothing of theirs stays (their manifest copies, their outbox).
  for (const store of [localStorage, sessionStorage]) {
    for (const key of Object.keys(store)) {
      if (key.startsWith("evac.") && key !== TOKEN && key !== ME && !ownKey(key, user.id)) store.removeItem(key);
    }
  }
  return user;
}

/** Keys of a user's own copies: `evac.<what>.<user id>` or `evac.<what>.<user id>.<...>`. */
function ownKey(key, userId) {
  return key.split(".")[2] === String(userId);
}

/** Keep a new token (sign-in, or a password change, which ends every older one) and the user it names. */
export async function useToken(accessToken) {
  sessionStorage.setItem(TOKEN, accessToken);
  const user = await api("/users/me");
  sessionStorage.setItem(ME, JSON.stringify(user));
  return user;
}

/** Drop the token, the user and every copy of personal data this browser keeps. */
export function forget() {
  for (const store of [localStorage, sessionStorage]) {
    for (const key of Object.keys(store)) {
      if (key.startsWith("evac.")) store.removeItem(key);
    }
  }
}

/** Sign out: the service ends every session of the account (all devices), and this browser forgets it all. */
export async function signOut() {
  try {
    if (token()) await api("/login/sign-out", { method: "POST" });
  } catch (exc) {
    // Offline or already ended: the copies here are dropped all the same; the token expires on its own.
  }
  forget();
}

export function cachedMe() {
  const text = sessionStorage.getItem(ME);
  return text ? JSON.parse(text) : null;
}

/** The signed-in user: fresh from the API when it answers, the copy from sign-in when offline. */
async function currentUser() {
  if (!token()) return null;
  try {
    const user = await api("/users/me");
    sessionStorage.setItem(ME, JSON.stringify(user));
    return user;
  } catch (exc) {
    if (exc instanceof Offline) return cachedMe();
    return null;
  }
}

// --- DOM ---------------------------------------------------------------------------------------------------

/** Build an element: h("a", {href: "/x", class: "y"}, "text", child). Text is always text, never markup. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function say(message) {
  const status = $("#status");
  if (status) status.textContent = message || "";
}

/** Replace the page's content with a refusal in plain words (what the API would answer anyway). */
export function refuse(message) {
  $("#content").hidden = true;
  const box = $("#refused");
  box.textContent = message;
  box.hidden = false;
}

const ROLE_WORDS = { coordinator: "coordinator", volunteer: "volunteer driver", registrar: "registrar" };

function showForRole(role) {
  for (const el of $$("[data-for]")) {
    el.hidden = !el.dataset.for.split(" ").includes(role || "anonymous");
  }
  for (const a of $$("#nav a")) {
    if (a.getAttribute("href") === location.pathname) a.setAttribute("aria-current", "page");
  }
}

/**
 * Start a page: the user, the navigation for their role, and the page's role check. Returns the user, or null
 * when the page must do nothing more (sent to sign-in, or the role may not use this page).
 */
export async function start() {
  const roles = (document.body.dataset.roles || "").split(" ").filter(Boolean);
  const user = await currentUser();
  showForRole(user ? user.role : null);
  if (user) {
    const who = $("#who");
    who.textContent = `${user.name || user.email} (${ROLE_WORDS[user.role]})`;
    who.hidden = false;
    const out = $("#signout");
    out.hidden = false;
    out.addEventListener("click", async () => {
      await signOut();
      location.assign("/app/signin");
    });
  }
  if (roles.length === 0) return user || {};
  if (!user) {
    goSignIn();
    return null;
  }
  if (user.must_change_password && document.body.dataset.page !== "password") {
    // A coordinator gave a temporary password: the API allows nothing else until it is changed.
    location.assign(`/app/password?next=${encodeURIComponent(location.pathname + location.search)}`);
    return null;
  }
  if (!roles.includes(user.role)) {
    const allowed = roles.map((r) => `${ROLE_WORDS[r]}s`).join(" and ");
    refuse(`This page is for ${allowed} only. You are signed in as a ${ROLE_WORDS[user.role]}.`);
    return null;
  }
  return user;
}

export function registerServiceWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
}

// --- forms and errors ----------------------------------------------------------------------------------------

/** An API 422 item or a message, in plain words. */
export function plain(item) {
  if (typeof item === "string") return item;
  const msg = item.msg || "";
  const type = item.type || "";
  let m;
  if (type === "missing") return "Please fill this in.";
  if ((m = msg.match(/greater than or equal to (\S+)/))) return `Must be ${m[1]} or more.`;
  if ((m = msg.match(/greater than (\S+)/))) return `Must be more than ${m[1]}.`;
  if ((m = msg.match(/less than or equal to (\S+)/))) return `Must be ${m[1]} or less.`;
  if ((m = msg.match(/at least (\d+) characters?/))) return `Too short: at least ${m[1]} characters.`;
  if ((m = msg.match(/at most (\d+) characters?/))) return `Too long: at most ${m[1]} characters.`;
  if (type.startsWith("int_")) return "Enter a whole number, like 3.";
  if (type.startsWith("float_")) return "Enter a number, like 60.52.";
  if (type === "string_pattern_mismatch") return "Enter an e-mail address like name@example.org.";
  if (/m from the nearest road/.test(msg)) return "This place is too far from any road on the map. Choose a place near a road in the area.";
  if (/geocod|address/i.test(msg) && /lat/i.test(msg)) return "We could not find this address. Choose the place on the map instead.";
  return msg.charAt(0).toUpperCase() + msg.slice(1) + (msg.endsWith(".") ? "" : ".");
}

export function clearErrors(root) {
  for (const el of $$(".error", root)) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of $$(".invalid", root)) el.classList.remove("invalid");
  for (const el of $$("[aria-invalid]", root)) el.removeAttribute("aria-invalid");
  const general = $(".form-error", root);
  if (general) {
    general.textContent = "";
    general.hidden = true;
  }
}

/** Show `message` under the field `id` and mark the field invalid. False when there is no such field. */
export function fieldError(id, message) {
  const input = document.getElementById(id);
  const box = document.getElementById(`${id}-error`);
  if (!input || !box) return false;
  box.textContent = message;
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
  const field = input.closest(".field");
  if (field) field.classList.add("invalid");
  return true;
}

export function formError(root, message) {
  const general = $(".form-error", root);
  general.textContent = message;
  general.hidden = false;
}

/**
 * Put an API error next to its fields (422) or above the form (anything else). `fields` maps API field names to
 * element ids where they differ. Returns the ids that got an error, first first.
 */
export function showApiError(root, exc, fields = {}) {
  clearErrors(root);
  const placed = [];
  const loose = [];
  if (exc instanceof ApiError && exc.status === 422 && Array.isArray(exc.detail)) {
    for (const item of exc.detail) {
      const loc = (item.loc || []).filter((part) => typeof part === "string" && part !== "body");
      const name = loc.length ? loc[0] : "";
      const id = fields[name] || name;
      if (id && fieldError(id, plain(item))) placed.push(id);
      else loose.push(plain(item));
    }
  } else if (exc instanceof Offline) {
    loose.push("There is no connection to the service. Nothing was saved: try again when you are online.");
  } else if (exc instanceof ApiError && exc.status === 409) {
    loose.push("Someone else changed this since you opened it. Reload the page and make your change again.");
  } else if (exc instanceof ApiError && exc.status === 403) {
    loose.push(`Not allowed: ${plain(exc.detail || "your role may not do this")}`);
  } else if (exc instanceof ApiError && exc.status === 429) {
    loose.push(`Too many tries: ${plain(exc.detail || "wait a moment")}`);
  } else {
    loose.push(plain(exc.message || String(exc)));
  }
  if (loose.length) formError(root, loose.join(" "));
  if (placed.length) document.getElementById(placed[0]).focus();
  else if (loose.length) $(".form-error", root).focus?.();
  return placed;
}

/** Read a number field: null when empty, NaN when not a number. */
export function numberValue(id) {
  const text = document.getElementById(id).value.trim().replace(",", ".");
  if (text === "") return null;
  return Number(text);
}

/** Check required whole numbers in [min, max]; puts plain errors next to the fields. True when all are fine. */
export function checkNumber(id, { min = null, max = null, required = false, whole = true, label = "" } = {}) {
  const value = numberValue(id);
  if (value === null) {
    if (required) return !fieldError(id, `Please enter ${label || "a number"}.`);
    return true;
  }
  if (Number.isNaN(value)) return !fieldError(id, whole ? "Enter a whole number, like 3." : "Enter a number, like 60.52.");
  if (whole && !Number.isInteger(value)) return !fieldError(id, "Enter a whole number, like 3.");
  if (min !== null && value < min) return !fieldError(id, `Must be ${min} or more.`);
  if (max !== null && value > max) return !fieldError(id, `Must be ${max} or less.`);
  return true;
}

// --- words and numbers ----------------------------------------------------------------------------------------

export function minutes(value) {
  if (value === null || value === undefined) return "";
  const m = Math.round(value);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** The clock time of `minute` after the alert start, in the browser's time zone. */
export function clock(start, minute) {
  const t = new Date(new Date(start).getTime() + minute * 60000);
  return t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export const PRIORITY_WORDS = {
  1: "first of all",
  2: "very soon",
  3: "soon",
  4: "can wait a little",
  5: "can wait",
};

export function priorityWords(p) {
  return PRIORITY_WORDS[p] || (p > 5 ? "can wait" : String(p));
}

export function params() {
  return new URLSearchParams(location.search);
}
