// The web console end to end in headless Chromium (Debian's chromium via
// playwright-core): log in, create a bucket, upload 20 MiB with progress,
// preview an image, share it, make the bucket public, add a lifecycle rule,
// create a read-only user who gets no delete buttons and whose crafted
// delete is refused, log out. Screenshots of each screen go to out/console/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { GetBucketLifecycleConfigurationCommand, HeadObjectCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { chromium } from "playwright-core";
import { startServer, ACCESS_KEY, SECRET_KEY } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && "Debian chromium not installed";
const OUT = join(dirname(fileURLToPath(import.meta.url)), "out", "console");
const BUCKET = "photos";
const BIG = 20 * 1024 * 1024;
let srv;
let browser;
let page;
let promptAnswer = "";

before(async () => {
  mkdirSync(OUT, { recursive: true });
  srv = await startServer({ console: true });
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // Confirmations are accepted; prompts get `promptAnswer`.
  page.on("dialog", (d) => d.accept(d.type() === "prompt" ? promptAnswer : undefined));
});

after(async () => {
  await browser?.close();
  srv?.stop();
});

// Saves a screenshot of the screen as it is (without passing notices).
async function shot(name) {
  await page.evaluate(() => { document.getElementById("toast").replaceChildren(); window.scrollTo(0, 0); });
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

async function login(ak, sk) {
  await page.goto(srv.consoleUrl);
  await page.fill("#access-key", ak);
  await page.fill("#secret-key", sk);
  await page.click("#login");
  await page.waitForSelector("h1:text('Buckets')");
}

// A PNG drawn by the browser itself.
async function pngBytes() {
  const url = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 320; c.height = 200;
    const g = c.getContext("2d");
    const grad = g.createLinearGradient(0, 0, 320, 200);
    grad.addColorStop(0, "#1f6feb"); grad.addColorStop(1, "#f59e0b");
    g.fillStyle = grad; g.fillRect(0, 0, 320, 200);
    g.fillStyle = "#fff"; g.font = "32px sans-serif"; g.fillText("almacen", 90, 110);
    return c.toDataURL("image/png");
  });
  return Buffer.from(url.split(",")[1], "base64");
}

