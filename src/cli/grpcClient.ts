/**
 * The live-server client over gRPC (--api grpc://host:port): wallet.v1 from the same
 * .proto the server loads, one HTTP/2 connection. It answers in the HTTP API's JSON
 * shapes (enums as lower-case names, absent nullable fields as null), so commands print
 * the same whichever protocol carried them. Every write carries an Idempotency-Key.
 */
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { isErrorCode, WalletError } from "../core/errors.js";
import type { WalletEvent } from "../core/events/format.js";
import type { RateRow } from "../core/fx.js";
import type { LimitsView } from "../core/limits.js";
import type { LimitUse } from "../core/store/limits.js";
import type { HistoryEntry, HistoryPage } from "../core/history.js";
import { signToken } from "../server/auth.js";
import { fieldOrders, toJson } from "../server/grpc/json.js";
import { ENUM_PREFIX, loadWalletPackage, MD, SERVICE_NAME } from "../server/grpc/proto.js";
import type { CurrencyBalance, WalletClient } from "./client.js";
import { ConnectionError, UsageError } from "./errors.js";
import type { HttpClientOptions } from "./httpClient.js";
import { tagBody } from "./tags.js";

type Msg = Record<string, unknown>;
type Unary = (
  req: Msg,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r: Msg) => void,
) => void;

type Watch = (req: Msg, md: grpc.Metadata) => grpc.ClientReadableStream<Msg>;

const DEADLINE_MS = 30_000;
/** Retried as the HTTP transport retries 5xx, 429 and 409. */
const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
]);
/** WatchEvents has no end: a page is what arrives until the stream goes quiet this long. */
const QUIET_MS = 200;

/** The declared fields of each message, in the HTTP API's order: it writes its nulls where they stand. */
let fieldOrder: Map<string, string[]> | undefined;

/** The HTTP API's JSON of a message: enums by their lower-case names, absent nullable fields null. */
const json = <T>(type: string, m: Msg, enums: Record<string, string> = {}, nullable: readonly string[] = []): T =>
  toJson<T>(fieldOrder!, type, m, enums, nullable);
/** "" is no currency on the wire: the server's DEFAULT_CURRENCY. */
const ccy = (currency: string | undefined) => (currency ? { currency } : {});
const HOLD = { status: ENUM_PREFIX.holdStatus };
const HOLD_NULLABLE = ["captured_amount", "destination_user_id"];
const TRANSFER = { status: ENUM_PREFIX.transferStatus };
const ENTRY = { type: ENUM_PREFIX.transactionType, direction: ENUM_PREFIX.direction };
const ENTRY_NULLABLE = [
  "counterparty_user_id",
  "transfer_id",
  "hold_id",
  "reverses",
  "exchange_id",
  "reference",
  "batch_id",
];

