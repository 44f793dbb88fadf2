// Bucket settings: access policy, versioning, lifecycle, CORS, tags, quota,
// upload rules, default encryption and event notifications, each through
// the S3 or admin API with the user's own keys.
import { xml, call, json, admin, s3url, all, text } from "./api.js";
import { h, mount, guard, toast, rawEditor, jsonProblem } from "./ui.js";

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
const asText = async (method, url) => (await call(method, url)).text();
const missing = (codes) => (e) => { if (codes.includes(e.code)) return ""; throw e; };
const putXml = (url, body) => call("PUT", url, { headers: { "Content-Type": "application/xml" }, body });

export function publicReadPolicy(bucket) {
  return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: ["*"] }, Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${bucket}/*`] }] };
}

export async function settingsView(bucket) {
  let can = {};
  try { can = await json("GET", `/api/can?bucket=${encodeURIComponent(bucket)}`); } catch { /* show all */ }
  const allowed = (a) => can[a] !== false;
  const b = (q) => s3url(bucket, null, q);
  mount(h("h1", {}, h("nav", { class: "crumbs" }, h("a", { href: "#/buckets" }, "Buckets"), " / ", h("a", { href: `#/b/${encodeURIComponent(bucket)}/` }, bucket), " / settings")),
    access(bucket, allowed("s3:PutBucketPolicy")), versioning(bucket, allowed("s3:PutBucketVersioning")), lifecycle(bucket, allowed("s3:PutLifecycleConfiguration")),
    rawEditor({ title: "CORS", help: "CORSConfiguration XML: which web pages may call this bucket from a browser.", canSave: allowed("s3:PutBucketCORS"),
      placeholder: `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>`,
      load: () => asText("GET", b({ cors: null })).catch(missing(["NoSuchCORSConfiguration"])), save: (t) => putXml(b({ cors: null }), t), remove: () => call("DELETE", b({ cors: null })) }),
    tags(bucket, allowed("s3:PutBucketTagging")),
    rawEditor({ title: "Quota", help: 'A hard limit on the bytes stored, e.g. {"quota": "10GiB"}. Uploads past it are refused.',
      load: async () => { const u = await admin("GET", `buckets/${encodeURIComponent(bucket)}/quota`); return JSON.stringify(u, null, 2); },
      validate: jsonProblem, save: async (t) => { const v = JSON.parse(t); await admin("PUT", `buckets/${encodeURIComponent(bucket)}/quota`, { quota: v.quota }); },
      remove: () => admin("DELETE", `buckets/${encodeURIComponent(bucket)}/quota`) }),
    rawEditor({ title: "Upload rules", help: 'Per prefix, a maximum size and the allowed content types: {"rules":[{"prefix":"photos/","max_size":"10MiB","content_types":["image/*"]}]}',
      load: async () => JSON.stringify(await admin("GET", `buckets/${encodeURIComponent(bucket)}/upload-rules`), null, 2),
      validate: jsonProblem, save: async (t) => { await admin("PUT", `buckets/${encodeURIComponent(bucket)}/upload-rules`, JSON.parse(t)); },
      remove: () => admin("DELETE", `buckets/${encodeURIComponent(bucket)}/upload-rules`) }),
    encryption(bucket, allowed("s3:PutEncryptionConfiguration")),
    rawEditor({ title: "Event notifications", help: "NotificationConfiguration XML (targets are added with almacen admin event target add).", canSave: allowed("s3:PutBucketNotification"),
      load: () => asText("GET", b({ notification: null })), save: (t) => putXml(b({ notification: null }), t) }));
}