test("the console end to end", { skip, timeout: 180_000 }, async (t) => {
  t.after(async () => { if (page) await page.screenshot({ path: join(OUT, "last.png") }).catch(() => {}); });
  await page.goto(srv.consoleUrl);
  await page.waitForSelector("#access-key");
  await shot("01-login");
  await page.fill("#access-key", ACCESS_KEY);
  await page.fill("#secret-key", "wrong-secret");
  await page.click("#login");
  await page.waitForSelector("#login-error:text('wrong access key')");
  await login(ACCESS_KEY, SECRET_KEY);

  // Create a bucket with versioning.
  await page.fill("#new-bucket", BUCKET);
  await page.check("#new-versioning");
  await page.click("#create-bucket");
  await page.waitForSelector(`tr[data-bucket='${BUCKET}']`);
  await shot("02-buckets");

  // Upload 20 MiB (multipart through the console) and watch the bar reach 100 %.
  await page.click(`tr[data-bucket='${BUCKET}'] a:text('${BUCKET}')`);
  await page.waitForSelector("text=This folder is empty");
  const seen = [];
  await page.exposeFunction("recordPercent", (p) => seen.push(p));
  await page.evaluate(() => {
    new MutationObserver(() => { const el = document.getElementById("total-percent"); if (el) window.recordPercent(el.textContent); })
      .observe(document.getElementById("main"), { subtree: true, childList: true, characterData: true });
  });
  await page.setInputFiles("#file-input", { name: "big.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(BIG, 7) });
  await page.waitForSelector("#total-percent:text('100 %')", { timeout: 120_000 });
  assert.equal(await page.$eval("#total-progress", (p) => p.value), BIG);
  assert.equal(await page.textContent("[data-upload='big.bin'] span:last-child"), "100 %");
  assert.ok(seen.some((p) => p !== "100 %" && p !== "0 %"), `progress went through intermediate values: ${seen.join(",")}`);
  await page.waitForSelector("tr[data-key='big.bin']");
  const head = await srv.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "big.bin" }));
  assert.equal(head.ContentLength, BIG);

  // Upload an image and preview it.
  const png = await pngBytes();
  await page.setInputFiles("#file-input", { name: "sunset.png", mimeType: "image/png", buffer: png });
  await page.waitForSelector("tr[data-key='sunset.png']");
  await page.click("tr[data-key='sunset.png'] a:text('sunset.png')");
  await page.waitForFunction(() => document.querySelector("#preview img")?.naturalWidth === 320);

  // Share link, fetched without credentials.
  await page.selectOption("#share-expiry", "604800");
  await page.click("#share");
  const link = await page.inputValue("#share-url");
  assert.match(link, /X-Amz-Expires=604800/);
  const shared = await fetch(link);
  assert.equal(shared.status, 200);
  assert.deepEqual(Buffer.from(await shared.arrayBuffer()), png);
  await shot("03-objects");

  // A second version of a text file; restore the first; rename; delete.
  await page.setInputFiles("#file-input", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("first") });
  await page.waitForSelector("tr[data-key='notes.txt']");
  await page.setInputFiles("#file-input", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("second") });
  await page.waitForSelector("#uploads [data-upload='notes.txt'] span:text('100 %')");
  await page.click("tr[data-key='notes.txt'] a:text('notes.txt')");
  await page.waitForSelector("#preview pre:text('second')");
  await page.click("#details button:text('Restore')");
  await page.waitForSelector("#preview pre:text('first')");
  const versions = await srv.client.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: "notes.txt" }));
  assert.equal(versions.Versions.length, 3);
  promptAnswer = "archive/notes-old.txt";
  await page.click("#details button:text('Rename / move')");
  await page.waitForSelector("tr[data-prefix='archive/']");
  assert.equal(await page.locator("tr[data-key='notes.txt']").count(), 0);
  await page.goto(`${srv.consoleUrl}/#/b/${BUCKET}/archive/`);
  await page.click("tr[data-key='archive/notes-old.txt'] button[data-action='delete']");
  await page.waitForSelector("text=This folder is empty");
  await page.goto(`${srv.consoleUrl}/#/b/${BUCKET}/`);
  await page.waitForSelector("tr[data-key='sunset.png']");

  // Public read, then an anonymous GET.
  const anonymous = `${srv.endpoint}/${BUCKET}/sunset.png`;
  assert.equal((await fetch(anonymous)).status, 403);
  await page.goto(`${srv.consoleUrl}/#/settings/${BUCKET}`);
  await page.waitForSelector("#access input[value='private']:checked");
  await page.check("#access input[value='public-read']");
  await page.click("#save-access");
  await page.waitForSelector("#access .ok:text('Saved')");
  assert.equal((await fetch(anonymous)).status, 200);

  // A custom policy with a JSON error is refused inline.
  await page.check("#access input[value='custom']");
  await page.fill("#policy-json", "{ not json");
  await page.click("#save-access");
  await page.waitForSelector("#policy-error:text('Invalid JSON')");
  // Valid JSON that is not a valid policy: the server's reason, inline.
  await page.fill("#policy-json", JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Maybe", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${BUCKET}/*` }] }));
  await page.click("#save-access");
  await page.waitForSelector("#policy-error:text('MalformedPolicy')");
  assert.equal((await fetch(anonymous)).status, 200, "the refused policy left public read in place");
  await page.fill("#policy-json", "{ not json");
  await page.click("#save-access");
  await page.waitForSelector("#policy-error:text('Invalid JSON')");

  // A lifecycle rule from the form.
  await page.fill("#lc-prefix", "tmp/");
  await page.fill("#lc-days", "30");
  await page.click("#lc-add");
  await page.waitForSelector("#lifecycle-rules td:text('expire after 30 d')");
  const lc = await srv.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }));
  assert.equal(lc.Rules[0].Expiration.Days, 30);
  assert.equal(lc.Rules[0].Filter.Prefix, "tmp/");
  await shot("04-settings");

  // An upload rule, then an upload it refuses: the row says why.
  const rules = page.locator("[data-editor='Upload rules']");
  await rules.locator("textarea").fill(JSON.stringify({ rules: [{ prefix: "docs/", max_size: "1KiB" }] }));
  await rules.locator("button:text('Save')").click();
  await rules.locator(".ok:text('Saved')").waitFor();
  await page.goto(`${srv.consoleUrl}/#/b/${BUCKET}/docs/`);
  await page.waitForSelector("text=This folder is empty");
  await page.setInputFiles("#file-input", { name: "too-big.txt", mimeType: "text/plain", buffer: Buffer.alloc(4096, 97) });
  const failure = await page.locator("#uploads .error").filter({ hasText: "Failed" }).textContent();
  assert.match(failure, /upload rule for prefix 'docs\/'/);

  // A read-only policy that may also browse (the built-in readonly, as on
  // MinIO, cannot list), and a user with it.
  await page.goto(`${srv.consoleUrl}/#/identity`);
  await page.fill("#policy-name", "browse-only");
  await page.fill("#policy-doc", JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:ListAllMyBuckets", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"], Resource: ["arn:aws:s3:::*"] }] }));
  await page.click("#save-policy");
  await page.waitForSelector("#policies td:text('browse-only')");
  await page.fill("#user-name", "viewer");
  await page.fill("#user-secret", "viewer-secret-1");
  await page.selectOption("#user-policies", "browse-only");
  await page.click("#create-user");
  await page.waitForSelector("tr[data-user='viewer'] td:text('browse-only')");
  await shot("05-identity");

  await page.goto(`${srv.consoleUrl}/#/monitor`);
  await page.waitForSelector("#disk-used");
  await shot("06-monitoring");

  // Phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${srv.consoleUrl}/#/b/${BUCKET}/`);
  await page.waitForSelector("tr[data-key='sunset.png']");
  await shot("07-objects-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  // A session that is gone (expired or ended elsewhere) returns to the login page.
  const cookies = await page.context().cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0].httpOnly, true);
  assert.equal(cookies[0].sameSite, "Strict");
  await page.context().clearCookies();
  await page.click("text=Refresh");
  await page.waitForSelector("#login-error:text('expired')");
  await login(ACCESS_KEY, SECRET_KEY);

  // Log out: the API refuses the old session.
  await page.click("#logout");
  await page.waitForSelector("#access-key");
  assert.equal(await page.evaluate(async () => (await fetch("/api/session")).status), 401);

  // The read-only user sees no delete or upload buttons...
  await login("viewer", "viewer-secret-1");
  assert.equal(await page.isVisible("a[data-nav='identity']"), false);
  await page.waitForSelector(`tr[data-bucket='${BUCKET}'] td:text('—')`);
  await page.waitForLoadState("networkidle");
  assert.equal(await page.locator("[data-action='delete']:visible").count(), 0);
  await page.goto(`${srv.consoleUrl}/#/b/${BUCKET}/`);
  await page.waitForSelector("tr[data-key='sunset.png']");
  assert.equal(await page.locator("[data-action='delete'], #delete-selected, #upload-files").count(), 0);
  await page.click("tr[data-key='sunset.png'] a:text('sunset.png')");
  await page.waitForFunction(() => document.querySelector("#preview img")?.naturalWidth === 320);
  assert.equal(await page.locator("[data-action='delete']").count(), 0);
  await shot("08-read-only");

  // ...and a crafted delete through the console API is refused by S3.
  const crafted = await page.evaluate(async (b) => {
    const { csrf } = await (await fetch("/api/session")).json();
    const r = await fetch(`/api/s3/${b}/sunset.png`, { method: "DELETE", headers: { "X-Almacen-Csrf": csrf } });
    return { status: r.status, body: await r.text() };
  }, BUCKET);
  assert.equal(crafted.status, 403);
  assert.match(crafted.body, /AccessDenied/);
  await srv.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "sunset.png" }));

  await page.click("#logout");
  await page.waitForSelector("#access-key");
});
