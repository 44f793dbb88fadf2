// Seed 000 sets its expiration rules (videos/ 30 days, frames/ 7 days) with
// the JavaScript SDK; they must round-trip and show on the objects they cover.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  GetBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { startServer } from "./harness.mjs";

let srv;
const bucket = "inventory-videos";

before(async () => {
  srv = await startServer();
  await srv.client.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(() => srv.stop());

test("seed 000's lifecycle rules through @aws-sdk/client-s3", async () => {
  const Rules = [
    { ID: "DeleteOldVideos", Status: "Enabled", Filter: { Prefix: "videos/" }, Expiration: { Days: 30 } },
    { ID: "DeleteOldFrames", Status: "Enabled", Filter: { Prefix: "frames/" }, Expiration: { Days: 7 } },
  ];
  await srv.client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules } }));
  const got = await srv.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  assert.deepEqual(
    got.Rules.map((r) => [r.ID, r.Status, r.Filter.Prefix, r.Expiration.Days]),
    [["DeleteOldVideos", "Enabled", "videos/", 30], ["DeleteOldFrames", "Enabled", "frames/", 7]],
  );
  const put = await srv.client.send(new PutObjectCommand({ Bucket: bucket, Key: "frames/f1.jpg", Body: "jpeg", ContentType: "image/jpeg" }));
  assert.match(put.Expiration, /rule-id="DeleteOldFrames"/);
  const head = await srv.client.send(new HeadObjectCommand({ Bucket: bucket, Key: "frames/f1.jpg" }));
  assert.match(head.Expiration, /expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} 00:00:00 GMT"/);
});
