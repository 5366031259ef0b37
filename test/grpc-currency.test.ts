/**
 * Currencies over gRPC, on a real server (both engines): `currency` on the money and
 * read RPCs, ListBalances, rates, quotes and exchanges, one Idempotency-Key per
 * operation, malformed and unsupported codes, and the CLI's gRPC client.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it } from "vitest";
import { setRate } from "../src/core/fx.js";
import { createGrpcClient } from "../src/cli/grpcClient.js";
import { freePort } from "./helpers/privatePostgres.js";
import { get, startTestServer, type TestServer } from "./helpers/server.js";

const S = grpc.status;
const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
const walletV1 = (grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any).wallet
  .v1;

type Answer = { code: number; value: any; error?: string; details: string; headers: any };
function rpc(c: any, method: string, user: number, req = {}, extra: Record<string, string> = {}): Promise<Answer> {
  const md = new grpc.Metadata();
  md.set("authorization", String(user));
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return new Promise((resolve) => {
    let value: any;
    let headers: any = {};
    const call = c[method](req, md, (_e: unknown, v: any) => (value = v));
    call.on("metadata", (m: grpc.Metadata) => (headers = m.getMap()));
    call.on("status", ({ code, details, metadata }: grpc.StatusObject) =>
      resolve({ code, value, error: metadata.getMap()["wallet-error-code"] as string, details, headers }),
    );
  });
}
const ok = async (...a: Parameters<typeof rpc>) => {
  const r = await rpc(...a);
  expect(r.code, r.details).toBe(S.OK);
  return r.value;
};
const refusal = async (...a: Parameters<typeof rpc>) => {
  const r = await rpc(...a);
  return [r.code, r.error];
};

let s: TestServer;
let c: any;
const rate = (from: string, to: string, r: string) =>
  setRate(s.services.ctx, { from, to, rate: r, actor: "test", reason: "grpc currency test" });
beforeAll(async () => {
  s = await startTestServer({ GRPC_PORT: String(await freePort()), CURRENCIES: "USD,EUR,JPY,BHD" });
  c = new walletV1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
});
afterAll(() => s.stop());

it("deposits, withdraws and transfers euros and yen in wallets of their own, beside the dollars", async () => {
  await ok(c, "GetBalance", 102); // the receiver exists (its default wallet opens when it first calls)
  expect(await ok(c, "Deposit", 101, { amount: 1000, currency: "EUR" })).toMatchObject({
    balance: 1000,
    currency: "EUR",
  });
  expect(await ok(c, "Withdraw", 101, { amount: 100, currency: "EUR" })).toMatchObject({
    balance: 900,
    currency: "EUR",
  });
  expect(await ok(c, "Deposit", 101, { amount: 500, currency: "JPY" })).toMatchObject({
    balance: 500,
    currency: "JPY",
  });
  const t = await ok(c, "Transfer", 101, { destination_user_id: 102, amount: 250, currency: "EUR" });
  expect(t).toMatchObject({ success: true, balance: 650, currency: "EUR" });
  expect(await ok(c, "GetBalance", 101, { currency: "EUR" })).toEqual({
    currency: "EUR",
    balance: 650,
    available_balance: 650,
    version: 3,
    credit_limit: 0,
  });
  expect(await ok(c, "GetBalance", 102, { currency: "EUR" })).toMatchObject({ currency: "EUR", balance: 250 });
  expect(await ok(c, "GetBalance", 101)).toEqual({
    currency: "USD",
    balance: 0,
    available_balance: 0,
    version: 0,
    credit_limit: 0,
  });
  const h = await ok(c, "CreateHold", 101, { amount: 200, currency: "JPY", destination_user_id: 102 });
  expect(h).toMatchObject({ currency: "JPY", amount: 200, balance: 500, available_balance: 300 });
  const cap = await ok(c, "CaptureHold", 102, { hold_id: h.hold_id });
  expect(cap).toMatchObject({ currency: "JPY", captured_amount: 200, balance: 300 });
  expect(await ok(c, "GetHold", 101, { hold_id: h.hold_id })).toMatchObject({ currency: "JPY" });
  const page = await ok(c, "ListTransactions", 101, { currency: "EUR" });
  expect(page.transactions.map((e: any) => [e.type, e.amount, e.currency, e.balance_after])).toEqual([
    ["TRANSACTION_TYPE_TRANSFER", 250, "EUR", 650],
    ["TRANSACTION_TYPE_WITHDRAW", 100, "EUR", 900],
    ["TRANSACTION_TYPE_DEPOSIT", 1000, "EUR", 1000],
  ]);
  expect((await ok(c, "ListTransactions", 101, { currency: "BHD" })).transactions).toEqual([]);
  const a = await ok(c, "TransferAsync", 101, { destination_user_id: 102, amount: 1, currency: "JPY" });
  expect(await ok(c, "GetTransfer", 102, { transfer_id: a.transfer_id })).toMatchObject({
    currency: "JPY",
    amount: 1,
  });
});

it("lists the caller's wallets sorted by code, the default currency always among them", async () => {
  await ok(c, "Deposit", 111, { amount: 7, currency: "JPY" });
  await ok(c, "Deposit", 111, { amount: 1234, currency: "BHD" });
  await ok(c, "GetBalance", 111, { currency: "EUR" }); // a read opens no wallet
  expect(await ok(c, "ListBalances", 111)).toEqual({
    balances: [
      { currency: "BHD", balance: 1234, available_balance: 1234, version: 1, credit_limit: 0 },
      { currency: "JPY", balance: 7, available_balance: 7, version: 1, credit_limit: 0 },
      { currency: "USD", balance: 0, available_balance: 0, version: 0, credit_limit: 0 },
    ],
  });
});

it("quotes at the operator's rate and exchanges once, both wallets and the history showing it", async () => {
  await rate("EUR", "JPY", "160.5");
  expect((await ok(c, "ListRates", 121)).rates).toContainEqual(
    expect.objectContaining({ from: "EUR", to: "JPY", rate: "160.5" }),
  );
  await ok(c, "Deposit", 121, { amount: 5000, currency: "EUR" });
  const q = await ok(c, "CreateQuote", 121, { from_currency: "EUR", to_currency: "JPY", amount: 1000 });
  // 10.00 EUR at 160.5 is 1605 yen (0 minor digits)
  expect(q).toMatchObject({ from_currency: "EUR", to_currency: "JPY", amount: 1000, converted_amount: 1605 });
  expect(q.rate).toBe("160.5");
  await rate("EUR", "JPY", "1"); // a quote keeps its rate
  const x = await ok(c, "Exchange", 121, { quote_id: q.quote_id });
  expect(x).toMatchObject({ quote_id: q.quote_id, amount: 1000, converted_amount: 1605, rate: "160.5" });
  expect(x.balances).toEqual({ EUR: 4000, JPY: 1605 });
  expect(await refusal(c, "Exchange", 121, { quote_id: q.quote_id })).toEqual([S.ABORTED, "quote_used"]);
  const entries = await ok(c, "ListTransactions", 121, { currency: "JPY", type: "TRANSACTION_TYPE_EXCHANGE" });
  expect(entries.transactions.map((e: any) => [e.direction, e.amount, e.currency, e.exchange_id])).toEqual([
    ["DIRECTION_IN", 1605, "JPY", x.exchange_id],
  ]);
  const out = (await ok(c, "ListTransactions", 121, { currency: "EUR" })).transactions[0];
  expect([out.type, out.direction, out.exchange_id]).toEqual([
    "TRANSACTION_TYPE_EXCHANGE",
    "DIRECTION_OUT",
    x.exchange_id,
  ]);
});

it("streams exchange events with their currency and exchange id", async () => {
  await rate("USD", "EUR", "0.9215");
  await ok(c, "Deposit", 131, { amount: 10_000 });
  const q = await ok(c, "CreateQuote", 131, { from_currency: "USD", to_currency: "EUR", amount: 10_000 });
  const x = await ok(c, "Exchange", 131, { quote_id: q.quote_id });
  const md = new grpc.Metadata();
  md.set("authorization", "131");
  const call = c.WatchEvents({ after: 1 }, md);
  call.on("error", () => undefined);
  const events: any[] = [];
  await new Promise<void>((resolve) => call.on("data", (e: any) => events.push(e) === 2 && (call.cancel(), resolve())));
  expect(events.map((e) => [e.type, e.data.currency, e.data.amount, e.data.exchange_id])).toEqual([
    ["EVENT_TYPE_EXCHANGE_OUT", "USD", 10_000, x.exchange_id],
    ["EVENT_TYPE_EXCHANGE_IN", "EUR", 9215, x.exchange_id],
  ]);
});

it("replays a quote for the same Idempotency-Key and fields, and refuses the key with other fields", async () => {
  await rate("EUR", "BHD", "0.41");
  const key = { "idempotency-key": "quote-1" };
  const req = { from_currency: "EUR", to_currency: "BHD", amount: 100 };
  const first = await rpc(c, "CreateQuote", 141, req, key);
  const again = await rpc(c, "CreateQuote", 141, req, key);
  expect(first.value.converted_amount).toBe(410); // 1.00 EUR at 0.41 is 0.410 BHD
  expect([again.value, again.headers["idempotent-replayed"]]).toEqual([first.value, "true"]);
  const other = await rpc(c, "CreateQuote", 141, { ...req, amount: 101 }, key);
  expect([other.code, other.error]).toEqual([S.FAILED_PRECONDITION, "idempotency_key_reused"]);
  const dk = { "idempotency-key": "deposit-eur" };
  const d = await ok(c, "Deposit", 141, { amount: 5, currency: "EUR" }, dk);
  expect(await ok(c, "Deposit", 141, { amount: 5, currency: "EUR" }, dk)).toEqual(d);
  expect(await refusal(c, "Deposit", 141, { amount: 5, currency: "JPY" }, dk)).toEqual([
    S.FAILED_PRECONDITION,
    "idempotency_key_reused",
  ]);
});

it("refuses a malformed currency as INVALID_ARGUMENT and one outside CURRENCIES as FAILED_PRECONDITION", async () => {
  for (const currency of ["eur", "EU", "EURO", "XYZ", "12 "]) {
    expect(await refusal(c, "Deposit", 151, { amount: 1, currency }), currency).toEqual([
      S.INVALID_ARGUMENT,
      "invalid_request",
    ]);
  }
  const unsupported = await rpc(c, "Deposit", 151, { amount: 1, currency: "GBP" });
  expect([unsupported.code, unsupported.error, unsupported.details]).toEqual([
    S.FAILED_PRECONDITION,
    "currency_not_supported",
    "currency: GBP is not accepted by this service.",
  ]);
  const cases: [string, object, number, string][] = [
    ["GetBalance", { currency: "GBP" }, S.FAILED_PRECONDITION, "currency_not_supported"],
    ["ListTransactions", { currency: "usd" }, S.INVALID_ARGUMENT, "invalid_request"],
    ["CreateHold", { amount: 1, currency: "GBP" }, S.FAILED_PRECONDITION, "currency_not_supported"],
    ["Transfer", { destination_user_id: 102, amount: 1, currency: "X" }, S.INVALID_ARGUMENT, "invalid_request"],
    ["CreateQuote", { to_currency: "EUR", amount: 1 }, S.INVALID_ARGUMENT, "invalid_request"],
    ["CreateQuote", { from_currency: "EUR", to_currency: "EUR", amount: 1 }, S.INVALID_ARGUMENT, "invalid_request"],
    [
      "CreateQuote",
      { from_currency: "EUR", to_currency: "GBP", amount: 1 },
      S.FAILED_PRECONDITION,
      "currency_not_supported",
    ],
    ["CreateQuote", { from_currency: "JPY", to_currency: "BHD", amount: 1 }, S.FAILED_PRECONDITION, "rate_unavailable"],
    ["Exchange", { quote_id: "abc" }, S.INVALID_ARGUMENT, "invalid_request"],
    ["Exchange", { quote_id: "9999999999999999999" }, S.NOT_FOUND, "not_found"],
  ];
  for (const [method, req, code, error] of cases) {
    expect([method, ...(await refusal(c, method, 151, req))], JSON.stringify(req)).toEqual([method, code, error]);
  }
});

it("refuses a quote converting to nothing, another user's quote, and an expired one", async () => {
  await rate("JPY", "EUR", "0.006");
  const tiny = await refusal(c, "CreateQuote", 161, { from_currency: "JPY", to_currency: "EUR", amount: 1 });
  expect(tiny).toEqual([S.FAILED_PRECONDITION, "amount_too_small"]);
  await ok(c, "Deposit", 161, { amount: 10_000, currency: "JPY" });
  const q = await ok(c, "CreateQuote", 161, { from_currency: "JPY", to_currency: "EUR", amount: 10_000 });
  expect(q.converted_amount).toBe(6000); // 10,000 yen at 0.006 is 60.00 EUR
  await ok(c, "GetBalance", 162);
  expect(await refusal(c, "Exchange", 162, { quote_id: q.quote_id })).toEqual([S.NOT_FOUND, "not_found"]);
  await s.services.ctx.db.query("update fx_quotes set expires_at = now() - interval '1 second' where id = $1", [
    q.quote_id,
  ]);
  expect(await refusal(c, "Exchange", 161, { quote_id: q.quote_id })).toEqual([S.ABORTED, "quote_expired"]);
  expect(await ok(c, "GetBalance", 161, { currency: "JPY" })).toMatchObject({ balance: 10_000 });
});

it("the CLI's gRPC client names currencies, lists wallets, quotes and exchanges, in the HTTP API's shapes", async () => {
  const client = createGrpcClient(`grpc://127.0.0.1:${s.config.grpcPort}`, { authMode: "userid" });
  try {
    await rate("EUR", "USD", "1.25");
    expect(await client.deposit(171, 800, "EUR")).toEqual({
      balance: 800,
      currency: "EUR",
      transaction_id: expect.stringMatching(/^\d+$/),
    });
    const b = await client.balance(171);
    expect(b).toEqual((await get(s.url, "/api/wallet/balance/v1", 171)).body);
    expect(Object.keys(b)).toEqual(["currency", "balance", "available_balance", "version", "credit_limit"]);
    expect(await client.balance(171, "EUR")).toMatchObject({ currency: "EUR", balance: 800, available_balance: 800 });
    const q = await client.createQuote({ userId: 171, from: "EUR", to: "USD", amount: 800 });
    expect(q).toMatchObject({ from_currency: "EUR", to_currency: "USD", converted_amount: 1000, rate: "1.25" });
    const x = await client.exchange(171, q.quote_id);
    expect(x.balances).toEqual({ EUR: 0, USD: 1000 });
    expect((await client.balances(171)).balances.map((w) => [w.currency, w.balance])).toEqual([
      ["EUR", 0],
      ["USD", 1000],
    ]);
    expect((await client.fxRates()).rates).toContainEqual(expect.objectContaining({ from: "EUR", to: "USD" }));
    const page = await client.history(171, { type: 0, page: 1, pageSize: 10, currency: "EUR" });
    expect(page.transactions.map((e) => [e.type, e.direction, e.currency, e.exchange_id])).toEqual([
      ["exchange", "out", "EUR", x.exchange_id],
      ["deposit", "in", "EUR", null],
    ]);
    const events = await client.events(171, { after: 0, limit: 3, waitSeconds: 1 });
    expect(events.events.map((e) => [e.type, e.data.currency])).toEqual([
      ["deposit", "EUR"],
      ["exchange_out", "EUR"],
      ["exchange_in", "USD"],
    ]);
    await expect(client.withdraw(171, 1, "GBP")).rejects.toMatchObject({ code: "currency_not_supported" });
  } finally {
    await client.close();
  }
});
