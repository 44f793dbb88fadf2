// Buckets: list with object count and size, create, delete (emptying on request).
import { xml, admin, call, json, s3url, all, text } from "./api.js";
import { h, mount, size, when, guard, toast, confirmTyped } from "./ui.js";

export async function bucketsView() {
  const err = h("div", { class: "error", role: "alert" });
  const name = h("input", { id: "new-bucket", placeholder: "new-bucket-name", "aria-label": "Bucket name", required: true, pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]" });
  const versioning = h("input", { type: "checkbox", id: "new-versioning" });
  const lock = h("input", { type: "checkbox", id: "new-lock", onchange: () => { if (lock.checked) versioning.checked = true; } });
  const createErr = h("div", { class: "error", role: "alert" });
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    const b = name.value.trim();
    const ok = await guard(async () => {
      await call("PUT", s3url(b), { headers: lock.checked ? { "x-amz-bucket-object-lock-enabled": "true" } : {} });
      if (versioning.checked && !lock.checked) {
        await call("PUT", s3url(b, null, { versioning: null }), { body: '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' });
      }
      return true;
    }, createErr);
    if (ok) { toast(`Bucket ${b} created`); name.value = ""; render(); }
  } }, h("h2", {}, "Create a bucket"), h("div", { class: "row" }, name,
    h("label", {}, versioning, "Versioning"), h("label", {}, lock, "Object lock"),
    h("button", { type: "submit", id: "create-bucket" }, "Create")), createErr);
  const body = h("tbody");
  const table = h("table", { id: "buckets" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "num" }, "Objects"), h("th", { class: "num" }, "Size"), h("th", { class: "hide-s" }, "Created"), h("th", {}, ""))), body);
  const holder = h("div");
  mount(h("h1", {}, "Buckets"), form, err, holder);

  async function render() {
    const doc = await guard(() => xml("GET", s3url()), err);
    if (!doc) return;
    const buckets = all(doc, "Bucket").map((b) => ({ name: text(b, "Name"), created: text(b, "CreationDate") }));
    if (!buckets.length) { holder.replaceChildren(h("div", { class: "empty" }, "No buckets yet. Create one above to start uploading.")); return; }
    body.replaceChildren(...buckets.map((b) => {
      const count = h("td", { class: "num" }, "…"), bytes = h("td", { class: "num" }, "…");
      const del = h("button", { type: "button", class: "danger", hidden: true, "data-action": "delete", "aria-label": `Delete bucket ${b.name}`, onclick: () => removeBucket(b.name) }, "Delete");
      json("GET", `/api/can?bucket=${encodeURIComponent(b.name)}`).then((c) => { del.hidden = c["s3:DeleteBucket"] === false; }).catch(() => { del.hidden = false; });
      admin("GET", `buckets/${encodeURIComponent(b.name)}/quota`).then((u) => { count.textContent = u.usage.objects; bytes.textContent = size(u.usage.bytes); })
        .catch(() => { count.textContent = "—"; bytes.textContent = "—"; });
      return h("tr", { "data-bucket": b.name },
        h("td", {}, h("a", { href: `#/b/${encodeURIComponent(b.name)}/` }, b.name)), count, bytes, h("td", { class: "hide-s" }, when(b.created)),
        h("td", { class: "num" }, h("a", { class: "button secondary", href: `#/settings/${encodeURIComponent(b.name)}` }, "Settings"), " ",
          del));
    }));
    holder.replaceChildren(table);
  }

  async function removeBucket(b) {
    try {
      await call("DELETE", s3url(b));
      toast(`Bucket ${b} deleted`);
    } catch (e) {
      if (e.code !== "BucketNotEmpty") { toast(e.message, true); return; }
      if (!confirmTyped(`Bucket ${b} is not empty. Delete every object and version in it, then the bucket?`, b)) return;
      const ok = await guard(async () => { await emptyBucket(b); await call("DELETE", s3url(b)); return true; });
      if (ok) toast(`Bucket ${b} emptied and deleted`);
    }
    render();
  }
  render();
}

// Deletes every version and delete marker, a thousand at a time.
export async function emptyBucket(b) {
  let marker = {};
  for (;;) {
    const doc = await xml("GET", s3url(b, null, { versions: null, "max-keys": "1000", ...marker }));
    const items = all(doc, "Version, DeleteMarker").map((v) => ({ key: text(v, "Key"), id: text(v, "VersionId") }));
    if (items.length) await deleteMany(b, items);
    if (text(doc, "IsTruncated") !== "true") return;
    marker = { "key-marker": text(doc, "NextKeyMarker"), "version-id-marker": text(doc, "NextVersionIdMarker") };
  }
}

const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

// DeleteObjects for up to 1000 {key, id}; throws with the first error.
export async function deleteMany(b, items) {
  const objs = items.map((o) => `<Object><Key>${esc(o.key)}</Key>${o.id && o.id !== "null" ? `<VersionId>${esc(o.id)}</VersionId>` : ""}</Object>`).join("");
  const doc = await xml("POST", s3url(b, null, { delete: null }), { headers: { "Content-Type": "application/xml" }, body: `<Delete><Quiet>true</Quiet>${objs}</Delete>` });
  const e = doc.querySelector("Error");
  if (e) throw new Error(`${text(e, "Key")}: ${text(e, "Code")} ${text(e, "Message")}`);
}
