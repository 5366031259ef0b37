/**
 * Cursor paging of history on both engines: over HTTP (a whole walk sees every entry
 * once, in order, while new entries are written between fetches, where page numbers
 * repeat one), with a type filter, from a page-mode answer; refusals of a malformed
 * cursor and of a cursor with a page; the same over gRPC; and the CLI's --cursor,
 * directly on the database and through a server over HTTP and gRPC.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/core/config.js";
import { openCore } from "../src/core/index.js";
import { deposit, transfer, withdraw } from "../src/core/operations.js";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { freePort } from "./helpers/privatePostgres.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

type Page = { transactions: { id: string; type: string }[]; has_more: boolean; next_cursor: string | null };

let s: TestServer;
let c: any;
beforeAll(async () => {
  s = await startTestServer({ GRPC_PORT: String(await freePort()) });
  const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
  const v1 = (grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any).wallet.v1;
  c = new v1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  c.close();
  await s.stop();
});

const history = async (user: number, query: string): Promise<Page> => {
  const r = await get(s.url, `/api/transactions/v1?${query}`, user);
  expect(r.status, r.raw.toString()).toBe(200);
  return r.body as Page;
};
const ids = (p: Page) => p.transactions.map((t) => t.id);

/** A wallet with n deposits of 1..n cents, and (when to is given) transfers of 1 cent to `to` after every third. */
async function fill(user: number, n: number, to?: number) {
  if (to) await get(s.url, "/api/wallet/balance/v1", to); // opens it
  for (let i = 1; i <= n; i++) {
    expect((await post(s.url, "/api/deposit/v1", user, { amount: i })).status).toBe(200);
    if (to && i % 3 === 0) await post(s.url, "/api/transfer/v1", user, { destination_user_id: to, amount: 1 });
  }
}

