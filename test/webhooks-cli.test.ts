/**
 * `wallet webhooks` and `wallet monitors`: against a live server with --api (the
 * admin API; pg project), and one direct-mode pass on the embedded database (pglite).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startReceiver, waitFor, type Receiver } from "./helpers/receiver.js";
import { post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "c".repeat(40);
let s: TestServer;
let receiver: Receiver;

const api = (args: string[]) =>
  runCli([...args, "--api", s.url, "--json", "--actor", "cli-test"], { WALLET_ADMIN_TOKEN: TOKEN });

// the CLI over the admin API does not depend on the server's engine: on pg only; the
// direct mode once, on the embedded database (each CLI process starts PGlite afresh)
describe.skipIf(engine !== "pg")("wallet webhooks / monitors --api", () => {
  beforeAll(async () => {
    s = await startTestServer({ ADMIN_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE: "true" });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await s?.stop();
  });

  it("adds, lists, rotates, shows deliveries and removes", async () => {
    const add = await api(["webhooks", "add", receiver.url, "--events", "deposit,monitor_triggered"]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.json).toMatchObject({ url: receiver.url, event_types: ["deposit", "monitor_triggered"] });
    expect(add.json.secret).toMatch(/^whsec_/);
    const id = add.json.id as string;
    await post(s.url, "/api/deposit/v1", 7, { amount: 100 });
    await waitFor("the deposit", () => receiver.delivered().length === 1);
    // the receiver has it before the sender records the answer: wait for the record
    const d = await waitFor("the delivery recorded", async () => {
      const r = await api(["webhooks", "deliveries", id, "--status", "delivered"]);
      return r.json.deliveries?.length === 1 ? r : undefined;
    });
    expect(d.json.deliveries).toMatchObject([{ event_id: "7:1", status: "delivered", attempts: 1 }]);
    const rot = await api(["webhooks", "rotate", id]);
    expect(rot.json.secret).toMatch(/^whsec_/);

    const m = await api([
      "monitors",
      "add",
      "--user",
      "7",
      "--field",
      "balance",
      "--operator",
      "gte",
      "--value",
      "150",
    ]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.json).toMatchObject({ user_id: 7, field: "balance", operator: "gte", value: 150, state: "ok" });
    await post(s.url, "/api/deposit/v1", 7, { amount: 100 });
    await waitFor("the monitor's event", () => receiver.delivered().some((r) => r.event.type === "monitor_triggered"));
    const list = await api(["monitors", "list", "--user", "7"]);
    expect(list.json.monitors).toMatchObject([{ id: m.json.id, state: "triggered" }]);
    expect((await api(["monitors", "remove", m.json.id])).code).toBe(0);
    expect((await api(["webhooks", "remove", id])).code).toBe(0);
    expect((await api(["webhooks", "list"])).json.webhooks).toEqual([]);
  }, 120_000); // eight CLI processes, a few seconds each on a busy machine
});

describe.skipIf(engine !== "pglite")("wallet webhooks / monitors on the database", () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ env, drop } = await processDatabase());
  });
  afterAll(() => drop?.());

  it("adds an endpoint and refuses a monitor for an unknown user", async () => {
    const cli = (args: string[]) => runCli([...args, "--json"], { ...env, WEBHOOK_ALLOW_PRIVATE: "true" });
    const add = await cli(["webhooks", "add", "http://127.0.0.1:9/hook"]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.json.event_types).toEqual(["*"]);
    const m = await cli(["monitors", "add", "--user", "5", "--field", "balance", "--operator", "lt", "--value", "1"]);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/wallet/);
  });
});
