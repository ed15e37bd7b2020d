// Maps as SVG drawn from the service's own map file: water, parks, woods, buildings and street names
// (GET /map/base), the drivable roads (GET /map/roads), then flood zones, routes with direction arrows, numbered
// stops, shelters and households, and closed roads on top of everything so a route never hides one. No tiles, no
// font or script from elsewhere: nothing leaves the machine. Zoom with the buttons, the wheel or + and -; pan by
// dragging or with the arrow keys when the map has focus. Street names keep their size on screen and show where
// they fit. Every click target on a map can also be reached with a form field.
//
// Why SVG and not vector tiles: the town's map is small (a few thousand shapes), SVG needs no WebGL (old phones,
// headless browsers), its labels are real text (searchable, testable, readable by assistive technology), and
// it needs no tile build step or font files.

import { api } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
let roadsPromise = null;
let basePromise = null;

/** The base layers (water, green, buildings, street names), fetched once per page; null when not available. */
export function loadBase() {
  if (!basePromise) {
    basePromise = fetch("/map/base").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  }
  return basePromise;
}

const placeWords = new Map(); // "lat,lon" -> promise of the position in words

/** A record's place for lists: its address, else its position in words from the map ("near Kortetie"), shown
 * as coordinates until the answer arrives (or when it cannot be had). */
export function placeText(record) {
  const span = document.createElement("span");
  if (record.address) {
    span.textContent = record.address;
    return span;
  }
  span.textContent = `${record.lat.toFixed(5)}, ${record.lon.toFixed(5)}`;
  const key = `${record.lat},${record.lon}`;
  if (!placeWords.has(key)) {
    placeWords.set(key, api(`/geocode/reverse?lat=${record.lat}&lon=${record.lon}`).then((p) => p.label).catch(() => null));
  }
  placeWords.get(key).then((label) => {
    if (label) span.textContent = label;
  });
  return span;
}

/** A link that opens the place in the phone's own map app (geo: URI, RFC 5870), with a label. */
export function geoLink(lat, lon, label, text = "Open in my map app") {
  const a = document.createElement("a");
  const q = label ? `?q=${lat},${lon}(${encodeURIComponent(label)})` : "";
  a.href = `geo:${lat},${lon}${q}`;
  a.className = "geo-link";
  a.textContent = text;
  return a;
}

/** The road map, fetched once per page (the service worker keeps a copy for offline use). */
export function loadRoads() {
  if (!roadsPromise) {
    roadsPromise = fetch("/map/roads").then((r) => {
      if (!r.ok) throw new Error(`road map not available (${r.status})`);
      return r.json();
    });
    roadsPromise.catch(() => {
      roadsPromise = null;
    });
  }
  return roadsPromise;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  return el;
}

/** Route colours, dark enough for 3:1 against the light map background. */
export const PALETTE = ["#0b6fb8", "#b3470d", "#6a3d9a", "#00786f", "#a3195b", "#5b6b00", "#1f3f99", "#8c5400",
  "#c2185b", "#2e7d32"];

// Bottom to top. Closed roads lie over the routes; click targets for roads over those; labels and markers on top.
const LAYERS = ["base", "roads", "flood", "routes", "arrows", "closed", "hits", "labels", "draft", "marks", "pins"];

/** Legend entries by key: [css class of the swatch, words]. */
export const LEGEND = {
  route: ["key-route", "route of a car (arrows: driving direction)"],
  pickup: ["key-pickup", "pick-up, numbered in driving order"],
  shelter: ["key-shelter", "shelter"],
  household: ["key-household", "registered household"],
  unserved: ["key-unserved", "household without a ride"],
  flood: ["key-flood", "flood zone"],
  closed: ["key-closed", "closed road"],
  water: ["key-water", "water"],
  green: ["key-green", "park, grass or woods"],
  building: ["key-building", "building"],
};

