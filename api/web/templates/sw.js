// The pages' service worker: network first, the last good copy when there is no connection.
// Only the pages, their files and the map data (roads and base layers) are kept here; personal data (a driver's manifest) is kept by the
// manifest page itself in localStorage and removed on sign-out.
const CACHE = "evac-{{ version }}";
const SHELL = {{ shell | tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("evac-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function keep(url) {
  return url.origin === self.location.origin && (url.pathname.startsWith("/app/") || url.pathname.startsWith("/map/"));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || !keep(url)) return; // the JSON API always goes to the network
  const key = url.pathname; // pages are the same for everyone; queries (?alert=) do not change the file
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(() => caches.match(key).then((hit) => hit || Response.error())),
  );
});
