// Calls to the console backend. Every S3 or admin call goes to /api/s3/...,
// which signs it with the session's keys: the server decides what is allowed.
let csrf = "";
let onExpired = () => {};

export const ADMIN = "/minio/almacen/admin/v1";

export function setSession(token) { csrf = token; }
export function whenExpired(fn) { onExpired = fn; }

export class ApiError extends Error {
  constructor(status, code, message) { super(message ? `${code}: ${message}` : code); this.status = status; this.code = code; this.detail = message; }
}

// Encodes a query object: null values become bare keys (?versioning).
export function qs(q) {
  return Object.entries(q || {}).filter(([, v]) => v !== undefined)
    .map(([k, v]) => (v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join("&");
}

// The /api/s3 URL of a bucket or object (keys keep their slashes).
export function s3url(bucket, key, query) {
  let p = "/api/s3/";
  if (bucket) p += encodeURIComponent(bucket);
  if (key !== undefined && key !== null) p += "/" + key.split("/").map(encodeURIComponent).join("/");
  const q = qs(query);
  return q ? `${p}?${q}` : p;
}

async function errorOf(resp) {
  const text = await resp.text();
  try { const j = JSON.parse(text); return new ApiError(resp.status, j.Code || `HTTP ${resp.status}`, j.Message || ""); } catch { /* XML */ }
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const code = doc.querySelector("Code")?.textContent;
  const msg = doc.querySelector("Message")?.textContent;
  return new ApiError(resp.status, code || `HTTP ${resp.status}`, msg || (code ? "" : resp.statusText));
}

// A call to the console backend; throws ApiError on failure.
export async function call(method, url, { headers = {}, body } = {}) {
  const h = { ...headers };
  if (!["GET", "HEAD"].includes(method)) h["X-Almacen-Csrf"] = csrf;
  const resp = await fetch(url, { method, headers: h, body, credentials: "same-origin" });
  if (resp.status === 401 && !url.startsWith("/api/login")) { onExpired(); throw new ApiError(401, "SessionExpired", "your session has expired"); }
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

export async function xml(method, url, opts) {
  const text = await (await call(method, url, opts)).text();
  return new DOMParser().parseFromString(text, "application/xml");
}

export async function json(method, url, value) {
  const opts = value === undefined ? {} : { headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) };
  const text = await (await call(method, url, opts)).text();
  return text ? JSON.parse(text) : {};
}

export const admin = (method, path, value) => json(method, `/api/s3${ADMIN}/${path}`, value);

// Text of each child element named `name` of `node`.
export const all = (node, sel) => [...node.querySelectorAll(sel)];
export const text = (node, sel) => node.querySelector(sel)?.textContent ?? "";

// Uploads `blob` with XHR (fetch has no upload progress); resolves with the response.
export function xhrPut(url, blob, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("PUT", url);
    x.setRequestHeader("X-Almacen-Csrf", csrf);
    for (const [k, v] of Object.entries(headers || {})) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => {
      if (x.status === 401) { onExpired(); reject(new ApiError(401, "SessionExpired", "your session has expired")); return; }
      if (x.status >= 200 && x.status < 300) { onProgress(blob.size); resolve(x); return; }
      const doc = new DOMParser().parseFromString(x.responseText, "application/xml");
      let code = doc.querySelector("Code")?.textContent, msg = doc.querySelector("Message")?.textContent;
      if (!code) { try { const j = JSON.parse(x.responseText); code = j.Code; msg = j.Message; } catch { code = `HTTP ${x.status}`; } }
      reject(new ApiError(x.status, code, msg || ""));
    };
    x.onerror = () => reject(new ApiError(0, "NetworkError", "the upload was interrupted"));
    x.send(blob);
  });
}
