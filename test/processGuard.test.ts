/**
 * The process guard, in a real Node process (the built dist/): what escapes every
 * error boundary is logged with the requests in flight when it surfaced (the one, or
 * the candidates); a rejection leaves the process running, an uncaught exception stops
 * it (exit 1) saying why.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

const DIST = path.resolve("dist/server");

/** Runs a script after installing the guard; its log lines (JSON) and exit code. */
async function run(body: string): Promise<{ code: number | null; lines: Record<string, unknown>[] }> {
  const script = `
    const { installProcessGuard, withRequestId } = await import(${JSON.stringify(`${DIST}/processGuard.js`)});
    const { createLogger } = await import(${JSON.stringify(`${DIST}/logger.js`)});
    const log = createLogger("info", "json");
    installProcessGuard(log, { stop: async () => log.info("stopped"), stopTimeoutMs: 5000 });
    ${body}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const lines = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines };
}

it("logs an unhandled rejection with its request id and keeps the process running", async () => {
  const r = await run(`
    withRequestId("req-1", () => Promise.reject(new Error("boom")));
    setTimeout(() => { log.info("still running"); process.exit(0); }, 200);`);
  expect(r.code).toBe(0);
  const line = r.lines.find((l) => l.kind === "unhandled_rejection");
  expect(line).toMatchObject({ requestId: "req-1", level: 50 });
  expect(r.lines.at(-1)?.msg).toBe("still running");
});

it("stops on an uncaught exception, logging its request id and why, and exits 1", async () => {
  // the request is still being answered when a callback of its work throws
  const r = await run(
    `withRequestId("req-2", () => new Promise(() => setTimeout(() => { throw new Error("bang"); }, 10)));`,
  );
  expect(r.code).toBe(1);
  const line = r.lines.find((l) => l.kind === "uncaught_exception");
  expect(line).toMatchObject({ requestId: "req-2", level: 60 });
  expect(String(line?.msg)).toMatch(/may be half-updated/);
  expect(r.lines.some((l) => l.msg === "stopped")).toBe(true);
});

it("names every request in flight when several are", async () => {
  const r = await run(`
    const pending = () => new Promise(() => {});
    withRequestId("req-a", pending);
    withRequestId("req-b", pending);
    withRequestId("req-c", () => Promise.reject(new Error("boom")));
    setTimeout(() => process.exit(0), 200);`);
  const line = r.lines.find((l) => l.kind === "unhandled_rejection");
  expect(line?.requestId).toBeUndefined();
  expect(line?.requestsInFlight).toEqual(["req-a", "req-b", "req-c"]);
});

it("names no request once its work has settled", async () => {
  const r = await run(`
    await withRequestId("req-done", async () => 1);
    await new Promise((r) => setImmediate(r));
    Promise.reject(new Error("later"));
    setTimeout(() => process.exit(0), 200);`);
  const line = r.lines.find((l) => l.kind === "unhandled_rejection");
  expect(line).toBeDefined();
  expect(line?.requestId).toBeUndefined();
  expect(line?.requestsInFlight).toBeUndefined();
});
