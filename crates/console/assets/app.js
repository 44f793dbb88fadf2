// The console's entry: login, session, and the screen for the URL's hash.
import { json, call, setSession, whenExpired } from "./api.js";
import { h, mount, toast } from "./ui.js";
import { bucketsView } from "./buckets.js";
import { objectsView } from "./objects.js";
import { settingsView } from "./settings.js";
import { identityView } from "./identity.js";
import { monitorView } from "./monitor.js";

let session = null;

function loginView(message) {
  session = null;
  document.getElementById("top").hidden = true;
  const ak = h("input", { id: "access-key", name: "username", autocomplete: "username", required: true });
  const sk = h("input", { id: "secret-key", name: "password", type: "password", autocomplete: "current-password", required: true });
  const err = h("div", { class: "error", role: "alert", id: "login-error" }, message || "");
  const form = h("form", { class: "card login", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    const resp = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json", "X-Almacen-Csrf": "login" }, body: JSON.stringify({ accessKey: ak.value, secretKey: sk.value }) });
    if (!resp.ok) { let m = `HTTP ${resp.status}`; try { m = (await resp.json()).Message; } catch { /* keep */ } err.textContent = m; return; }
    await start();
  } }, h("h1", {}, "almacen console"), h("label", { for: "access-key" }, "Access key"), ak, h("label", { for: "secret-key" }, "Secret key"), sk, err, h("button", { type: "submit", id: "login" }, "Log in"));
  mount(form);
  ak.focus();
}

async function start() {
  try { session = await json("GET", "/api/session"); } catch { loginView(); return; }
  setSession(session.csrf);
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = session.accessKey;
  document.getElementById("nav-identity").hidden = !session.admin;
  document.getElementById("nav-monitor").hidden = !session.monitor;
  route();
}

function route() {
  if (!session) return;
  const hash = location.hash.replace(/^#/, "") || "/buckets";
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", hash.startsWith(`/${a.dataset.nav}`) || (a.dataset.nav === "buckets" && (hash.startsWith("/b/") || hash.startsWith("/settings/")))));
  let m;
  if ((m = hash.match(/^\/b\/([^/]+)\/?(.*)$/))) return objectsView(decodeURIComponent(m[1]), m[2].split("/").map(decodeURIComponent).join("/"));
  if ((m = hash.match(/^\/settings\/([^/]+)$/))) return settingsView(decodeURIComponent(m[1]));
  if (hash === "/identity") return identityView();
  if (hash === "/monitor") return monitorView();
  return bucketsView();
}

whenExpired(() => { if (session) loginView("Your session has expired: log in again."); });
window.addEventListener("hashchange", route);
document.getElementById("logout").addEventListener("click", async () => {
  try { await call("POST", "/api/logout"); } catch { /* gone already */ }
  toast("Logged out");
  loginView();
});
start();
