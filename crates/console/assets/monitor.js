// Monitoring: storage, objects, request rate, error rate and latency over
// the last hour, from the server's own metrics sampled every few seconds.
import { json } from "./api.js";
import { h, mount, size, guard } from "./ui.js";

function chart(title, points, fmt) {
  const w = 300, ht = 100;
  const max = Math.max(...points.map((p) => p.v), 1e-9);
  const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
  const xy = points.map((p) => `${((p.t - t0) / Math.max(t1 - t0, 1)) * w},${ht - (p.v / max) * (ht - 5)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${ht}`); svg.setAttribute("preserveAspectRatio", "none"); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", title);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", xy); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#1f6feb"); line.setAttribute("stroke-width", "2"); line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  const last = points.length ? points[points.length - 1].v : 0;
  return h("div", { class: "card chart" }, h("div", { class: "muted" }, title), h("div", { class: "value" }, fmt(last)), svg, h("div", { class: "muted" }, `max ${fmt(max)} · last hour`));
}

export async function monitorView() {
  const err = h("div", { class: "error", role: "alert" });
  const grid = h("div", { class: "charts", id: "charts" });
  mount(h("h1", {}, "Monitoring"), err, grid);
  const draw = async () => {
    const r = await guard(() => json("GET", "/api/metrics"), err);
    if (!r) return;
    const s = r.samples;
    const rate = (f) => s.slice(1).map((x, i) => { const dt = (x.t - s[i].t) / 1000; return { t: x.t, v: dt > 0 ? Math.max(0, f(x) - f(s[i])) / dt : 0 }; });
    const lat = s.slice(1).map((x, i) => { const n = x.latencyCount - s[i].latencyCount; return { t: x.t, v: n > 0 ? ((x.latencySum - s[i].latencySum) / n) * 1000 : 0 }; });
    const last = s[s.length - 1];
    grid.replaceChildren(
      h("div", { class: "card chart" }, h("div", { class: "muted" }, "Disk"), h("div", { class: "value", id: "disk-used" }, `${size(last.diskTotal - last.diskFree)} used`), h("div", {}, `${size(last.diskFree)} free of ${size(last.diskTotal)}`), h("progress", { max: last.diskTotal || 1, value: last.diskTotal - last.diskFree })),
      chart("Stored (all versions)", s.map((x) => ({ t: x.t, v: x.bytes })), size),
      chart("Objects", s.map((x) => ({ t: x.t, v: x.objects })), (v) => String(Math.round(v))),
      chart("Requests per second", rate((x) => x.requests), (v) => v.toFixed(2)),
      chart("Errors per second", rate((x) => x.errors), (v) => v.toFixed(2)),
      chart("Mean latency (ms, time to first byte)", lat, (v) => v.toFixed(1)));
  };
  await draw();
  const timer = setInterval(() => { if (!document.getElementById("charts")) clearInterval(timer); else draw(); }, 10000);
}