export function createGrpcClient(apiUrl: string, opts: HttpClientOptions): WalletClient {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new ConnectionError(`--api ${apiUrl} is not a URL`);
  }
  if (url.protocol !== "grpc:" || !url.port) throw new UsageError(`--api ${apiUrl}: a gRPC server is grpc://host:port`);
  const target = `grpc://${url.host}`;
  const pkg = loadWalletPackage();
  fieldOrder ??= fieldOrders(pkg);
  const Service = grpc.makeGenericClientConstructor(pkg[SERVICE_NAME] as grpc.ServiceDefinition, "WalletService");
  const client = new Service(url.host, grpc.credentials.createInsecure());
  const retries = opts.retries ?? 3;

  async function metadata(userId: number, write: boolean): Promise<grpc.Metadata> {
    const md = new grpc.Metadata();
    if (opts.token) md.set("authorization", `Bearer ${opts.token}`);
    else if (opts.authMode === "token" && opts.authSecret)
      md.set("authorization", `Bearer ${await signToken(opts.authSecret, userId, 300)}`);
    else md.set("authorization", String(userId));
    if (write) md.set("idempotency-key", `cli-${randomUUID()}`);
    return md;
  }

  function refusal(err: grpc.ServiceError): Error {
    const code = err.metadata?.get(MD.errorCode)[0];
    const details = err.metadata?.get(MD.errorDetails)[0];
    const parsed = typeof details === "string" ? (JSON.parse(details) as Record<string, unknown>) : undefined;
    if (typeof code === "string" && isErrorCode(code)) return new WalletError(code, err.details, parsed);
    return new ConnectionError(`could not reach the wallet server at ${target}: ${err.details || err.message}`);
  }

  async function call<T = Msg>(method: string, userId: number, req: Msg, write = false): Promise<T> {
    const md = await metadata(userId, write);
    const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<T>((resolve, reject) =>
          fn(req, md, { deadline: Date.now() + DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res as T))),
        );
      } catch (e) {
        const err = e as grpc.ServiceError;
        if (!RETRYABLE.has(err.code) || attempt >= retries) throw refusal(err);
        const after = Number(err.metadata?.get("retry-after")[0]);
        await new Promise((r) => setTimeout(r, after > 0 ? after * 1000 : 200 * 2 ** attempt));
      }
    }
  }

  /** Over the API a hold is acted on as a user: the one given with --user. */
  function actor(userId: number | undefined): number {
    if (userId === undefined) throw new UsageError("over the API, --user must say who acts on the hold");
    return userId;
  }

  const notInApi = (what: string) => () =>
    Promise.reject(new UsageError(`${what} is not in the gRPC API (wallet.v1); use an http:// --api for it`));

  return {
    target,
    deposit: async (userId, amount, currency, t) =>
      json("DepositResponse", await call("Deposit", userId, { amount, ...ccy(currency), ...tagBody(t) }, true)),
    withdraw: async (userId, amount, currency, t) =>
      json("WithdrawResponse", await call("Withdraw", userId, { amount, ...ccy(currency), ...tagBody(t) }, true)),
    transfer: async (from, to, amount, currency, t) =>
      json(
        "TransferResponse",
        await call("Transfer", from, { destination_user_id: to, amount, ...ccy(currency), ...tagBody(t) }, true),
      ),
    transferAsync: async (from, to, amount, currency, t) =>
      json(
        "TransferAsyncResponse",
        await call("TransferAsync", from, { destination_user_id: to, amount, ...ccy(currency), ...tagBody(t) }, true),
        TRANSFER,
      ),
    batch: async (userId, operations) => {
      const r = await call<{ batch_id: string; results: string[] }>("SubmitBatch", userId, { operations }, true);
      return { batch_id: r.batch_id, results: r.results.map((x) => JSON.parse(x) as unknown) };
    },
    transferStatus: async (userId, id) =>
      json("GetTransferResponse", await call("GetTransfer", userId, { transfer_id: id }), TRANSFER, ["completed_at"]),
    balance: async (userId, currency) =>
      json<CurrencyBalance>("GetBalanceResponse", await call("GetBalance", userId, ccy(currency))),
    balanceAt: async (userId, at, currency) =>
      json("GetBalanceResponse", await call("GetBalance", userId, { at: at.toISOString(), ...ccy(currency) })),
    balances: async (userId) => {
      const r = await call<{ balances: Msg[] }>("ListBalances", userId, {});
      return { balances: r.balances.map((b) => json<CurrencyBalance>("CurrencyBalance", b)) };
    },
    limits: async (userId, currency) => {
      const r = await call<LimitsView & { limits: Msg[] }>("GetLimits", userId, ccy(currency));
      return { ...r, limits: r.limits.map((l) => json<LimitUse>("LimitUse", l, {}, ["resets_at"])) };
    },
    fxRates: async () => {
      // the rates are no user's: any caller may read them (user 1 authenticates the call)
      const r = await call<{ rates: Msg[] }>("ListRates", 1, {});
      return { rates: r.rates.map((x) => json<RateRow>("Rate", x)) };
    },
    createQuote: async (q) => {
      const req = { from_currency: q.from, to_currency: q.to, amount: q.amount };
      return json("CreateQuoteResponse", await call("CreateQuote", q.userId, req, true));
    },
    exchange: async (userId, quoteId) =>
      json("ExchangeResponse", await call("Exchange", userId, { quote_id: quoteId }, true)),
    placeHold: async (h) => {
      const req = {
        amount: h.amount,
        destination_user_id: h.toUserId,
        expires_in_seconds: h.expiresInSeconds,
        ...ccy(h.currency),
      };
      return json("CreateHoldResponse", await call("CreateHold", h.userId, req, true), HOLD, HOLD_NULLABLE);
    },
    captureHold: async (h) => {
      const req = { hold_id: h.holdId, amount: h.amount };
      return json("CaptureHoldResponse", await call("CaptureHold", actor(h.actorId), req, true), HOLD, HOLD_NULLABLE);
    },
    voidHold: async (h) =>
      json(
        "VoidHoldResponse",
        await call("VoidHold", actor(h.actorId), { hold_id: h.holdId }, true),
        HOLD,
        HOLD_NULLABLE,
      ),
    getHold: async (h) =>
      json("GetHoldResponse", await call("GetHold", actor(h.viewerId), { hold_id: h.holdId }), HOLD, HOLD_NULLABLE),
    listHolds: notInApi("holds list"),
    statement: notInApi("statement"),
    history: async (userId, q) => {
      const req = {
        type: q.type,
        page: q.page,
        page_size: q.pageSize,
        cursor: q.cursor,
        reference: q.reference,
        ...ccy(q.currency),
      };
      const page = await call<HistoryPage & { transactions: Msg[] }>("ListTransactions", userId, req);
      return {
        ...page,
        transactions: page.transactions.map((e) => json<HistoryEntry>("Transaction", e, ENTRY, ENTRY_NULLABLE)),
        next_cursor: page.next_cursor ?? null,
      };
    },
    events: async (userId, q) => {
      const md = await metadata(userId, false);
      const watch = (client as unknown as Record<string, Watch>).WatchEvents!.bind(client);
      return new Promise((resolve, reject) => {
        const events: WalletEvent[] = [];
        let done = false;
        let quiet: NodeJS.Timeout | undefined;
        const stop = () => {
          done = true;
          clearTimeout(first);
          clearTimeout(quiet);
        };
        const finish = () => {
          if (done) return;
          stop();
          stream.cancel();
          resolve({ events, next_after: events.at(-1)?.sequence ?? q.after });
        };
        const stream = watch({ after: q.after }, md);
        const first = setTimeout(finish, Math.max(q.waitSeconds * 1000, 1000));
        stream.on("data", (m: Msg) => {
          const e = json<WalletEvent>("WatchEventsResponse", m, { type: ENUM_PREFIX.eventType });
          events.push(m.data ? { ...e, data: json("EventData", m.data as Msg, {}, ["reference", "batch_id"]) } : e);
          clearTimeout(quiet);
          if (events.length >= q.limit) finish();
          else quiet = setTimeout(finish, QUIET_MS);
        });
        stream.on("error", (err: grpc.ServiceError) => {
          if (done) return;
          // ended with where to resume (a slow reader, a server stopping): a page like any other
          if (err.metadata?.get(MD.resumeAfter).length) return finish();
          stop();
          reject(refusal(err));
        });
        stream.on("end", finish);
      });
    },
    close: async () => client.close(),
  };
}
