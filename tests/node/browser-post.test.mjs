// Seeds 001 and 004: a browser uploads directly to almacen with a real HTML
// form and a POST policy made by the backend (content-length-range and a
// Content-Type condition). Headless Chromium from Debian, driven by
// playwright-core; no browser is downloaded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { chromium } from "playwright-core";
import { startServer } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const bucket = "uploads";
let srv;
let browser;
let page;
let pageServer;
let pageUrl;
let formHtml = "";

before(async () => {
  srv = await startServer();
  await srv.client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  // The app's page lives on another origin than the S3 endpoint.
  pageServer = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(formHtml);
  });
  await new Promise((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
  pageUrl = `http://127.0.0.1:${pageServer.address().port}/upload.html`;
});

after(async () => {
  await browser?.close();
  pageServer?.close();
  srv.stop();
});

async function formFor(key) {
  const { url, fields } = await createPresignedPost(srv.client, {
    Bucket: bucket,
    Key: key,
    Conditions: [
      ["content-length-range", 1, 2 * 1024 * 1024],
      ["starts-with", "$Content-Type", "image/"],
    ],
    Fields: { "Content-Type": "image/png", success_action_status: "201" },
    Expires: 600,
  });
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
    .join("\n");
  return `<!doctype html><html><body>
    <form action="${url}" method="post" enctype="multipart/form-data">
      ${inputs}
      <input type="file" name="file">
      <button type="submit">Upload</button>
    </form></body></html>`;
}

async function submit(key, name, bytes) {
  formHtml = await formFor(key);
  await page.goto(pageUrl);
  await page.setInputFiles("input[type=file]", { name, mimeType: "image/png", buffer: bytes });
  const [response] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return { status: response.status(), text: await response.text() };
}

test("a browser form POST stores the file", { skip: !existsSync(CHROMIUM) && "Debian chromium not installed" }, async () => {
  const png = Buffer.from("\x89PNG\r\n\x1a\n fake image bytes", "binary");
  const { status, text } = await submit("products/tenant_1/photo.png", "photo.png", png);
  assert.equal(status, 201);
  assert.match(text, /<Key>products\/tenant_1\/photo.png<\/Key>/);
  const got = await srv.client.send(new GetObjectCommand({ Bucket: bucket, Key: "products/tenant_1/photo.png" }));
  assert.equal(got.ContentType, "image/png");
  assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), png);
});

test("a file over the policy's size limit is refused and nothing is stored", { skip: !existsSync(CHROMIUM) && "Debian chromium not installed" }, async () => {
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const { status, text } = await submit("products/tenant_1/big.png", "big.png", big);
  assert.equal(status, 400);
  assert.match(text, /EntityTooLarge/);
  await assert.rejects(srv.client.send(new HeadObjectCommand({ Bucket: bucket, Key: "products/tenant_1/big.png" })));
});
