// Issue 19 item 1: an object an uploader stores must never run as a page of
// the console's origin. The attacker's page tries to read the admin's CSRF
// token from /api/session (the first step of creating a consoleAdmin user);
// in headless Chromium, logged in as root, neither a stored Content-Type
// that only starts with application/pdf nor a ?response-content-type=
// override may let it run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { chromium } from "playwright-core";
import { startServer, ACCESS_KEY, SECRET_KEY } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && "Debian chromium not installed";
const BUCKET = "uploads";
// Puts the CSRF token into the title if the script runs as the console.
const EVIL = `<!doctype html><title>inert</title><script>
fetch("/api/session").then((r) => r.json()).then((j) => { document.title = "stolen:" + j.csrf; });
document.title = "ran";
</script>`;
let srv;
let browser;
let page;

before(async () => {
  srv = await startServer({ console: true });
  await srv.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await srv.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "invoice.pdf", Body: EVIL, ContentType: "application/pdf,text/html" }));
  await srv.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "notes.txt", Body: EVIL, ContentType: "text/plain" }));
  await srv.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "real.pdf", Body: "%PDF-1.4\n%%EOF\n", ContentType: "application/pdf" }));
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage();
  await page.goto(srv.consoleUrl);
  await page.fill("#access-key", ACCESS_KEY);
  await page.fill("#secret-key", SECRET_KEY);
  await page.click("#login");
  await page.waitForSelector("h1:text('Buckets')");
});

after(async () => {
  await browser?.close();
  srv?.stop();
});

async function titleAfterOpening(path) {
  const resp = await page.goto(`${srv.consoleUrl}/api/s3/${BUCKET}/${path}`);
  // Long enough for the fetch of /api/session to come back if the script ran.
  await page.waitForTimeout(500);
  const title = await page.title();
  return { title, headers: resp.headers() };
}

test("a type that only starts with application/pdf is sandboxed", { skip }, async () => {
  const { title, headers } = await titleAfterOpening("invoice.pdf");
  assert.ok(!title.startsWith("stolen:") && title !== "ran", `the stored page ran as the console: title ${title}`);
  assert.match(headers["content-security-policy"] ?? "", /sandbox/);
});

test("response-content-type cannot turn an object into a console page", { skip }, async () => {
  const { title, headers } = await titleAfterOpening("notes.txt?response-content-type=text%2Fhtml");
  assert.ok(!title.startsWith("stolen:") && title !== "ran", `the override ran as the console: title ${title}`);
  assert.equal(headers["content-type"], "text/plain");
  assert.match(headers["content-security-policy"] ?? "", /sandbox/);
});

test("a real PDF keeps its viewer, under exactly application/pdf", { skip }, async () => {
  const r = await page.request.get(`${srv.consoleUrl}/api/s3/${BUCKET}/real.pdf`);
  assert.equal(r.status(), 200);
  assert.equal(r.headers()["content-type"], "application/pdf");
  assert.equal(r.headers()["content-security-policy"], undefined);
});

test("the console's download link still downloads", { skip }, async () => {
  const r = await page.request.get(`${srv.consoleUrl}/api/s3/${BUCKET}/notes.txt?response-content-disposition=attachment`);
  assert.equal(r.status(), 200);
  assert.equal(r.headers()["content-disposition"], "attachment");
});
