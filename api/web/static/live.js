// Live updates of an alert: server-sent events read through fetch (so the bearer token goes in a header, never in
// a URL), reconnecting when the server ends the stream; when streams fail (a proxy that buffers, no connection)
// it falls back to polling GET /alerts/{id}/live. `onChange` gets {alert_id, version, status_at, status}.
import { api, token } from "./common.js";

const POLL_MS = 5000;

export function watch(alertId, onChange) {
  let stopped = false;
  let failures = 0;
  let controller = null;

  async function stream() {
    controller = new AbortController();
    const response = await fetch(`/alerts/${alertId}/events`, {
      headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" }, signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        if (data) {
          failures = 0;
          onChange(JSON.parse(data));
        }
      }
    }
  }

  async function poll() {
    while (!stopped) {
      try {
        onChange(await api(`/alerts/${alertId}/live`));
      } catch (exc) {
        // offline or signed out: try again at the next tick
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await stream();
      } catch (exc) {
        if (stopped) return;
        failures += 1;
      }
      if (failures >= 3) {
        poll();
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
