// CORS in a real browser: a page on another origin PUTs a file to a
// presigned URL (how seeds 001 and 004 let phones and browsers upload
// directly). Allowed when the bucket's CORS rules name the page's origin,
// blocked by the browser when they do not. Debian's chromium via playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { CreateBucketCommand, PutBucketCorsCommand, PutObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { chromium } from "playwright-core";
import { startServer } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && "Debian chromium not installed";
const bucket = "cors-uploads";
let srv;
let browser;
let page;
let pageServer;
let pageOrigin;

before(async () => {
  srv = await startServer();
  await srv.client.send(new CreateBucketCommand({ Bucket: bucket }));
  pageServer = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!doctype html><html><body>app</body></html>");
  });
  await new Promise((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
  pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage();
  await page.goto(`${pageOrigin}/app.html`);
});

after(async () => {
  await browser?.close();
  pageServer?.close();
  srv.stop();
});

async function setOrigins(origins) {
  await srv.client.send(
    new PutBucketCorsCommand({
      Bucket: bucket,
      CORSConfiguration: {
        CORSRules: [{ AllowedOrigins: origins, AllowedMethods: ["PUT", "GET"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"] }],
      },
    }),
  );
}

// Runs fetch() inside the page: returns the status and ETag, or the browser's CORS failure.
async function browserPut(url) {
  return page.evaluate(async (url) => {
    try {
      const r = await fetch(url, { method: "PUT", headers: { "Content-Type": "image/jpeg" }, body: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]) });
      return { status: r.status, etag: r.headers.get("ETag") };
    } catch (e) {
      return { error: String(e) };
    }
  }, url);
}

async function presignedPut(key) {
  return getSignedUrl(srv.client, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: "image/jpeg" }), { expiresIn: 600 });
}

test("a presigned PUT from an allowed origin works and exposes the ETag", { skip }, async () => {
  await setOrigins([pageOrigin]);
  const res = await browserPut(await presignedPut("photos/allowed.jpg"));
  assert.equal(res.error, undefined, res.error);
  assert.equal(res.status, 200);
  assert.match(res.etag, /^"[0-9a-f]{32}"$/);
  const head = await srv.client.send(new HeadObjectCommand({ Bucket: bucket, Key: "photos/allowed.jpg" }));
  assert.equal(head.ContentType, "image/jpeg");
});

test("a presigned PUT from an origin the rules do not name is blocked by the browser", { skip }, async () => {
  await setOrigins(["https://only-this.example.com"]);
  const res = await browserPut(await presignedPut("photos/blocked.jpg"));
  assert.match(res.error ?? "", /TypeError/);
  // The preflight failed, so the PUT itself never reached the server.
  await assert.rejects(srv.client.send(new HeadObjectCommand({ Bucket: bucket, Key: "photos/blocked.jpg" })));
});
