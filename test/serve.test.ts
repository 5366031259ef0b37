/**
 * `wallet serve` as a real process: schema migration when several start at once,
 * graceful shutdown on SIGTERM with requests in flight, and the embedded database
 * refusing a second process.
 */
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { adminQuery, processDatabase } from "./helpers/db.js";
import { dbUrl, engine } from "./helpers/env.js";
import { startProcess } from "./helpers/process.js";
import { balanceOf, post } from "./helpers/server.js";

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ env, drop: cleanup } = await processDatabase());
});
afterAll(() => cleanup());

describe.skipIf(engine !== "pg")("several instances starting at once", () => {
  it("migrate an empty database once, taking turns", async () => {
    const name = `wallet_empty_${process.pid}_${Date.now()}`;
    await adminQuery(`create database ${name}`);
    try {
      const procs = await Promise.all(
        [1, 2, 3].map(() => startProcess("serve", { DATABASE_URL: dbUrl(name), TRANSFER_WORKERS: "0" })),
      );
      for (const p of procs) expect(await balanceOf(p.url, 1)).toBe(0);
      const codes = await Promise.all(procs.map((p) => p.stop()));
      expect(codes).toEqual([0, 0, 0]);
      const status = await runCli(["migrate", "status", "--json"], { DATABASE_URL: dbUrl(name) });
      expect(status.json.pending).toEqual([]);
      expect(status.json.applied).toContain("002_journal_and_write_identity.sql");
    } finally {
      await adminQuery(`drop database if exists ${name} with (force)`);
    }
  });
});

describe("graceful shutdown", () => {
  it("answers the requests in flight, then exits 0", async () => {
    const p = await startProcess("serve", env);
    await post(p.url, "/api/deposit/v1", 1, { amount: 1_000_000 });
    const agent = new Agent({ connections: 16 });
    const amountOf = (i: number) => 1 + (i % 3);
    const inFlight = Array.from({ length: 200 }, (_v, i) =>
      request(`${p.url}/api/withdraw/v1`, {
        method: "POST",
        dispatcher: agent,
        headers: { authorization: "1" },
        body: JSON.stringify({ amount: amountOf(i) }),
      }).then(
        async (r) => ({ status: r.statusCode, body: await r.body.text() }),
        () => ({ status: 0, body: "" }),
      ),
    );
    await new Promise((r) => setTimeout(r, 20));
    const code = await p.stop("SIGTERM");
    const answers = await Promise.all(inFlight);
    await agent.close();
    expect(code).toBe(0);
    expect(p.logs.some((l) => l.includes("wallet stopped"))).toBe(true);
    // every request was either answered 200 or refused at the door: none was lost
    // half-done, and the balance shows exactly the answered ones
    expect(answers.every((a) => a.status === 200 || a.status === 0)).toBe(true);
    const answered = answers.filter((a) => a.status === 200).length;
    expect(answered).toBeGreaterThan(0);
    const withdrawn = answers.reduce((sum, a, i) => sum + (a.status === 200 ? amountOf(i) : 0), 0);
    const again = await startProcess("serve", env);
    try {
      expect(await balanceOf(again.url, 1)).toBe(1_000_000 - withdrawn);
    } finally {
      expect(await again.stop()).toBe(0);
    }
    const verify = await runCli(["verify", "--json"], env);
    expect(verify.json?.ok).toBe(true);
  });
});

describe.skipIf(engine !== "pglite")("the embedded database", () => {
  it("serves one process at a time, and tells the second to use --api", async () => {
    const p = await startProcess("serve", env);
    try {
      const r = await runCli(["verify"], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/in use by process \d+/);
      expect(r.stderr).toMatch(/--api/);
    } finally {
      await p.stop();
    }
    const after = await runCli(["verify", "--json"], env);
    expect(after.code).toBe(0);
  });
});
