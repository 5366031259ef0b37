/**
 * The CLI's batches, references and metadata: `wallet batch <file|->` through a
 * server over HTTP and gRPC and directly on the database, `--reference` / `--metadata`
 * / `--expected-version` on the money commands and `history --reference`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { freePort } from "./helpers/privatePostgres.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let dir: string;
let grpcUrl: string;
beforeAll(async () => {
  if (engine !== "pg") return;
  s = await startTestServer({ GRPC_PORT: String(await freePort()) });
  grpcUrl = `grpc://127.0.0.1:${s.config.grpcPort}`;
  dir = await mkdtemp(path.join(tmpdir(), "wallet-batch-"));
});
afterAll(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const api = (args: string[], input?: string) => runCli([...args, "--api", s.url], {}, input);

// through a server the engine is the server's, which batches.test.ts covers on both: pg is enough here
describe.skipIf(engine !== "pg")("wallet batch through a server", () => {
  it("applies a file's operations over HTTP and gRPC, and refuses a batch as a whole naming the operation", async () => {
    await post(s.url, "/api/deposit/v1", 2, { amount: 1 });
    const file = path.join(dir, "batch.json");
    const ops = [
      { type: "deposit", amount: 1000, reference: "cli-batch" },
      { type: "hold", amount: 100 },
      { type: "capture", hold_id: "$1" },
      { type: "transfer", destination_user_id: 2, amount: 400 },
    ];
    await writeFile(file, JSON.stringify({ operations: ops }));
    const r = await api(["batch", file, "--user", "1", "--json"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.json.batch_id).toMatch(/^\d+$/);
    expect(r.json.results.map((x: { balance: number }) => x.balance)).toEqual([1000, 1000, 900, 500]);

    const viaGrpc = await runCli(["batch", "-", "--user", "1", "--json", "--api", grpcUrl], {}, JSON.stringify(ops));
    expect(viaGrpc.code).toBe(0);
    expect(viaGrpc.json.results.at(-1)).toMatchObject({ balance: 1000, success: true });

    const refused = await api(
      ["batch", "-", "--user", "1"],
      JSON.stringify([...ops, { type: "withdraw", amount: 99999 }]),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("batch_refused");
    expect(refused.stderr).toContain("operation 4: insufficient_funds");
    const refusedGrpc = await runCli(
      ["batch", "-", "--user", "1", "--json", "--api", grpcUrl],
      {},
      JSON.stringify([{ type: "withdraw", amount: 99999 }]),
    );
    expect(refusedGrpc.code).toBe(1);
    expect(refusedGrpc.json.error).toMatchObject({
      code: "batch_refused",
      details: { index: 0, code: "insufficient_funds" },
    });
    expect((await get(s.url, "/api/wallet/balance/v1", 1)).body.balance).toBe(1000);

    const human = await api(["batch", "-", "--user", "1"], JSON.stringify([{ type: "deposit", amount: 5 }]));
    expect(human.stdout).toMatch(/Applied batch \d+: 1 operations/);
    expect((await api(["batch", "-", "--user", "1"], '{"operations": []}')).code).toBe(2);
    const bad = await api(["batch", "-", "--user", "1", "--json"], '[{"type": "deposit", "amount": 0}]');
    expect([bad.code, bad.json.error.details]).toEqual([2, { index: 0 }]);
  });

  it("takes --reference, --metadata and --expected-version on money commands, and finds entries by reference", async () => {
    const d = await api([
      "deposit",
      "300",
      "--user",
      "5",
      "--reference",
      "inv 7",
      "--metadata",
      "a=1",
      "--metadata",
      "b=x=y",
      "--json",
    ]);
    expect(d.code).toBe(0);
    const t = await runCli([
      "transfer",
      "100",
      "--from",
      "5",
      "--to",
      "1",
      "--reference",
      "inv 7",
      "--yes",
      "--json",
      "--api",
      grpcUrl,
    ]);
    expect(t.code).toBe(0);
    const h = await api(["history", "--user", "5", "--reference", "inv 7", "--json"]);
    expect(h.json.transactions).toMatchObject([
      { type: "transfer", reference: "inv 7", metadata: {} },
      { type: "deposit", reference: "inv 7", metadata: { a: "1", b: "x=y" } },
    ]);
    const viaGrpc = await runCli(["history", "--user", "1", "--reference", "inv 7", "--json", "--api", grpcUrl]);
    expect(viaGrpc.json.transactions).toMatchObject([{ direction: "in", reference: "inv 7" }]);
    const b = await api(["balance", "--user", "5", "--json"]);
    const stale = await api(["withdraw", "1", "--user", "5", "--expected-version", String(b.json.version + 1)]);
    expect([stale.code, stale.stderr]).toEqual([1, expect.stringContaining("version_mismatch")]);
    expect((await api(["withdraw", "1", "--user", "5", "--expected-version", String(b.json.version)])).code).toBe(0);
    for (const bad of [
      ["--metadata", "novalue"],
      ["--expected-version", "-1"],
    ]) {
      expect((await api(["deposit", "1", "--user", "5", ...bad])).code, bad.join(" ")).toBe(2);
    }
  });
});

describe("wallet batch directly on the database", () => {
  it("applies or refuses a batch as a whole", async () => {
    const { env, drop } = await processDatabase();
    try {
      const ops = [
        { type: "deposit", amount: 700, reference: "direct" },
        { type: "withdraw", amount: 200 },
      ];
      const ok = await runCli(["batch", "-", "--user", "9", "--json"], env, JSON.stringify(ops));
      expect([ok.code, ok.stderr]).toEqual([0, ""]);
      expect(ok.json.results.map((x: { balance: number }) => x.balance)).toEqual([700, 500]);
      const refused = await runCli(
        ["batch", "-", "--user", "9", "--json"],
        env,
        JSON.stringify([...ops, { type: "withdraw", amount: 5000 }]),
      );
      expect(refused.code).toBe(1);
      expect(refused.json.error).toMatchObject({
        code: "batch_refused",
        details: { index: 2, code: "insufficient_funds" },
      });
    } finally {
      await drop();
    }
  });
});