function access(bucket, canSave) {
  const url = s3url(bucket, null, { policy: null });
  const area = h("textarea", { id: "policy-json", "aria-label": "Bucket policy JSON", spellcheck: "false", hidden: true });
  const msg = h("div", { class: "error", role: "alert", id: "policy-error" });
  const okMsg = h("span", { class: "ok" });
  const radio = (v, label) => h("label", {}, h("input", { type: "radio", name: "access", value: v, onchange: () => { area.hidden = v !== "custom"; if (v === "custom" && !area.value) area.value = JSON.stringify(publicReadPolicy(bucket), null, 2); } }), label);
  const group = h("div", { class: "row", role: "radiogroup", "aria-label": "Access" }, radio("private", "Private"), radio("public-read", "Public read (anyone can download)"), radio("custom", "Custom policy"));
  const pick = (v) => { group.querySelector(`input[value="${v}"]`).checked = true; area.hidden = v !== "custom"; };
  area.addEventListener("input", () => { msg.textContent = jsonProblem(area.value); });
  (async () => {
    const t = await guard(() => asText("GET", url).catch(missing(["NoSuchBucketPolicy"])), msg);
    if (t === undefined) return;
    if (!t) { pick("private"); return; }
    area.value = JSON.stringify(JSON.parse(t), null, 2);
    const p = JSON.parse(t); const s = p.Statement || [];
    const isPublicRead = s.length === 1 && s[0].Effect === "Allow" && JSON.stringify([].concat(s[0].Action)) === '["s3:GetObject"]' && JSON.stringify(s[0].Principal).includes("*");
    pick(isPublicRead ? "public-read" : "custom");
  })();
  const save = h("button", { type: "button", id: "save-access", disabled: !canSave, onclick: async () => {
    okMsg.textContent = "";
    const v = group.querySelector("input:checked")?.value;
    let doc = null;
    if (v === "public-read") doc = JSON.stringify(publicReadPolicy(bucket));
    if (v === "custom") { const p = jsonProblem(area.value); if (p) { msg.textContent = p; return; } doc = area.value; }
    const ok = await guard(async () => { if (doc) await call("PUT", url, { headers: { "Content-Type": "application/json" }, body: doc }); else await call("DELETE", url); return true; }, msg);
    if (ok) { okMsg.textContent = "Saved"; toast("Access saved"); }
  } }, "Save access");
  return h("section", { class: "card", id: "access" }, h("h2", {}, "Access"), group, area, msg, h("div", { class: "row" }, save, okMsg));
}

function versioning(bucket, canSave) {
  const url = s3url(bucket, null, { versioning: null });
  const state = h("strong", { id: "versioning-state" }, "…");
  const msg = h("div", { class: "error", role: "alert" });
  const load = async () => { const d = await guard(() => xml("GET", url), msg); if (d) state.textContent = text(d, "Status") || "Off"; };
  const set = (s) => h("button", { type: "button", class: "secondary", disabled: !canSave, onclick: async () => {
    if (await guard(async () => { await putXml(url, `<VersioningConfiguration ${NS}><Status>${s}</Status></VersioningConfiguration>`); return true; }, msg)) load();
  } }, s === "Enabled" ? "Enable" : "Suspend");
  load();
  return h("section", { class: "card" }, h("h2", {}, "Versioning"), h("div", { class: "row" }, "Versioning is ", state, set("Enabled"), set("Suspended")), msg);
}