/** Walks by cursor from the first page, calling between() after each fetch; the pages' ids in order. */
async function walk(user: number, query: string, between: () => Promise<void> = async () => undefined) {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await history(user, `${query}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(page.has_more).toBe(page.next_cursor !== null);
    seen.push(...ids(page));
    cursor = page.next_cursor;
    await between();
  } while (cursor);
  return seen;
}

describe("over HTTP", () => {
  it("walks the whole history once, in order, while entries are written between fetches; pages repeat one", async () => {
    const u = 1001;
    await fill(u, 20);
    const before = ids(await history(u, "page_size=100"));
    expect(before).toHaveLength(20);
    const byCursor = await walk(u, "page_size=6", () => fill(u, 1));
    expect(byCursor).toEqual(before);

    // the same walk by page number, with the same writes: each new entry pushes the
    // older ones down, so every page starts with the previous page's last entry
    const snapshot = ids(await history(u, "page_size=100"));
    const byPage: string[] = [];
    for (let page = 1; page <= 4; page++) {
      byPage.push(...ids(await history(u, `page=${page}&page_size=6`)));
      await fill(u, 1);
    }
    expect(new Set(byPage).size).toBeLessThan(byPage.length);
    expect(byPage.slice(0, 7)).toEqual([...snapshot.slice(0, 6), snapshot[5]]);
  });

  it("pages the same entries by cursor as by page number when nothing changes, and ends with null", async () => {
    const u = 1002;
    await fill(u, 11);
    const first = await history(u, "page_size=4");
    expect(first).toMatchObject({ page: 1, page_size: 4, has_more: true, next_cursor: expect.any(String) });
    // a page-mode answer's next_cursor continues where page 2 would
    const second = await history(u, `page_size=4&cursor=${first.next_cursor}`);
    expect(ids(second)).toEqual(ids(await history(u, "page=2&page_size=4")));
    expect(second).toMatchObject({ page: 1, has_more: true });
    const third = await history(u, `page_size=4&cursor=${second.next_cursor}&page=1`);
    expect(ids(third)).toEqual(ids(await history(u, "page=3&page_size=4")));
    expect(third).toMatchObject({ has_more: false, next_cursor: null });
    expect(await walk(u, "page_size=4")).toEqual(ids(await history(u, "page_size=100")));
    // a cursor below every entry, or on a wallet without entries: an empty last page
    expect(await history(u, "cursor=1")).toMatchObject({ transactions: [], has_more: false, next_cursor: null });
    expect(await history(1009, "cursor=5")).toMatchObject({ transactions: [], has_more: false, next_cursor: null });
  });

  it("walks one type by cursor", async () => {
    const u = 1003;
    await fill(u, 12, 1004);
    await post(s.url, "/api/withdraw/v1", u, { amount: 2 });
    for (const [type, name, n] of [
      [3, "transfer", 4],
      [1, "deposit", 12],
      [2, "withdraw", 1],
    ] as const) {
      const all = await history(u, `type=${type}&page_size=100`);
      expect(all.transactions.map((t) => t.type)).toEqual(Array(n).fill(name));
      expect(await walk(u, `type=${type}&page_size=3`)).toEqual(ids(all));
    }
    // the receiver's side of the same transfers
    expect(await walk(1004, "type=3&page_size=1")).toHaveLength(4);
  });

  it("refuses a malformed cursor, and a cursor with a page above 1, with invalid_request", async () => {
    const u = 1005;
    await fill(u, 3);
    const bad = ["abc", "0", "-1", "1.5", "1e3", "", "%205", "12345678901234567", "0x10", "07"];
    for (const cursor of bad) {
      const r = await get(s.url, `/api/transactions/v1?cursor=${cursor}`, u);
      expect([cursor, r.status, r.body.error.code]).toEqual([cursor, 400, "invalid_request"]);
      expect(r.body.error.message).toMatch(/^cursor: must be a next_cursor/);
    }
    const both = await get(s.url, "/api/transactions/v1?page=2&cursor=3", u);
    expect([both.status, both.body.error.code]).toEqual([400, "invalid_request"]);
    expect(both.body.error.message).toMatch(/cursor and page cannot be combined/);
    const twice = await get(s.url, "/api/transactions/v1?cursor=3&cursor=2", u);
    expect(twice.status).toBe(400);
    // nothing changed
    expect(ids(await history(u, "page_size=100"))).toHaveLength(3);
  });

  it("documents cursor and next_cursor in the OpenAPI document", async () => {
    const doc = (await get(s.url, "/openapi.json")).body;
    const op = doc.paths["/api/transactions/v1"].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual([
      "type",
      "page",
      "page_size",
      "currency",
      "cursor",
      "reference",
    ]);
    expect(op.description).toMatch(/next_cursor/);
    const body = op.responses["200"].content["application/json"].schema;
    expect(body.required).toContain("next_cursor");
  });
});

describe("over gRPC", () => {
  const list = (user: number, req: object): Promise<{ code: number; value: any; error?: unknown }> =>
    new Promise((resolve) => {
      const md = new grpc.Metadata();
      md.set("authorization", String(user));
      let value: any;
      const call = c.ListTransactions(req, md, (_e: unknown, v: unknown) => (value = v));
      call.on("status", (st: grpc.StatusObject) =>
        resolve({ code: st.code, value, error: st.metadata.get("wallet-error-code")[0] }),
      );
    });

  it("pages ListTransactions by cursor as HTTP does, and refuses what HTTP refuses", async () => {
    const u = 1011;
    await fill(u, 7, 1012);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const r = await list(u, { type: "TRANSACTION_TYPE_UNSPECIFIED", page_size: 3, cursor });
      expect(r.code).toBe(grpc.status.OK);
      seen.push(...r.value.transactions.map((t: { id: string }) => t.id));
      expect(r.value.has_more).toBe(Boolean(r.value.next_cursor));
      if (!r.value.next_cursor) break;
      cursor = r.value.next_cursor;
    }
    expect(seen).toEqual(await walk(u, "page_size=3"));
    const transfers = await list(u, { type: "TRANSACTION_TYPE_TRANSFER", page_size: 1 });
    const next = await list(u, {
      type: "TRANSACTION_TYPE_TRANSFER",
      page_size: 1,
      cursor: transfers.value.next_cursor,
    });
    expect(next.value.transactions[0].id).toBe(ids(await history(u, "type=3&page=2&page_size=1"))[0]);
    for (const req of [{ cursor: "nope" }, { cursor: "" }, { cursor: "5", page: 2 }]) {
      const r = await list(u, req);
      expect([r.code, r.error]).toEqual([grpc.status.INVALID_ARGUMENT, "invalid_request"]);
    }
  });
});

// the CLI's paging is the same code on both engines (the server's and the core's are tested above)
describe.skipIf(engine === "pglite")("the CLI", () => {
  it("pages with --cursor through a server, over HTTP and gRPC, printing the next cursor", async () => {
    const u = 1021;
    await fill(u, 5);
    const expected = await walk(u, "page_size=2");
    for (const api of [s.url, `grpc://127.0.0.1:${s.config.grpcPort}`]) {
      const seen: string[] = [];
      let args = ["history", "--user", String(u), "--page-size", "2", "--api", api];
      for (;;) {
        const r = await runCli([...args, "--json"]);
        expect(r.code, r.stderr).toBe(0);
        seen.push(...r.json.transactions.map((t: { id: string }) => t.id));
        expect(Object.keys(r.json)).toContain("next_cursor");
        const table = await runCli(args);
        if (r.json.next_cursor === null) {
          expect(table.stdout).not.toMatch(/more:/);
          break;
        }
        expect(table.stdout).toContain(`--cursor ${r.json.next_cursor}`);
        args = ["history", "--user", String(u), "--page-size", "2", "--api", api, "--cursor", r.json.next_cursor];
      }
      expect([api, seen]).toEqual([api, expected]);
    }
  });

  // each direct-mode run opens the database (on PGlite, the embedded engine: seconds)
  it(
    "pages with --cursor directly on the database, and refuses a bad cursor as a usage error",
    { timeout: 300_000 },
    async () => {
      const db = await processDatabase();
      try {
        const core = await openCore(resolveConfig({ ...db.env, LOG_LEVEL: "silent" }));
        await deposit(core.ctx, { userId: 8, amount: 1 });
        for (let i = 1; i <= 6; i++) await deposit(core.ctx, { userId: 7, amount: 10 * i });
        await transfer(core.ctx, { userId: 7, toUserId: 8, amount: 5 });
        await withdraw(core.ctx, { userId: 7, amount: 1 });
        await core.close();
        const cli = (args: string[]) => runCli(["history", "--user", "7", ...args], db.env);
        const first = await cli(["--page-size", "3", "--json"]);
        expect(first.code, first.stderr).toBe(0);
        expect(first.json).toMatchObject({ page: 1, has_more: true, next_cursor: "6" });
        const table = await cli(["--page-size", "3"]);
        expect(table.stdout).toMatch(/page 1, 3 entries; more: --page 2 or --cursor 6/);
        const second = await cli(["--page-size", "3", "--cursor", "6", "--json"]);
        expect(second.json.transactions.map((t: { amount: number }) => t.amount)).toEqual([50, 40, 30]);
        const last = await cli(["--page-size", "3", "--cursor", second.json.next_cursor]);
        expect(last.stdout).toMatch(/below cursor 3, 2 entries\n$/);
        const transfers = await cli(["--type", "transfer", "--cursor", "8", "--json"]);
        expect(transfers.json).toMatchObject({ transactions: [{ amount: 5 }], next_cursor: null });
        for (const bad of [
          ["--cursor", "x1"],
          ["--cursor", "0"],
          ["--cursor", "3", "--page", "2"],
        ]) {
          const r = await cli(bad);
          expect([bad, r.code]).toEqual([bad, 2]);
          expect(r.stderr).toMatch(/--cursor/);
        }
      } finally {
        await db.drop();
      }
    },
  );
});
