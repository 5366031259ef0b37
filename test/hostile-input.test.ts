/**
 * Input an attacker (or a mistake) sends, refused with a 400 before it reaches the
 * database: free text with control characters or lone surrogates, dates that do not
 * exist or that PostgreSQL cannot store (HTTP, gRPC and the CLI), JWT subjects that
 * are not the canonical decimal string; and stored text printed escaped by the CLI.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeze } from "../src/core/operator.js";
import { createAuthenticator } from "../src/server/auth.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/privatePostgres.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "t".repeat(40);
const ADMIN = { authorization: `Bearer ${TOKEN}`, "x-actor": "ann" };
const SECRET = "s".repeat(40);

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN: TOKEN, GRPC_PORT: String(await freePort()) });
});
afterAll(() => s.stop());

describe("free text", () => {
  const bad: Array<[string, string]> = [
    ["NUL", "a\u0000b"],
    ["a lone high surrogate", "a\ud800b"],
    ["a lone low surrogate", "a\udc00b"],
    ["a newline", "ok\n│ 1 │ fake row │"],
    ["an escape sequence", "ok\u001b[2J"],
    ["a tab", "a\tb"],
    ["DEL", "a\u007fb"],
    ["a C1 control", "a\u0085b"],
  ];
  it.each(bad)("refuses a reason with %s: 400 invalid_request", async (_name, reason) => {
    const r = await call(s.url, "POST", "/admin/v1/wallets/7001/freeze", { body: { reason }, headers: ADMIN });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
    expect(r.body.error.message).toMatch(/reason must not contain control characters/);
  });

  it("takes a reason in any script, emoji included", async () => {
    const reason = "remboursé ✓ 返金 🎉";
    await post(s.url, "/api/deposit/v1", 7002, { amount: 1 });
    const r = await call(s.url, "POST", "/admin/v1/wallets/7002/freeze", { body: { reason }, headers: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body.frozen_reason).toBe(reason);
  });

  it("prints a stored reason and actor escaped in wallet audit and wallet inspect", async () => {
    // as an older version could have stored them: the core takes what it is given
    const reason = "ok\n│ 9 │ fake row │\u001b[31mred";
    await post(s.url, "/api/deposit/v1", 7003, { amount: 1 });
    await freeze(s.services.ctx, { userId: 7003, actor: "eve\r\nroot", reason });
    const env = { WALLET_API_URL: s.url, WALLET_ADMIN_TOKEN: TOKEN };
    const audit = await runCli(["audit", "--limit", "1000"], env);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain("ok\\n│ 9 │ fake row │\\e[31mred");
    expect(audit.stdout).toContain("eve\\r\\nroot");
    expect(audit.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(audit.stdout.split("\n").filter((l) => l.includes("fake row"))).toHaveLength(1);
    const inspect = await runCli(["inspect", "--user", "7003"], env);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain("ok\\n│ 9 │ fake row │\\e[31mred");
    expect(inspect.stdout).not.toContain("\u001b");
  });

  it("refuses control characters in the CLI's --reason and --actor (exit 2)", async () => {
    const env = { WALLET_API_URL: s.url, WALLET_ADMIN_TOKEN: TOKEN };
    const r = await runCli(["freeze", "--user", "7004", "--reason", "a\u001b[2Jb", "--yes"], env);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/--reason must not contain control characters/)]);
    const a = await runCli(["freeze", "--user", "7004", "--reason", "ok", "--actor", "x\ny", "--yes"], env);
    expect([a.code, a.stderr]).toEqual([2, expect.stringMatching(/--actor must not contain control characters/)]);
  });
});

describe("dates", () => {
  const bad = [
    "0000-01-01",
    "2026-02-30",
    "2025-02-29",
    "0001-01-01T00:00:00+01:00",
    "10000-01-01",
    "2026-11-01T25:00Z",
  ];
  it.each(bad)("refuses %s as ?at and ?from: 400 invalid_request", async (d) => {
    for (const path of [`/api/wallet/balance/v1?at=${d}`, `/api/statements/v1?from=${d}&to=2026-12-01`]) {
      const r = await get(s.url, path.replaceAll("+", "%2B"), 7101);
      expect(r.status, path).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
  });

  it("still takes 0001-01-01 and 9999-12-31", async () => {
    await post(s.url, "/api/deposit/v1", 7102, { amount: 5 });
    expect((await get(s.url, "/api/wallet/balance/v1?at=0001-01-01", 7102)).body.balance).toBe(0);
    const st = await get(s.url, "/api/statements/v1?from=9999-12-30&to=9999-12-31", 7102);
    expect(st.status).toBe(200);
  });

  it("refuses GetBalance{at} of a date that does not exist or of year 0 over gRPC: INVALID_ARGUMENT", async () => {
    const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
    const v1 = (grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any).wallet
      .v1;
    const c = new v1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
    try {
      for (const at of ["0000-01-01", "2026-02-30"]) {
        const md = new grpc.Metadata();
        md.set("authorization", "7103");
        const err = await new Promise<any>((resolve) => c.GetBalance({ at }, md, (e: unknown) => resolve(e)));
        expect(err?.code, at).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err.metadata.get("wallet-error-code")).toEqual(["invalid_request"]);
      }
    } finally {
      c.close();
    }
  });

  it("refuses the same dates in the CLI's --at, --from and --to (exit 2)", async () => {
    const env = { WALLET_API_URL: s.url };
    for (const args of [
      ["balance", "--user", "1", "--at", "2026-02-30"],
      ["balance", "--user", "1", "--at", "0000-01-01"],
      ["statement", "--user", "1", "--from", "0000-01-01", "--to", "2026-01-01"],
      ["statement", "--user", "1", "--from", "2026-01-01", "--to", "2026-02-30"],
    ]) {
      const r = await runCli(args, env);
      expect([r.code, r.stderr], args.join(" ")).toEqual([2, expect.stringMatching(/must be an ISO 8601 date/)]);
    }
  });
});

describe("JWT sub", () => {
  const authenticate = createAuthenticator("token", SECRET);
  const bearer = (sub: unknown) =>
    new SignJWT({ sub } as Record<string, unknown>)
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
      .sign(new TextEncoder().encode(SECRET))
      .then((t) => `Bearer ${t}`);

  it.each([
    ["1", 1],
    ["42", 42],
    ["9007199254740991", 9007199254740991],
  ] as const)("takes sub %s as user %d", async (sub, user) => {
    expect(await authenticate(await bearer(sub))).toBe(user);
  });

  const refused: unknown[] = [
    1,
    [1],
    ["1"],
    "01",
    "+1",
    "1.0",
    " 1",
    "1 ",
    "0",
    "-1",
    "1e3",
    "0x1",
    "",
    "9007199254740992",
    null,
    { id: 1 },
  ];
  it.each(refused.map((v) => [JSON.stringify(v), v]))("refuses sub %s: unauthorized", async (_shown, sub) => {
    await expect(authenticate(await bearer(sub))).rejects.toMatchObject({ code: "unauthorized" });
  });

  it("answers 401 over HTTP for a token whose sub is '01'", async () => {
    const t = await startTestServer({ AUTH_MODE: "token", AUTH_SECRET: SECRET });
    try {
      const r = await get(t.url, "/api/wallet/balance/v1", undefined, { authorization: await bearer("01") });
      expect(r.status).toBe(401);
      const ok = await get(t.url, "/api/wallet/balance/v1", undefined, { authorization: await bearer("1") });
      expect(ok.status).toBe(200);
    } finally {
      await t.stop();
    }
  });
});