export class SvgMap {
  /**
   * @param container element to draw into
   * @param roads the /map/roads answer
   * @param options label (the map's accessible name), onPick(lon, lat), onRoad(way, lon, lat), legend (keys of
   *   LEGEND to list under the map)
   */
  constructor(container, roads, { label = "Map", onPick = null, onRoad = null, legend = null } = {}) {
    this.container = container;
    this.roads = roads;
    this.onPick = onPick;
    this.onRoad = onRoad;
    const [minLon, minLat, maxLon, maxLat] = roads.bbox;
    this.lon0 = minLon;
    this.lat1 = maxLat;
    this.cos = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
    this.k = 1000 / ((maxLon - minLon) * this.cos);
    this.full = { x: -20, y: -20, w: 1040, h: (maxLat - minLat) * this.k + 40 };
    this.view = { ...this.full };
    this.wayEls = new Map();
    this.marks = [];
    this.labels = [];
    this.arrows = [];
    this.el = svg("svg", { role: "img", "aria-label": label, tabindex: "0", preserveAspectRatio: "xMidYMid meet" });
    this.el.append(svg("title"));
    this.el.firstChild.textContent = label;
    this.defs = svg("defs");
    this.el.append(this.defs);
    this.uid = `m${Math.random().toString(36).slice(2, 8)}`;
    this.layers = {};
    for (const name of LAYERS) {
      this.layers[name] = svg("g", { class: `layer-${name}` });
      this.el.append(this.layers[name]);
    }
    container.replaceChildren(this.el);
    container.append(this.tools());
    if (legend) container.append(this.legendList(legend));
    const caption = document.createElement("p");
    caption.className = "map-caption";
    caption.textContent = "Map data © OpenStreetMap contributors, ODbL.";
    container.append(caption);
    this.drawRoads();
    loadBase().then((base) => base && this.drawBase(base));
    this.bind();
    this.apply();
    // Sizes depend on the map's size on screen: redo them when it changes (or is first shown).
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(() => this.later()).observe(this.el);
  }

