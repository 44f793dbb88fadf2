// Small DOM helpers shared by the screens.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function mount(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
  return main;
}

export function toast(message, bad = false) {
  const el = h("div", { class: bad ? "bad" : "" }, message);
  document.getElementById("toast").append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 3500);
}

export function size(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return "—";
  const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(1) : v} ${u[i]}`;
}

export const when = (s) => (s ? new Date(s).toLocaleString() : "");

// Runs `fn` and shows its error in `slot` (an element) or as a toast.
export async function guard(fn, slot) {
  if (slot) slot.textContent = "";
  try { return await fn(); } catch (e) {
    if (e.code === "SessionExpired") return undefined;
    if (slot) slot.textContent = e.message; else toast(e.message, true);
    return undefined;
  }
}

// A labelled editor of a raw document (XML or JSON) with load/save/delete.
export function rawEditor({ title, help, load, save, remove, validate, placeholder, canSave = true }) {
  const area = h("textarea", { "aria-label": title, placeholder: placeholder || "", spellcheck: "false" });
  const msg = h("div", { class: "error", role: "alert" });
  const okMsg = h("span", { class: "ok" });
  const reload = async () => { area.value = (await guard(load, msg)) ?? ""; };
  const saveBtn = h("button", { type: "button", disabled: !canSave, onclick: async () => {
    okMsg.textContent = "";
    if (validate) { const problem = validate(area.value); if (problem) { msg.textContent = problem; return; } }
    if ((await guard(async () => { await save(area.value); return true; }, msg))) { okMsg.textContent = "Saved"; }
  } }, "Save");
  const delBtn = remove ? h("button", { type: "button", class: "secondary", disabled: !canSave, onclick: async () => {
    if ((await guard(async () => { await remove(); return true; }, msg))) { okMsg.textContent = "Removed"; await reload(); }
  } }, "Remove") : null;
  reload();
  return h("section", { class: "card", "data-editor": title }, h("h2", {}, title), help ? h("p", { class: "muted" }, help) : null, area, msg, h("div", { class: "row" }, saveBtn, delBtn, okMsg));
}

// A JSON parse error with its line, for inline validation.
export function jsonProblem(text) {
  try { JSON.parse(text); return ""; } catch (e) { return `Invalid JSON: ${e.message}`; }
}

export function confirmTyped(question, expected) {
  const answer = window.prompt(`${question}\nType "${expected}" to confirm.`);
  return answer === expected;
}
