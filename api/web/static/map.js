// Maps as SVG drawn from the service's own road map (GET /map/roads): roads, flood zones, routes, stops and
// shelters, with no tiles and no internet. Zoom with the buttons, the wheel or + and -; pan by dragging or with
// the arrow keys when the map has focus. Every click target on a map can also be reached with a form field.

const SVG = "http://www.w3.org/2000/svg";
let roadsPromise = null;

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

const LAYERS = ["roads", "hits", "flood", "closed", "routes", "draft", "marks", "pins"];

export class SvgMap {
  /**
   * @param container element to draw into
   * @param roads the /map/roads answer
   * @param options label (the map's accessible name), onPick(lon, lat), onRoad(way), clickableRoads
   */
  constructor(container, roads, { label = "Map", onPick = null, onRoad = null } = {}) {
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
    this.el = svg("svg", { role: "img", "aria-label": label, tabindex: "0", preserveAspectRatio: "xMidYMid meet" });
    this.el.append(svg("title"));
    this.el.firstChild.textContent = label;
    this.layers = {};
    for (const name of LAYERS) {
      this.layers[name] = svg("g", { class: `layer-${name}` });
      this.el.append(this.layers[name]);
    }
    container.replaceChildren(this.el);
    container.append(this.tools());
    const caption = document.createElement("p");
    caption.className = "map-caption";
    caption.textContent = "Map data © OpenStreetMap contributors, ODbL.";
    container.append(caption);
    this.drawRoads();
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
        title.textContent = way.name ? `${way.name} (road ${way.id})` : `road ${way.id}`;
        hit.append(title);
        hit.addEventListener("click", (event) => {
          event.stopPropagation();
          if (!this.dragged) this.onRoad(way);
        });
        this.layers.hits.append(hit);
      }
    }
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

  /** A round (or `square`) marker of `r` screen units at [lon, lat]. */
  mark(layer, at, { cls = "stop", r = 6, color = null, title = null, square = false } = {}) {
    const [x, y] = this.project(at);
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

  /** Draw these OSM way ids as closed. */
  closed(wayIds) {
    const shut = new Set(wayIds.map(Number));
    for (const [id, el] of this.wayEls) el.classList.toggle("closed", shut.has(id));
  }

  wayName(id) {
    const way = this.roads.ways.find((w) => w.id === Number(id));
    return way && way.name ? way.name : `road ${id}`;
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
    },
  });
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