  tools() {
    const box = document.createElement("div");
    box.className = "map-tools";
    const add = (text, label, fn) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.title = label;
      b.addEventListener("click", fn);
      box.append(b);
    };
    add("+", "Zoom in", () => this.zoom(0.6));
    add("−", "Zoom out", () => this.zoom(1 / 0.6));
    add("⟲", "Show the whole map", () => this.reset());
    return box;
  }

  project([lon, lat]) {
    return [(lon - this.lon0) * this.cos * this.k, (this.lat1 - lat) * this.k];
  }

  unproject(x, y) {
    return [x / (this.cos * this.k) + this.lon0, this.lat1 - y / this.k];
  }

  pathData(coords) {
    return coords.map((c, i) => {
      const [x, y] = this.project(c);
      return `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
    }).join("");
  }

  drawRoads() {
    for (const way of this.roads.ways) {
      const d = way.lines.map((line) => this.pathData(line)).join("");
      const path = svg("path", { d, class: way.name ? "road named" : "road", "data-way": way.id });
      this.layers.roads.append(path);
      this.wayEls.set(way.id, path);
      if (this.onRoad) {
        const hit = svg("path", { d, class: "road-hit", "data-way": way.id });
        const title = svg("title");
        title.textContent = roadName(way);
        hit.append(title);
        hit.addEventListener("click", (event) => {
          event.stopPropagation();
          if (this.dragged) return;
          const [x, y] = this.toMap(event.clientX, event.clientY);
          const [lon, lat] = this.unproject(x, y);
          this.onRoad(way, lon, lat);
        });
        this.layers.hits.append(hit);
      }
    }
  }

  legendList(keys) {
    const ul = document.createElement("ul");
    ul.className = "legend";
    ul.setAttribute("aria-label", "Map legend");
    for (const key of keys) {
      const [cls, words] = LEGEND[key];
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `key ${cls}`;
      li.append(swatch, words);
      ul.append(li);
    }
    return ul;
  }

  /** Water, green, woods and buildings under the roads; street and place names over everything but markers. */
  drawBase(base) {
    const area = (kind) => {
      const polys = base.areas[kind] || [];
      if (!polys.length) return;
      const d = polys.map((rings) => rings.map((ring) => `${this.pathData(ring)}Z`).join("")).join("");
      this.layers.base.append(svg("path", { d, class: `base-${kind}`, "fill-rule": "evenodd" }));
    };
    for (const kind of ["green", "wood", "water", "building"]) area(kind);
    for (const kind of ["waterway", "coastline"]) {
      const lines = base.lines[kind] || [];
      if (lines.length) {
        this.layers.base.append(svg("path", { d: lines.map((l) => this.pathData(l)).join(""), class: `base-${kind}`,
          "data-w": kind === "waterway" ? 2 : 1.5 }));
      }
    }
    base.streets.forEach((street, i) => this.streetLabel(street, i));
    for (const place of base.places || []) {
      const [x, y] = this.project([place.lon, place.lat]);
      const el = svg("text", { x: x.toFixed(1), y: y.toFixed(1), class: "place-label", "text-anchor": "middle" });
      el.textContent = place.name;
      this.layers.labels.append(el);
      this.labels.push({ el, size: 14, fits: () => true });
    }
    this.later();
  }

  /** A street's name along its longest stretch, written left to right, shown when it fits at the current zoom. */
  streetLabel(street, i) {
    let best = null;
    let bestLength = 0;
    for (const line of street.lines) {
      const xy = line.map((c) => this.project(c));
      let length = 0;
      for (let k = 1; k < xy.length; k += 1) length += Math.hypot(xy[k][0] - xy[k - 1][0], xy[k][1] - xy[k - 1][1]);
      if (length > bestLength) {
        bestLength = length;
        best = xy;
      }
    }
    if (!best || bestLength <= 0) return;
    if (best[0][0] > best[best.length - 1][0]) best = best.slice().reverse(); // never upside down
    const id = `${this.uid}-s${i}`;
    const d = best.map(([x, y], k) => `${k ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join("");
    this.defs.append(svg("path", { id, d }));
    const text = svg("text", { class: "street-label", dy: "0.35em" });
    const along = svg("textPath", { href: `#${id}`, startOffset: "50%", "text-anchor": "middle" });
    along.textContent = street.name;
    text.append(along);
    this.layers.labels.append(text);
    const size = 12;
    // Shown when the name (about 0.6 em a letter) fits in the stretch's length on screen.
    const fits = (u) => street.name.length * 0.66 * size * u < bestLength * 0.9;
    this.labels.push({ el: text, size, fits });
  }

  bind() {
    let start = null;
    this.el.addEventListener("pointerdown", (event) => {
      start = { x: event.clientX, y: event.clientY, view: { ...this.view } };
      this.dragged = false;
    });
    this.el.addEventListener("pointermove", (event) => {
      if (!start || !(event.buttons & 1)) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) this.dragged = true;
      if (!this.dragged) return;
      const s = this.scale();
      this.view.x = start.view.x - dx * s;
      this.view.y = start.view.y - dy * s;
      this.apply();
    });
    this.el.addEventListener("pointerup", () => {
      start = null;
    });
    this.el.addEventListener("click", (event) => {
      if (this.dragged || !this.onPick) return;
      const [x, y] = this.toMap(event.clientX, event.clientY);
      const [lon, lat] = this.unproject(x, y);
      this.onPick(Number(lon.toFixed(6)), Number(lat.toFixed(6)));
    });
    this.el.addEventListener("wheel", (event) => {
      event.preventDefault();
      this.zoom(event.deltaY < 0 ? 0.8 : 1.25, this.toMap(event.clientX, event.clientY));
    }, { passive: false });
    this.el.addEventListener("keydown", (event) => {
      const step = this.view.w * 0.15;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key]) {
        this.view.x += moves[event.key][0];
        this.view.y += moves[event.key][1];
        this.apply();
      } else if (event.key === "+" || event.key === "=") this.zoom(0.6);
      else if (event.key === "-") this.zoom(1 / 0.6);
      else if (event.key === "0") this.reset();
      else return;
      event.preventDefault();
    });
  }

  /** Map units per screen pixel, for the current view (as if 1000 pixels wide while the map is not shown). */
  scale() {
    const box = this.el.getBoundingClientRect();
    if (!box.width || !box.height) return this.view.w / 1000;
    return Math.max(this.view.w / box.width, this.view.h / box.height);
  }

  toMap(clientX, clientY) {
    const point = this.el.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    const m = this.el.getScreenCTM();
    const p = m ? point.matrixTransform(m.inverse()) : point;
    return [p.x, p.y];
  }

  zoom(factor, center = null) {
    const [cx, cy] = center || [this.view.x + this.view.w / 2, this.view.y + this.view.h / 2];
    const w = Math.min(Math.max(this.view.w * factor, 40), this.full.w * 4);
    const f = w / this.view.w;
    this.view = { x: cx - (cx - this.view.x) * f, y: cy - (cy - this.view.y) * f, w, h: this.view.h * f };
    this.apply();
  }

  reset() {
    this.view = { ...this.full };
    this.apply();
  }

  /** Fit the view to these [lon, lat] points (with a margin). */
  fit(points) {
    if (!points.length) return this.reset();
    const xy = points.map((p) => this.project(p));
    const xs = xy.map((p) => p[0]);
    const ys = xy.map((p) => p[1]);
    const pad = 30;
    const x = Math.min(...xs) - pad;
    const y = Math.min(...ys) - pad;
    const w = Math.max(Math.max(...xs) - x + pad, 150);
    const hgt = Math.max(Math.max(...ys) - y + pad, 100);
    this.view = { x, y, w, h: hgt };
    this.apply();
  }

  apply() {
    const v = this.view;
    this.el.setAttribute("viewBox", `${v.x.toFixed(1)} ${v.y.toFixed(1)} ${v.w.toFixed(1)} ${v.h.toFixed(1)}`);
    // Markers and lines keep their size on screen whatever the zoom: sizes are in screen pixels.
    const u = this.scale();
    for (const { el, r } of this.marks) {
      if (el.tagName === "circle") el.setAttribute("r", (r * u).toFixed(2));
      else {
        const [cx, cy] = el.dataset.at.split(",").map(Number);
        el.setAttribute("x", (cx - r * u).toFixed(2));
        el.setAttribute("y", (cy - r * u).toFixed(2));
        el.setAttribute("width", (2 * r * u).toFixed(2));
        el.setAttribute("height", (2 * r * u).toFixed(2));
      }
    }
    for (const { el, size, fits } of this.labels) {
      el.setAttribute("font-size", (size * u).toFixed(2));
      el.setAttribute("stroke-width", (3 * u).toFixed(2));
      el.style.display = fits(u) ? "" : "none";
    }
    for (const { el, x, y, angle } of this.arrows) {
      el.setAttribute("transform", `translate(${x.toFixed(2)} ${y.toFixed(2)}) rotate(${angle.toFixed(1)}) scale(${u.toFixed(4)})`);
    }
    for (const el of this.el.querySelectorAll("[data-w]")) {
      el.setAttribute("stroke-width", (Number(el.dataset.w) * u).toFixed(2));
    }
    this.el.querySelectorAll(".road").forEach((el) => el.setAttribute("stroke-width", (1.6 * u).toFixed(2)));
    this.el.querySelectorAll(".road.named").forEach((el) => el.setAttribute("stroke-width", (2.4 * u).toFixed(2)));
    this.el.querySelectorAll(".road-hit").forEach((el) => el.setAttribute("stroke-width", (14 * u).toFixed(2)));
  }

  clear(...names) {
    for (const name of names) this.layers[name].replaceChildren();
    this.marks = this.marks.filter(({ el }) => el.isConnected);
    this.labels = this.labels.filter(({ el }) => el.isConnected);
    this.arrows = this.arrows.filter(({ el }) => el.isConnected);
  }

  line(layer, coords, { cls = "route", color = null, width = 4, title = null } = {}) {
    const el = svg("path", { d: this.pathData(coords), class: cls, stroke: color, "data-w": width });
    if (title) {
      const t = svg("title");
      t.textContent = title;
      el.append(t);
    }
    this.layers[layer].append(el);
    this.later();
    return el;
  }

  /** A route leg with arrows showing the driving direction (one per ~120 m of map, at least one). */
  route(coords, { color, width = 4, title = null } = {}) {
    const el = this.line("routes", coords, { color, width, title });
    const xy = coords.map((c) => this.project(c));
    const steps = [];
    let total = 0;
    for (let k = 1; k < xy.length; k += 1) {
      const len = Math.hypot(xy[k][0] - xy[k - 1][0], xy[k][1] - xy[k - 1][1]);
      steps.push(len);
      total += len;
    }
    if (total <= 0) return el;
    const spacing = Math.max(total / Math.max(1, Math.round(total / 60)), 1);
    let next = total < spacing ? total / 2 : spacing / 2;
    let walked = 0;
    for (let k = 1; k < xy.length && next <= total; k += 1) {
      const len = steps[k - 1];
      while (len > 0 && next <= walked + len) {
        const t = (next - walked) / len;
        const [x0, y0] = xy[k - 1];
        const [x1, y1] = xy[k];
        const angle = (Math.atan2(y1 - y0, x1 - x0) * 180) / Math.PI;
        const arrow = svg("path", { d: "M-4 -4L3 0L-4 4Z", class: "arrow", fill: color });
        this.layers.arrows.append(arrow);
        this.arrows.push({ el: arrow, x: x0 + (x1 - x0) * t, y: y0 + (y1 - y0) * t, angle });
        next += spacing;
      }
      walked += len;
    }
    this.later();
    return el;
  }

  /** Apply the view once, after everything drawn in this turn. */
  later() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.apply();
    });
  }

  polygon(layer, rings, cls = "flood") {
    const d = rings.map((ring) => `${this.pathData(ring)}Z`).join("");
    const el = svg("path", { d, class: cls, "fill-rule": "evenodd" });
    this.layers[layer].append(el);
    return el;
  }

  /** A GeoJSON Polygon or MultiPolygon. */
  geometry(layer, geometry, cls = "flood") {
    const polys = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
    return polys.map((rings) => this.polygon(layer, rings, cls));
  }

  /** A round (or `square`) marker of `r` screen units at [lon, lat]; `number` writes a number in it. */
  mark(layer, at, { cls = "stop", r = 6, color = null, title = null, square = false, number = null } = {}) {
    const [x, y] = this.project(at);
    if (number !== null) {
      const dot = this.mark(layer, at, { cls, r, color, title, square });
      const text = svg("text", { x: x.toFixed(2), y: y.toFixed(2), class: "stop-number", "text-anchor": "middle",
        dy: "0.35em", "aria-hidden": "true" });
      text.textContent = String(number);
      this.layers[layer].append(text);
      this.labels.push({ el: text, size: r * 1.25, fits: () => true });
      this.later();
      return dot;
    }
    const el = square
      ? svg("rect", { class: cls, fill: color, "data-at": `${x},${y}` })
      : svg("circle", { class: cls, cx: x.toFixed(2), cy: y.toFixed(2), fill: color });
    if (title) {
      const t = svg("title");
      t.textContent = title;
      el.append(t);
    }
    this.layers[layer].append(el);
    this.marks.push({ el, r });
    this.later();
    return el;
  }

  /** Draw these OSM way ids as closed, over the routes (black casing, red and white dashes). */
  closed(wayIds) {
    const shut = new Set(wayIds.map(Number));
    this.layers.closed.replaceChildren();
    for (const [id, el] of this.wayEls) {
      el.classList.toggle("closed", shut.has(id));
      if (!shut.has(id)) continue;
      const d = el.getAttribute("d");
      const casing = svg("path", { d, class: "closed-casing", "data-way": id });
      const line = svg("path", { d, class: "closed-road", "data-way": id });
      const dash = svg("path", { d, class: "closed-dash", "data-way": id });
      const title = svg("title");
      title.textContent = `Closed: ${this.wayName(id)}`;
      casing.append(title);
      this.layers.closed.append(casing, line, dash);
    }
    this.later();
  }

  way(id) {
    return this.roads.ways.find((w) => w.id === Number(id)) || null;
  }

  wayName(id) {
    const way = this.way(id);
    return way ? roadName(way) : `road ${id}`;
  }

  /** Every way of the map with this street name (a street is often several OSM ways). */
  street(name) {
    return name ? this.roads.ways.filter((w) => w.name === name) : [];
  }
}

