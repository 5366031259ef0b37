import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import { Pool } from "undici";
import { resolveConfig } from "../../core/config.js";
import type { CoreContext } from "../../core/context.js";
import { openDatabase } from "../../core/db.js";
import { Poster } from "../../core/poster.js";
import { seedWallets } from "../../core/seed.js";
import { verifyLedger } from "../../core/verify.js";
import { createLogger } from "../../server/logger.js";
import { startServer } from "../../server/index.js";
import { parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { runLoad, type LoadResult } from "../loadtest/run.js";
import { SCENARIOS, type Scenario } from "../loadtest/scenarios.js";
import { createOutput } from "../output.js";

const FUNDS = 1_000_000_000; // cents per wallet: enough that funds never run out in a run

type Opts = { scenario: string; duration: string; concurrency: string; users: string; first: string; seed: boolean };

export function registerLoadtest(program: Command): void {
  program
    .command("loadtest")
    .description("Drive load at the API and report throughput, latency percentiles and errors, then check the ledger")
    .option("-s, --scenario <name>", SCENARIOS.join(" | "), "transfer")
    .option("-d, --duration <seconds>", "how long to send", "10")
    .option("-c, --concurrency <n>", "requests in flight (connections)", "64")
    .option("--users <n>", "wallets to spread the load over", "1000")
    .option("--first <k>", "the first of those wallets' user ids", "1")
    .option("--no-seed", "do not open and fund the wallets first")
    .addHelpText(
      "after",
      "\nTarget: --api <url> (a running server; set DATABASE_URL too for the SQL checks), or, without it, a server\n" +
        "in this process on DATABASE_URL or a fresh in-memory embedded database. Rate limiting is off in-process.\n" +
        "transfer-async is measured to completion: the run waits until every accepted transfer is applied.\n\n" +
        "Examples:\n  $ wallet loadtest --scenario transfer --duration 30 --concurrency 64\n" +
        "  $ wallet loadtest --scenario transfer-async --api http://localhost:8080 --json",
    )
    .action(async (opts: Opts, cmd: Command) => {
      const g = globals(cmd);
      const out = createOutput(g.json);
      if (!(SCENARIOS as readonly string[]).includes(opts.scenario))
        throw new UsageError(`--scenario must be one of ${SCENARIOS.join(", ")}`);
      const scenario = opts.scenario as Scenario;
      const durationSec = parseIntArg(opts.duration, "--duration");
      const concurrency = parseIntArg(opts.concurrency, "--concurrency");
      const users = parseIntArg(opts.users, "--users");
      const first = parseIntArg(opts.first, "--first");
      if (users < 2) throw new UsageError("--users must be at least 2");
      const baseline = scenario.startsWith("baseline");

      // the target, and database access for seeding and the checks when there is one
      const env = { ...process.env };
      let url = g.api;
      let ctx: CoreContext | undefined;
      let stop = async () => undefined as void;
      if (!url) {
        const config = resolveConfig(
          { WALLET_DATA_DIR: "memory://", ...env },
          { PORT: "0", RATE_LIMIT_RPS: "0", HOST: "127.0.0.1" },
        );
        const server = await startServer(config, createLogger("error"));
        url = server.url;
        ctx = server.services.ctx;
        stop = () => server.close();
      } else if (env.DATABASE_URL && !baseline) {
        const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: "", poolMax: 4 });
        ctx = { db, poster: new Poster(db, { groupCommit: false }) };
        stop = () => db.close();
      }
      try {
        if (opts.seed && !baseline) {
          out.info(`opening and funding wallets ${first}..${first + users - 1}`);
          if (ctx) await seedWallets(ctx, { users, balance: FUNDS, first });
          else await fundOverApi(url, first, users);
        }
        const before = baseline ? 0 : await totalBalance(url, ctx, first, users);
        out.info(`${scenario}: ${concurrency} connections for ${durationSec} s against ${url}`);
        const live = out.color;
        const started = Date.now();
        const result = await runLoad({
          url,
          scenario,
          durationSec,
          concurrency,
          first,
          users,
          onTick: live
            ? (t, done, errors) =>
                process.stderr.write(
                  `\r${chalk.cyan(t.toFixed(0).padStart(3))} s  ${Math.round(done / t).toLocaleString()} req/s  errors ${errors}   `,
                )
            : undefined,
        });
        if (live) process.stderr.write("\n");
        const report: Record<string, unknown> = { target: url, users, ...withoutIds(result) };
        if (scenario === "transfer-async") report.async = await awaitCompletion(url, ctx, result, started, out.info);
        if (!baseline) report.ledger = await checkLedger(url, ctx, first, users, before, result);
        out.result(report, () => render(report, result));
        const ledger = report.ledger as { ok: boolean } | undefined;
        if (ledger && !ledger.ok) process.exitCode = 1;
      } finally {
        await stop();
      }
    });
}

function withoutIds(r: LoadResult): Omit<LoadResult, "lastAcceptedBySender"> {
  const { lastAcceptedBySender: _ids, ...rest } = r;
  return rest;
}

async function fundOverApi(url: string, first: number, users: number): Promise<void> {
  const pool = new Pool(url, { connections: 16 });
  let next = first;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < first + users) {
        const u = next++;
        const r = await pool.request({
          method: "POST",
          path: "/api/deposit/v1",
          headers: { authorization: String(u) },
          body: `{"amount":${FUNDS}}`,
        });
        await r.body.text();
      }
    }),
  );
  await pool.close();
}

