// The "where" part of a form: a street address (suggested as you type from the map's own addresses, no
// internet), or a place chosen on the map (latitude and longitude), described in words from the same map.
import { $, api, fieldError, numberValue } from "./common.js";
import { placePicker } from "./map.js";

export async function setupPlace(root = document) {
  const picker = $("[data-picker]", root);
  const map = await placePicker(picker, $("#lat", root), $("#lon", root));
  addressSuggestions($("#address", root), map);
  return map;
}

/** Suggestions under the address field as it is typed; choosing one places the pin (a house number) or shows
 * the street on the map to click the house on (a street without that number in the map). */
function addressSuggestions(input, map) {
  if (!input) return;
  const list = document.createElement("datalist");
  list.id = "address-suggestions";
  input.after(list);
  input.setAttribute("list", list.id);
  const note = document.createElement("p");
  note.className = "hint";
  note.id = "address-found";
  note.setAttribute("aria-live", "polite");
  list.after(note);
  let found = [];
  let asked = 0;
  input.addEventListener("input", async () => {
    const q = input.value.trim();
    const choice = found.find((m) => m.label === q);
    if (choice) {
      use(choice);
      return;
    }
    if (q.length < 2) return;
    const mine = ++asked;
    try {
      const answer = await api(`/geocode/search?q=${encodeURIComponent(q)}&limit=8`);
      if (mine !== asked) return; // an older answer after a newer one
      found = answer;
      list.replaceChildren(...found.map((m) => {
        const option = document.createElement("option");
        option.value = m.label;
        option.label = m.kind === "street" ? `${m.label} (street)` : m.label;
        return option;
      }));
    } catch (exc) {
      // No suggestions (signed out or offline): the address is still sent and placed by the service.
    }
  });
  function use(match) {
    if (!map) return;
    map.fit([[match.lon, match.lat]]);
    if (match.kind === "address") {
      $("#lat").value = match.lat;
      $("#lon").value = match.lon;
      map.pin();
      note.textContent = `${match.label} is marked on the map.`;
    } else {
      note.textContent = `The map has ${match.label} but not that house: click the house on the map.`;
    }
  }
}

/** The position fields for the API, or null after putting plain errors next to the fields. */
export function readPlace() {
  const address = $("#address").value.trim();
  const lat = numberValue("lat");
  const lon = numberValue("lon");
  let ok = true;
  if (lat === null && lon === null) {
    if (!address) {
      fieldError("address", "Enter the street address, or choose the place on the map.");
      return null;
    }
    return { address, lat: null, lon: null };
  }
  if (lat === null || Number.isNaN(lat) || lat < -90 || lat > 90) {
    ok = !fieldError("lat", "Enter a latitude between -90 and 90, like 60.5246, or choose the place on the map.") && ok;
  }
  if (lon === null || Number.isNaN(lon) || lon < -180 || lon > 180) {
    ok = !fieldError("lon", "Enter a longitude between -180 and 180, like 26.9407, or choose the place on the map.") && ok;
  }
  return ok ? { address, lat, lon } : null;
}

export function fillPlace(record, map) {
  $("#address").value = record ? record.address || "" : "";
  $("#lat").value = record ? record.lat : "";
  $("#lon").value = record ? record.lon : "";
  if (map) map.pin();
}