/** The map inside a place fieldset: clicking sets the lat/lon fields, and typed lat/lon move the pin. */
export async function placePicker(container, latInput, lonInput) {
  let roads;
  try {
    roads = await loadRoads();
  } catch (exc) {
    container.hidden = true;
    return null;
  }
  const map = new SvgMap(container, roads, {
    label: "Map for choosing the place: click or tap it, or type the position in the fields below",
    onPick: (lon, lat) => {
      latInput.value = lat;
      lonInput.value = lon;
      pin();
      describePick(lat, lon);
    },
  });
  // The chosen place in words, from the map's own addresses ("near Tikankatu 11"), so a click can be checked.
  const said = document.createElement("p");
  said.className = "hint picked-place";
  said.setAttribute("aria-live", "polite");
  container.append(said);
  let asked = 0;
  async function describePick(lat, lon) {
    const mine = ++asked;
    try {
      const place = await api(`/geocode/reverse?lat=${lat}&lon=${lon}`);
      if (mine === asked) said.textContent = `Chosen place: ${place.label}.`;
    } catch (exc) {
      said.textContent = "";
    }
  }
  function pin() {
    map.clear("pins");
    const lat = Number(latInput.value);
    const lon = Number(lonInput.value);
    if (latInput.value !== "" && lonInput.value !== "" && Number.isFinite(lat) && Number.isFinite(lon)) {
      map.mark("pins", [lon, lat], { cls: "pin", r: 8, title: "The chosen place" });
    }
  }
  latInput.addEventListener("input", pin);
  lonInput.addEventListener("input", pin);
  map.pin = pin;
  pin();
  return map;
}

/** A road in words: its name, or the named streets it joins, and its OSM way id. */
export function roadName(way) {
  if (way.name) return `${way.name} (road ${way.id})`;
  return way.description ? `road ${way.description} (road ${way.id})` : `unnamed road ${way.id}`;
}

/** Roads grouped by street name for searching and choosing: [{name, ways}] with unnamed roads last, one each. */
export function roadGroups(roads, query = "") {
  const q = query.trim().toLocaleLowerCase();
  const groups = new Map();
  for (const way of roads.ways) {
    const text = `${way.name} ${way.description} ${way.id}`.toLocaleLowerCase();
    if (q && !text.includes(q)) continue;
    const key = way.name || `~${way.id}`;
    if (!groups.has(key)) groups.set(key, { name: way.name, ways: [] });
    groups.get(key).ways.push(way);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g);
}