function lifecycle(bucket, canSave) {
  const url = s3url(bucket, null, { lifecycle: null });
  const msg = h("div", { class: "error", role: "alert", id: "lifecycle-error" });
  const list = h("div", { id: "lifecycle-rules" });
  const raw = h("textarea", { "aria-label": "Lifecycle XML", spellcheck: "false" });
  let rules = [];
  const prefix = h("input", { id: "lc-prefix", placeholder: "prefix (empty = all)", "aria-label": "Prefix" });
  const days = h("input", { id: "lc-days", type: "number", min: "1", placeholder: "days", "aria-label": "Expire current objects after days" });
  const noncurrent = h("input", { id: "lc-noncurrent", type: "number", min: "1", placeholder: "days", "aria-label": "Delete older versions after days" });
  const abort = h("input", { id: "lc-abort", type: "number", min: "1", placeholder: "days", "aria-label": "Abort incomplete uploads after days" });
  const serialize = (doc) => new XMLSerializer().serializeToString(doc);
  const show = () => {
    list.replaceChildren(rules.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Rule"), h("th", {}, "Prefix"), h("th", {}, "Action"), h("th", {}))), h("tbody", {}, ...rules.map((r, i) => h("tr", {},
      h("td", {}, text(r, "ID")), h("td", {}, text(r, "Filter > Prefix") || text(r, "Prefix") || "(all)"),
      h("td", {}, [text(r, "Expiration > Days") && `expire after ${text(r, "Expiration > Days")} d`, text(r, "NoncurrentVersionExpiration > NoncurrentDays") && `old versions after ${text(r, "NoncurrentVersionExpiration > NoncurrentDays")} d`, text(r, "AbortIncompleteMultipartUpload > DaysAfterInitiation") && `abort uploads after ${text(r, "AbortIncompleteMultipartUpload > DaysAfterInitiation")} d`].filter(Boolean).join(", ") || "(see XML)"),
      h("td", { class: "num" }, h("button", { type: "button", class: "secondary", disabled: !canSave, onclick: () => { rules.splice(i, 1); saveRules(); } }, "Remove")))))) : h("p", { class: "muted" }, "No lifecycle rules."));
  };
  const load = async () => {
    const t = await guard(() => asText("GET", url).catch(missing(["NoSuchLifecycleConfiguration"])), msg);
    if (t === undefined) return;
    raw.value = t;
    rules = t ? all(new DOMParser().parseFromString(t, "application/xml"), "Rule") : [];
    show();
  };
  const put = async (body) => { if (await guard(async () => { if (body) await putXml(url, body); else await call("DELETE", url); return true; }, msg)) { toast("Lifecycle saved"); await load(); } };
  const saveRules = () => put(rules.length ? `<LifecycleConfiguration ${NS}>${rules.map(serialize).join("").replace(/ xmlns="[^"]*"/g, "")}</LifecycleConfiguration>` : "");
  const add = h("button", { type: "button", id: "lc-add", disabled: !canSave, onclick: () => {
    if (!days.value && !noncurrent.value && !abort.value) { msg.textContent = "Give at least one number of days."; return; }
    const id = `rule-${Date.now().toString(36)}`;
    const x = `<Rule><ID>${id}</ID><Filter><Prefix>${prefix.value.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</Prefix></Filter><Status>Enabled</Status>${days.value ? `<Expiration><Days>${Number(days.value)}</Days></Expiration>` : ""}${noncurrent.value ? `<NoncurrentVersionExpiration><NoncurrentDays>${Number(noncurrent.value)}</NoncurrentDays></NoncurrentVersionExpiration>` : ""}${abort.value ? `<AbortIncompleteMultipartUpload><DaysAfterInitiation>${Number(abort.value)}</DaysAfterInitiation></AbortIncompleteMultipartUpload>` : ""}</Rule>`;
    rules.push(new DOMParser().parseFromString(x, "application/xml").documentElement);
    saveRules();
  } }, "Add rule");
  load();
  return h("section", { class: "card", id: "lifecycle" }, h("h2", {}, "Lifecycle"), list,
    h("div", { class: "row" }, prefix, h("label", {}, "Expire after", days), h("label", {}, "Old versions after", noncurrent), h("label", {}, "Abort uploads after", abort), add), msg,
    h("details", {}, h("summary", {}, "Edit as XML"), raw, h("div", { class: "row" }, h("button", { type: "button", class: "secondary", disabled: !canSave, onclick: () => put(raw.value.trim()) }, "Save XML"))));
}

function tags(bucket, canSave) {
  const url = s3url(bucket, null, { tagging: null });
  return rawEditor({ title: "Tags", help: "One key=value a line.", canSave,
    load: async () => { try { const d = await xml("GET", url); return all(d, "Tag").map((t) => `${text(t, "Key")}=${text(t, "Value")}`).join("\n"); } catch (e) { if (e.code === "NoSuchTagSet") return ""; throw e; } },
    save: (t) => { const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;"); const tags = t.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => { const i = l.indexOf("="); return i < 0 ? [l, ""] : [l.slice(0, i), l.slice(i + 1)]; });
      return tags.length ? putXml(url, `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`).join("")}</TagSet></Tagging>`) : call("DELETE", url); },
    remove: () => call("DELETE", url) });
}

function encryption(bucket, canSave) {
  const url = s3url(bucket, null, { encryption: null });
  const sel = h("select", { "aria-label": "Default encryption" }, h("option", { value: "" }, "None"), h("option", { value: "AES256" }, "SSE-S3 (AES256)"), h("option", { value: "aws:kms" }, "SSE-KMS"));
  const msg = h("div", { class: "error", role: "alert" });
  guard(async () => { try { const d = await xml("GET", url); sel.value = text(d, "SSEAlgorithm"); } catch (e) { if (e.code !== "ServerSideEncryptionConfigurationNotFoundError") throw e; } }, msg);
  const save = h("button", { type: "button", disabled: !canSave, onclick: async () => {
    if (await guard(async () => { if (sel.value) await putXml(url, `<ServerSideEncryptionConfiguration ${NS}><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>${sel.value}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`); else await call("DELETE", url); return true; }, msg)) toast("Encryption saved");
  } }, "Save");
  return h("section", { class: "card" }, h("h2", {}, "Default encryption"), h("div", { class: "row" }, sel, save), msg);
}
