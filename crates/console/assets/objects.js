// The object browser: folders by prefix and delimiter, pages by continuation
// token, uploads with progress (multipart for big files), details, preview,
// versions, tags, share links, rename and delete.
import { xml, call, json, s3url, all, text, xhrPut, ApiError } from "./api.js";
import { h, mount, size, when, guard, toast } from "./ui.js";
import { deleteMany } from "./buckets.js";

const PAGE = 100;
const PART = 8 * 1024 * 1024;
const MULTIPART_OVER = 16 * 1024 * 1024;

export async function objectsView(bucket, prefix) {
  let can = {};
  try { can = await json("GET", `/api/can?bucket=${encodeURIComponent(bucket)}`); } catch { /* show all */ }
  const allowed = (a) => can[a] !== false;
  const tokens = [""]; let page = 0;
  const err = h("div", { class: "error", role: "alert" });
  const filter = h("input", { type: "search", id: "filter", placeholder: "Filter by prefix", "aria-label": "Filter by prefix" });
  const body = h("tbody");
  const holder = h("div", { class: "drop", id: "drop" });
  const pager = h("div", { class: "row" });
  const panel = h("aside", { class: "panel", id: "details" });
  const layout = h("div", { class: "layout single" }, h("div", {}, holder, pager), panel);
  const uploads = h("div", { class: "card uploads", id: "uploads", hidden: true });
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select all", onchange: () => body.querySelectorAll("input[type=checkbox]").forEach((c) => { c.checked = selectAll.checked; }) });
  const fileInput = h("input", { type: "file", multiple: true, hidden: true, id: "file-input", onchange: () => upload([...fileInput.files].map((f) => [f, f.name])) });
  const dirInput = h("input", { type: "file", multiple: true, hidden: true, webkitdirectory: true, onchange: () => upload([...dirInput.files].map((f) => [f, f.webkitRelativePath || f.name])) });
  const crumbs = h("nav", { class: "crumbs", "aria-label": "Folder" }, h("a", { href: "#/buckets" }, "Buckets"), " / ", h("a", { href: `#/b/${encodeURIComponent(bucket)}/` }, bucket),
    ...prefix.split("/").filter(Boolean).flatMap((part, i, arr) => [" / ", h("a", { href: `#/b/${encodeURIComponent(bucket)}/${arr.slice(0, i + 1).map(encodeURIComponent).join("/")}/` }, part)]));

  mount(h("h1", {}, crumbs),
    h("div", { class: "row" },
      allowed("s3:PutObject") ? h("button", { type: "button", id: "upload-files", onclick: () => fileInput.click() }, "Upload files") : null,
      allowed("s3:PutObject") ? h("button", { type: "button", class: "secondary", onclick: () => dirInput.click() }, "Upload folder") : null,
      allowed("s3:DeleteObject") ? h("button", { type: "button", class: "danger", id: "delete-selected", onclick: removeSelected }, "Delete selected") : null,
      h("button", { type: "button", class: "secondary", onclick: () => load(tokens[page]) }, "Refresh"),
      h("span", { class: "spacer" }), filter,
      h("a", { class: "button secondary", href: `#/settings/${encodeURIComponent(bucket)}` }, "Bucket settings"), fileInput, dirInput),
    uploads, err, layout);

  filter.addEventListener("input", () => { clearTimeout(filter.t); filter.t = setTimeout(() => { tokens.length = 1; page = 0; load(""); }, 250); });
  holder.addEventListener("dragover", (e) => { e.preventDefault(); holder.classList.add("over"); });
  holder.addEventListener("dragleave", () => holder.classList.remove("over"));
  holder.addEventListener("drop", async (e) => {
    e.preventDefault(); holder.classList.remove("over");
    const files = [];
    const walk = async (entry, path) => {
      if (entry.isFile) files.push([await new Promise((res, rej) => entry.file(res, rej)), path + entry.name]);
      else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) { const batch = await new Promise((res, rej) => reader.readEntries(res, rej)); if (!batch.length) break; for (const c of batch) await walk(c, `${path}${entry.name}/`); }
      }
    };
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
    if (entries.length) { for (const en of entries) await walk(en, ""); } else files.push(...[...e.dataTransfer.files].map((f) => [f, f.name]));
    upload(files);
  });

  async function load(token) {
    const q = { "list-type": "2", delimiter: "/", prefix: prefix + filter.value, "max-keys": String(PAGE) };
    if (token) q["continuation-token"] = token;
    const doc = await guard(() => xml("GET", s3url(bucket, null, q)), err);
    if (!doc) return;
    const folders = all(doc, "CommonPrefixes > Prefix").map((p) => p.textContent);
    const objects = all(doc, "Contents").map((c) => ({ key: text(c, "Key"), size: Number(text(c, "Size")), modified: text(c, "LastModified") })).filter((o) => o.key !== prefix);
    const next = text(doc, "NextContinuationToken");
    if (next) tokens[page + 1] = next;
    pager.replaceChildren(
      h("button", { type: "button", class: "secondary", disabled: page === 0, onclick: () => { page--; load(tokens[page]); } }, "Previous"),
      h("span", { class: "muted" }, `Page ${page + 1}`),
      h("button", { type: "button", class: "secondary", id: "next-page", disabled: !next, onclick: () => { page++; load(tokens[page]); } }, "Next"));
    if (!folders.length && !objects.length) {
      holder.replaceChildren(h("div", { class: "empty" }, filter.value ? "Nothing matches this prefix." : "This folder is empty. Drop files here or use Upload files."));
      return;
    }
    body.replaceChildren(
      ...folders.map((f) => h("tr", { "data-prefix": f }, h("td", {}), h("td", {}, h("a", { href: `#/b/${encodeURIComponent(bucket)}/${f.split("/").map(encodeURIComponent).join("/")}` }, `📁 ${f.slice(prefix.length)}`)), h("td", { class: "num" }), h("td", { class: "hide-s" }), h("td", {}))),
      ...objects.map((o) => h("tr", { "data-key": o.key },
        h("td", {}, h("input", { type: "checkbox", "aria-label": `Select ${o.key}`, value: o.key })),
        h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); details(o.key); } }, o.key.slice(prefix.length))),
        h("td", { class: "num" }, size(o.size)), h("td", { class: "hide-s" }, when(o.modified)),
        h("td", { class: "num" },
          h("a", { class: "button secondary", href: s3url(bucket, o.key, { "response-content-disposition": `attachment; filename="${o.key.split("/").pop().replace(/"/g, "")}"` }), download: "" }, "Download"), " ",
          allowed("s3:DeleteObject") ? h("button", { type: "button", class: "danger", "aria-label": `Delete ${o.key}`, "data-action": "delete", onclick: () => removeKeys([o.key]) }, "Delete") : null))));
    holder.replaceChildren(h("table", { id: "objects" }, h("thead", {}, h("tr", {}, h("th", {}, selectAll), h("th", {}, "Name"), h("th", { class: "num" }, "Size"), h("th", { class: "hide-s" }, "Modified"), h("th", {}))), body));
  }

  async function removeKeys(keys) {
    if (!keys.length || !window.confirm(`Delete ${keys.length === 1 ? keys[0] : `${keys.length} objects`}?`)) return;
    const ok = await guard(async () => { for (let i = 0; i < keys.length; i += 1000) await deleteMany(bucket, keys.slice(i, i + 1000).map((key) => ({ key }))); return true; });
    if (ok) { toast(`Deleted ${keys.length} object${keys.length > 1 ? "s" : ""}`); panel.replaceChildren(); layout.classList.add("single"); load(tokens[page]); }
  }
  function removeSelected() { removeKeys([...body.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value)); }

  async function upload(files) {
    if (!files.length) return;
    uploads.hidden = false;
    const total = files.reduce((s, [f]) => s + f.size, 0);
    const done = new Map();
    const totalBar = h("progress", { id: "total-progress", max: total || 1, value: 0, "aria-label": "Total upload progress" });
    const totalPct = h("span", { id: "total-percent" }, "0 %");
    const update = () => { const v = [...done.values()].reduce((a, b) => a + b, 0); totalBar.value = v; totalPct.textContent = `${total ? Math.floor((v * 100) / total) : 100} %`; };
    const rows = files.map(([f, name]) => {
      const bar = h("progress", { max: f.size || 1, value: 0 }); const pct = h("span", {}, "0 %"); const msg = h("div", { class: "error" });
      return { f, key: prefix + name, bar, pct, msg, el: h("div", {}, h("div", { class: "item", "data-upload": prefix + name }, h("span", { class: "name" }, name), bar, pct), msg) };
    });
    uploads.replaceChildren(h("div", { class: "item" }, h("strong", {}, `Uploading ${files.length} file${files.length > 1 ? "s" : ""} (${size(total)})`), totalBar, totalPct), ...rows.map((r) => r.el));
    let failed = 0;
    for (const r of rows) {
      const progress = (n) => { r.bar.value = n; r.pct.textContent = `${r.f.size ? Math.floor((n * 100) / r.f.size) : 100} %`; done.set(r, n); update(); };
      try {
        await putFile(bucket, r.key, r.f, progress);
        progress(r.f.size);
        r.pct.textContent = "100 %";
      } catch (e) {
        failed++;
        r.msg.textContent = `Failed: ${e.message}`;
        r.pct.textContent = "failed";
      }
    }
    update();
    if (failed) toast(`${failed} upload${failed > 1 ? "s" : ""} failed`, true); else toast("Upload complete");
    load(tokens[page]);
  }

  async function details(key) {
    layout.classList.remove("single");
    const msg = h("div", { class: "error", role: "alert" });
    panel.replaceChildren(h("div", { class: "card" }, h("h2", {}, key.split("/").pop()), msg, h("p", { class: "muted" }, "Loading…")));
    let head;
    try { head = await call("HEAD", s3url(bucket, key), { headers: { "x-amz-checksum-mode": "ENABLED" } }); } catch (e) { msg.textContent = e.message; return; }
    const hd = head.headers; const type = hd.get("content-type") || "";
    const meta = [["Key", key], ["Size", size(Number(hd.get("content-length")))], ["Type", type], ["Modified", when(hd.get("last-modified"))], ["ETag", hd.get("etag")], ["Version", hd.get("x-amz-version-id")]];
    for (const [k, v] of hd.entries()) if (k.startsWith("x-amz-meta-") || k.startsWith("x-amz-checksum-") || k === "x-amz-server-side-encryption" || k === "cache-control") meta.push([k, v]);
    const url = s3url(bucket, key);
    const preview = h("div", { class: "preview", id: "preview" });
    if (type.startsWith("image/")) preview.append(h("img", { src: url, alt: key }));
    else if (type.startsWith("video/")) preview.append(h("video", { src: url, controls: true, preload: "metadata" }));
    else if (type.startsWith("audio/")) preview.append(h("audio", { src: url, controls: true, preload: "metadata" }));
    else if (type === "application/pdf") preview.append(h("iframe", { src: url, title: key }));
    else if (type.startsWith("text/") || type.includes("json") || type.includes("xml") || /\.(txt|md|json|csv|log|ya?ml|xml)$/i.test(key)) {
      call("GET", url, { headers: { Range: "bytes=0-262143" } }).then((r) => r.text()).then((t) => {
        let shown = t; if (type.includes("json") || key.endsWith(".json")) { try { shown = JSON.stringify(JSON.parse(t), null, 2); } catch { /* as is */ } }
        preview.append(h("pre", {}, shown));
      }).catch((e) => preview.append(h("div", { class: "error" }, e.message)));
    } else preview.append(h("p", { class: "muted" }, "No preview for this type."));

    const expiry = h("select", { id: "share-expiry", "aria-label": "Link expiry" }, ...[["3600", "1 hour"], ["86400", "1 day"], ["259200", "3 days"], ["604800", "7 days"]].map(([v, l]) => h("option", { value: v }, l)));
    const shareOut = h("div", { class: "share" });
    const share = h("button", { type: "button", id: "share", onclick: async () => {
      const r = await guard(() => json("POST", "/api/presign", { bucket, key, expiresSeconds: Number(expiry.value) }), msg);
      if (!r) return;
      const input = h("input", { id: "share-url", readonly: true, value: r.url, "aria-label": "Share link" });
      shareOut.replaceChildren(input, h("button", { type: "button", class: "secondary", onclick: async () => { input.select(); try { await navigator.clipboard.writeText(r.url); toast("Link copied"); } catch { document.execCommand("copy"); toast("Link copied"); } } }, "Copy"));
    } }, "Create share link");

    const tagsArea = h("textarea", { rows: 3, "aria-label": "Tags, one key=value a line", style: "min-height:4rem" });
    guard(async () => { const d = await xml("GET", s3url(bucket, key, { tagging: null })); tagsArea.value = all(d, "Tag").map((t) => `${text(t, "Key")}=${text(t, "Value")}`).join("\n"); });
    const saveTags = h("button", { type: "button", class: "secondary", onclick: async () => {
      const tags = tagsArea.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => { const i = l.indexOf("="); return i < 0 ? [l, ""] : [l.slice(0, i), l.slice(i + 1)]; });
      const body = `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${escXml(k)}</Key><Value>${escXml(v)}</Value></Tag>`).join("")}</TagSet></Tagging>`;
      if (await guard(async () => { await call(tags.length ? "PUT" : "DELETE", s3url(bucket, key, { tagging: null }), tags.length ? { headers: { "Content-Type": "application/xml" }, body } : {}); return true; }, msg)) toast("Tags saved");
    } }, "Save tags");

    const versions = h("div", {});
    guard(async () => {
      const d = await xml("GET", s3url(bucket, null, { versions: null, prefix: key, "max-keys": "100" }));
      const vs = all(d, "Version, DeleteMarker").filter((v) => text(v, "Key") === key);
      if (vs.length <= 1) { versions.replaceChildren(h("p", { class: "muted" }, "No older versions.")); return; }
      versions.replaceChildren(h("table", {}, h("tbody", {}, ...vs.map((v) => {
        const id = text(v, "VersionId"); const marker = v.tagName === "DeleteMarker"; const latest = text(v, "IsLatest") === "true";
        return h("tr", {}, h("td", {}, `${when(text(v, "LastModified"))}${latest ? " (current)" : ""}${marker ? " deleted" : ""}`, h("br"), h("span", { class: "muted" }, marker ? "" : size(Number(text(v, "Size"))))),
          h("td", { class: "num" }, marker ? null : h("a", { href: s3url(bucket, key, { versionId: id, "response-content-disposition": "attachment" }) }, "Download"), " ",
            !latest && !marker ? h("button", { type: "button", class: "secondary", onclick: async () => {
              if (await guard(async () => { await call("PUT", s3url(bucket, key), { headers: { "x-amz-copy-source": `/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}?versionId=${encodeURIComponent(id)}` } }); return true; }, msg)) { toast("Version restored"); details(key); load(tokens[page]); }
            } }, "Restore") : null));
      }))));
    });

    const rename = h("button", { type: "button", class: "secondary", onclick: async () => {
      const to = window.prompt("New name (key) for this object:", key);
      if (!to || to === key) return;
      const ok = await guard(async () => {
        await call("PUT", s3url(bucket, to), { headers: { "x-amz-copy-source": `/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}` } });
        await call("DELETE", s3url(bucket, key));
        return true;
      }, msg);
      if (ok) { toast(`Renamed to ${to}`); details(to); load(tokens[page]); }
    } }, "Rename / move");

    panel.replaceChildren(h("div", { class: "card" },
      h("div", { class: "row" }, h("h2", { style: "margin:0" }, key.split("/").pop()), h("span", { class: "spacer" }), h("button", { type: "button", class: "secondary", "aria-label": "Close details", onclick: () => { panel.replaceChildren(); layout.classList.add("single"); } }, "✕")),
      msg, preview,
      h("div", { class: "row" }, h("a", { class: "button secondary", href: s3url(bucket, key, { "response-content-disposition": "attachment" }) }, "Download"),
        allowed("s3:PutObject") ? rename : null,
        allowed("s3:DeleteObject") ? h("button", { type: "button", class: "danger", "data-action": "delete", onclick: () => removeKeys([key]) }, "Delete") : null),
      h("h2", {}, "Share"), h("div", { class: "row" }, expiry, share), shareOut,
      h("h2", {}, "Metadata"), h("dl", { class: "meta" }, ...meta.filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h2", {}, "Tags"), tagsArea, h("div", { class: "row" }, saveTags),
      h("h2", {}, "Versions"), versions));
  }

  load("");
}

function escXml(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

// Uploads one file: a single PUT, or multipart in PART-sized parts.
export async function putFile(bucket, key, file, progress) {
  const type = { "Content-Type": file.type || "application/octet-stream" };
  if (file.size <= MULTIPART_OVER) { await xhrPut(s3url(bucket, key), file, type, progress); return; }
  const init = await xml("POST", s3url(bucket, key, { uploads: null }), { headers: type });
  const uploadId = text(init, "UploadId");
  const parts = [];
  try {
    for (let n = 1, off = 0; off < file.size; n++, off += PART) {
      const blob = file.slice(off, Math.min(off + PART, file.size));
      const x = await xhrPut(s3url(bucket, key, { partNumber: String(n), uploadId }), blob, {}, (sent) => progress(off + sent));
      parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${x.getResponseHeader("ETag")}</ETag></Part>`);
    }
    const done = await xml("POST", s3url(bucket, key, { uploadId }), { headers: { "Content-Type": "application/xml" }, body: `<CompleteMultipartUpload>${parts.join("")}</CompleteMultipartUpload>` });
    if (done.querySelector("Error")) throw new ApiError(500, text(done, "Code"), text(done, "Message"));
  } catch (e) {
    call("DELETE", s3url(bucket, key, { uploadId })).catch(() => {});
    throw e;
  }
}