async function totalBalance(url: string, ctx: CoreContext | undefined, first: number, users: number): Promise<number> {
  if (ctx) {
    const { rows } = await ctx.db.knex.raw<{ rows: Array<{ total: string }> }>(
      "select coalesce(sum(balance), 0)::text as total from wallets where user_id between ? and ?",
      [first, first + users - 1],
    );
    return Number(rows[0]!.total);
  }
  const pool = new Pool(url, { connections: 16 });
  let total = 0;
  for (let u = first; u < first + users; u++) {
    const r = await pool.request({
      method: "GET",
      path: "/api/wallet/balance/v1",
      headers: { authorization: String(u) },
    });
    total += ((await r.body.json()) as { balance: number }).balance;
  }
  await pool.close();
  return total;
}

/** Waits until every accepted async transfer is applied; completion rate and latency. */
async function awaitCompletion(
  url: string,
  ctx: CoreContext | undefined,
  r: LoadResult,
  startedMs: number,
  info: (l: string) => void,
) {
  info(`waiting for ${r.accepted} accepted transfers to be applied`);
  const deadline = Date.now() + 600_000;
  if (ctx) {
    for (;;) {
      const { rows } = await ctx.db.knex.raw<{ rows: Array<{ n: number }> }>(
        "select count(*)::int as n from transfers where status = 'pending' and created_at >= ?",
        [new Date(startedMs - 1000)],
      );
      if (rows[0]!.n === 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const { rows } = await ctx.db.knex.raw<{
      rows: Array<{
        n: number;
        completed: number;
        failed: number;
        span: number;
        p50: number;
        p90: number;
        p99: number;
        max: number;
      }>;
    }>(
      `select count(*)::int as n, count(*) filter (where status = 'completed')::int as completed,
              count(*) filter (where status = 'failed')::int as failed,
              extract(epoch from max(completed_at) - min(created_at))::float8 as span,
              percentile_cont(0.5) within group (order by extract(epoch from completed_at - created_at))::float8 * 1000 as p50,
              percentile_cont(0.9) within group (order by extract(epoch from completed_at - created_at))::float8 * 1000 as p90,
              percentile_cont(0.99) within group (order by extract(epoch from completed_at - created_at))::float8 * 1000 as p99,
              extract(epoch from max(completed_at - created_at))::float8 * 1000 as max
         from transfers where async and created_at >= ?`,
      [new Date(startedMs - 1000)],
    );
    const s = rows[0]!;
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      applied: s.n,
      completed: s.completed,
      failed: s.failed,
      completion_rps: Math.round(s.n / s.span),
      completion_latency_ms: { p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max) },
    };
  }
  // over the API alone: a sender's transfers apply in order, so its last one tells
  const pool = new Pool(url, { connections: 8 });
  for (const [user, id] of Object.entries(r.lastAcceptedBySender)) {
    for (;;) {
      const res = await pool.request({
        method: "GET",
        path: `/api/transfer/v2/${id}`,
        headers: { authorization: user },
      });
      const body = (await res.body.json()) as { status: string };
      if (body.status !== "pending" || Date.now() > deadline) break;
      await new Promise((res2) => setTimeout(res2, 50));
    }
  }
  await pool.close();
  const seconds = (Date.now() - startedMs) / 1000;
  return { applied: r.accepted, completion_rps: Math.round(r.accepted / seconds) };
}

async function checkLedger(
  url: string,
  ctx: CoreContext | undefined,
  first: number,
  users: number,
  before: number,
  r: LoadResult,
) {
  const after = await totalBalance(url, ctx, first, users);
  const expected = before + r.deposited - r.withdrawn;
  const conserved = after === expected;
  if (!ctx)
    return {
      ok: conserved,
      total_before: before,
      total_after: after,
      expected_after: expected,
      verify: "not run: no database access",
    };
  const report = await verifyLedger(ctx);
  return {
    ok: conserved && report.ok,
    total_before: before,
    total_after: after,
    expected_after: expected,
    verify: report.ok ? "clean" : report.violations,
  };
}

function render(report: Record<string, unknown>, r: LoadResult): string {
  const t = new Table({ style: { head: [], border: [] } });
  t.push(
    ["scenario", r.scenario],
    ["requests", r.requests.toLocaleString()],
    ["throughput", `${r.throughput_rps.toLocaleString()} req/s`],
  );
  t.push([
    "latency p50 / p90 / p99 / max",
    `${r.latency_ms.p50} / ${r.latency_ms.p90} / ${r.latency_ms.p99} / ${r.latency_ms.max} ms`,
  ]);
  t.push([
    "statuses",
    Object.entries(r.statuses)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", "),
  ]);
  t.push([
    "errors",
    Object.keys(r.errors).length
      ? Object.entries(r.errors)
          .map(([k, v]) => `${k}: ${v}`)
          .join(", ")
      : "none",
  ]);
  const a = report.async as
    { completion_rps: number; completion_latency_ms?: { p50: number; p99: number } } | undefined;
  if (a)
    t.push([
      "async completion",
      `${a.completion_rps.toLocaleString()} transfers/s${a.completion_latency_ms ? `, accept->done p50 ${a.completion_latency_ms.p50} ms, p99 ${a.completion_latency_ms.p99} ms` : ""}`,
    ]);
  const l = report.ledger as { ok: boolean; total_after: number; expected_after: number; verify: unknown } | undefined;
  if (l)
    t.push([
      "ledger",
      l.ok
        ? chalk.green(`ok: total ${l.total_after} as expected, verify ${String(l.verify)}`)
        : chalk.red(`FAILED: ${JSON.stringify(l)}`),
    ]);
  return t.toString();
}
