// The "where" part of a form: a street address, or a place chosen on the map (latitude and longitude).
import { $, fieldError, numberValue } from "./common.js";
import { placePicker } from "./map.js";

export async function setupPlace(root = document) {
  const picker = $("[data-picker]", root);
  return placePicker(picker, $("#lat", root), $("#lon", root));
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
