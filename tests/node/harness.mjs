// Starts the real almacen binary on an ephemeral port over a fresh data
// folder, like the Rust and Python harnesses do.
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { S3Client } from "@aws-sdk/client-s3";

export const ACCESS_KEY = "nodetestadmin";
export const SECRET_KEY = "nodetestsecret123";

function binary() {
  if (process.env.ALMACEN_BIN) return process.env.ALMACEN_BIN;
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const bin = join(process.env.CARGO_TARGET_DIR || join(root, "target"), "debug", "almacen");
  if (!existsSync(bin)) throw new Error(`server binary ${bin} missing: run cargo build -p almacen`);
  return bin;
}

// With `console: true` the web console listens on an ephemeral port too,
// and `consoleUrl` is where.
export async function startServer({ console: withConsole = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "almacen-node-"));
  const args = ["server", dataDir, "--address", "127.0.0.1:0"];
  if (withConsole) args.push("--console-address", "127.0.0.1:0");
  const proc = spawn(binary(), args, {
    env: { ...process.env, MINIO_ROOT_USER: ACCESS_KEY, MINIO_ROOT_PASSWORD: SECRET_KEY, RUST_LOG: "warn,s3s=off" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let consoleUrl;
  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start within 20 s")), 20000);
    let api;
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.startsWith("API: ")) api = line.slice(5).trim();
      if (line.startsWith("Console: ")) {
        consoleUrl = line.slice(9).trim();
        clearTimeout(timer);
        resolve(api);
      }
    });
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  return { endpoint, consoleUrl, client, stop: () => proc.kill("SIGKILL") };
}
