// Starts the real almacen binary for a scenario, as a compose file would:
// given root credentials and environment, on an ephemeral port over a fresh
// data folder. Returns its endpoint and a stop function; the scenario builds
// its own clients, as the seed apps do from their S3_* settings.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

export function binary() {
  if (process.env.ALMACEN_BIN) return process.env.ALMACEN_BIN;
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const bin = join(process.env.CARGO_TARGET_DIR || join(root, "target"), "debug", "almacen");
  if (!existsSync(bin)) throw new Error(`server binary ${bin} missing: run cargo build -p almacen`);
  return bin;
}

/** Starts `almacen server DATA` with `env` (MINIO_ROOT_USER etc.) and waits for its API line. */
export async function startAlmacen({ user, password, env = {} }) {
  const dataDir = mkdtempSync(join(tmpdir(), "almacen-scenario-"));
  const proc = spawn(binary(), ["server", dataDir, "--address", "127.0.0.1:0"], {
    env: { ...process.env, RUST_LOG: "warn,s3s=off", ...env, MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Never outlive the test process, even when it dies without its after().
  const reap = () => proc.kill("SIGKILL");
  process.on("exit", reap);
  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("almacen did not start within 20 s")), 20000);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.startsWith("API: ")) {
        clearTimeout(timer);
        resolve(line.slice(5).trim());
      }
    });
    proc.on("exit", (code) => reject(new Error(`almacen exited with ${code}`)));
  });
  const admin = (...args) => {
    const host = endpoint.split("://")[1];
    const r = spawnSync(binary(), ["admin", "--json", ...args], {
      env: {
        ...process.env,
        ALMACEN_HOST_srv: `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}`,
        ALMACEN_CONFIG_DIR: dataDir,
      },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`almacen admin ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const stop = () => {
    process.off("exit", reap);
    proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { endpoint, admin, stop, dataDir };
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, ms = 15000, what = "condition") {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
