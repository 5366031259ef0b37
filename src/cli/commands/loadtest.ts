import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadClientConfig, loadConfig } from "../../core/config.js";
import type { CoreContext } from "../../core/context.js";
import { createLogger } from "../../server/logger.js";
import { openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { parseLoadtestArgs, type LoadtestOpts } from "../loadtest/args.js";
import { awaitCompletion, checkHoldings, checkLedger, fund, total } from "../loadtest/check.js";
import { fundSecondCurrency, holdings, setExchangeRates } from "../loadtest/exchange.js";
import { startLive } from "../loadtest/live.js";
import { renderReport, renderReportWithCharts, type LoadReport } from "../loadtest/report.js";
import { SCENARIOS } from "../loadtest/scenarios.js";
import { createOutput } from "../output.js";

type Target = { url: string; ctx?: CoreContext; stop(): Promise<void> };

/**
 * The target: a live server (--api), or `wallet serve` assembled in this process; and
 * the database, when there is access to it (direct mode on DATABASE_URL, without
 * migrating someone else's database, for the checks).
 */
async function openTarget(api: string | undefined, baseline: boolean): Promise<Target> {
  if (!api) {
    // without DATABASE_URL or WALLET_DATA_DIR: a fresh in-memory embedded database
    const config = loadConfig({ PORT: "0", RATE_LIMIT_RPS: "0", HOST: "127.0.0.1" }, { WALLET_DATA_DIR: "memory://" });
    const { startServer } = await import("../../server/index.js");
    const server = await startServer(config, createLogger("error"));
    return { url: server.url, ctx: server.services.ctx, stop: () => server.close() };
  }
  const config = loadConfig();
  if (config.databaseUrl && !baseline) {
    const direct = await openDirect({ ...config, migrate: false, dbPoolMax: 4 });
    return { url: api, ctx: direct.ctx, stop: () => direct.close() };
  }
  return { url: api, stop: async () => undefined };
}

/** The --report file's full path, refused before the run rather than after it when its folder cannot take it. */
function reportPath(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const full = path.resolve(file);
  if (fs.existsSync(full) && fs.statSync(full).isDirectory()) throw new UsageError(`--report: ${full} is a folder`);
  try {
    fs.accessSync(path.dirname(full), fs.constants.W_OK);
  } catch {
    throw new UsageError(`--report: cannot write in ${path.dirname(full)}`);
  }
  return full;
}

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
    .option("--no-check", "skip the ledger check after the run (a big database: run wallet verify once instead)")
    .option("--report <file.html>", "also write the results as a page with charts (self-contained, works offline)")
    .addHelpText(
      "after",
      "\nTarget: --api <url> (a running server; set DATABASE_URL too for the SQL checks), or, without it, a server\n" +
        "in this process on DATABASE_URL or a fresh in-memory embedded database. Rate limiting is off in-process.\n" +
        "transfer-async is measured to completion: the run waits until every accepted transfer is applied.\n" +
        "exchange funds the wallets in USD and EUR, sets both rates (--api alone: WALLET_ADMIN_TOKEN) and\n" +
        "quotes then exchanges; its check: per currency, balances plus the platform's position unchanged.\n\n" +
        "Examples:\n  $ wallet loadtest --scenario transfer --duration 30 --concurrency 64 --report load.html\n" +
        "  $ wallet loadtest --scenario transfer-async --api http://localhost:8080 --json",
    )
    .action(async (opts: LoadtestOpts & { report?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = createOutput(g.json);
      const a = parseLoadtestArgs(opts);
      const reportFile = reportPath(opts.report);
      // the line is rewritten in place: only where someone watches it, never into a file or a pipe
      const watched = !g.json && Boolean(process.stdout.isTTY && process.stderr.isTTY);
      const target = await openTarget(g.api, a.baseline);
      const { url, ctx, stop } = target;
      const db = ctx?.db;
      const fx = { url, ctx, adminToken: loadClientConfig().adminToken };
      const exchanging = a.scenario === "exchange";
      try {
        if (a.seed && !a.baseline) {
          out.info(`opening and funding wallets ${a.first}..${a.first + a.users - 1}`);
          await fund(url, db, a.first, a.users);
          if (exchanging) await fundSecondCurrency(fx, a.first, a.users);
        }
        if (exchanging) await setExchangeRates(fx);
        const checked = a.check && !a.baseline;
        const before = checked && !exchanging ? await total(url, db, a.first, a.users) : 0;
        const held = checked && exchanging ? await holdings(fx, a.first, a.users) : undefined;
        out.info(`${a.scenario}: ${a.concurrency} connections for ${a.durationSec} s against ${url}`);
        const started = Date.now();
        const live = watched ? startLive(process.stderr, a.durationSec) : undefined;
        const { runLoad } = await import("../loadtest/run.js");
        const result = await runLoad({
          url,
          scenario: a.scenario,
          durationSec: a.durationSec,
          concurrency: a.concurrency,
          first: a.first,
          users: a.users,
          onTick: live?.tick,
        }).finally(() => live?.stop());
        const { lastAcceptedBySender: _ids, ...measured } = result;
        const report: LoadReport = { target: url, users: a.users, ...measured };
        if (a.scenario === "transfer-async") {
          out.info(`waiting for ${result.accepted} accepted transfers to be applied`);
          report.async = await awaitCompletion(url, db, result, started);
        }
        if (held) report.ledger = await checkHoldings(db, held, await holdings(fx, a.first, a.users));
        else if (checked) report.ledger = await checkLedger(url, db, a.first, a.users, before, result);
        if (reportFile) (await import("../loadtest/html.js")).writeHtmlReport(reportFile, report);
        // charts on a terminal; into a file or a pipe, the table alone, as before
        out.result(report, () =>
          process.stdout.isTTY ? renderReportWithCharts(report, process.stdout.columns || 100) : renderReport(report),
        );
        if (reportFile) out.info(`report: ${reportFile}`);
        if (report.ledger && !report.ledger.ok) process.exitCode = 1;
      } finally {
        await stop();
      }
    });
}
