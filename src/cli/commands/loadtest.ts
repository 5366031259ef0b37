import type { Command } from "commander";
import chalk from "chalk";
import { resolveConfig } from "../../core/config.js";
import { openDatabase, type Database } from "../../core/db/index.js";
import { createLogger } from "../../server/logger.js";
import { startServer } from "../../server/index.js";
import { globals } from "../globals.js";
import { parseLoadtestArgs, type LoadtestOpts } from "../loadtest/args.js";
import { awaitCompletion, checkLedger, fund, total } from "../loadtest/check.js";
import { renderReport, type LoadReport } from "../loadtest/report.js";
import { runLoad } from "../loadtest/run.js";
import { SCENARIOS } from "../loadtest/scenarios.js";
import { createOutput } from "../output.js";

/** The target: a live server (--api), or one in this process; and the database, when there is access to it. */
async function openTarget(api: string | undefined, baseline: boolean) {
  if (!api) {
    const config = resolveConfig(
      { WALLET_DATA_DIR: "memory://", ...process.env },
      { PORT: "0", RATE_LIMIT_RPS: "0", HOST: "127.0.0.1" },
    );
    const server = await startServer(config, createLogger("error"));
    return { url: server.url, db: server.services.ctx.db as Database | undefined, stop: () => server.close() };
  }
  if (process.env.DATABASE_URL && !baseline) {
    const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: "", poolMax: 4 });
    return { url: api, db: db as Database | undefined, stop: () => db.close() };
  }
  return { url: api, db: undefined, stop: async () => undefined };
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
    .addHelpText(
      "after",
      "\nTarget: --api <url> (a running server; set DATABASE_URL too for the SQL checks), or, without it, a server\n" +
        "in this process on DATABASE_URL or a fresh in-memory embedded database. Rate limiting is off in-process.\n" +
        "transfer-async is measured to completion: the run waits until every accepted transfer is applied.\n\n" +
        "Examples:\n  $ wallet loadtest --scenario transfer --duration 30 --concurrency 64\n" +
        "  $ wallet loadtest --scenario transfer-async --api http://localhost:8080 --json",
    )
    .action(async (opts: LoadtestOpts, cmd: Command) => {
      const g = globals(cmd);
      const out = createOutput(g.json);
      const a = parseLoadtestArgs(opts);
      const { url, db, stop } = await openTarget(g.api, a.baseline);
      try {
        if (a.seed && !a.baseline) {
          out.info(`opening and funding wallets ${a.first}..${a.first + a.users - 1}`);
          await fund(url, db, a.first, a.users);
        }
        const before = a.baseline ? 0 : await total(url, db, a.first, a.users);
        out.info(`${a.scenario}: ${a.concurrency} connections for ${a.durationSec} s against ${url}`);
        const started = Date.now();
        const result = await runLoad({
          url,
          scenario: a.scenario,
          durationSec: a.durationSec,
          concurrency: a.concurrency,
          first: a.first,
          users: a.users,
          onTick: out.color
            ? (t, done, errors) =>
                process.stderr.write(
                  `\r${chalk.cyan(t.toFixed(0).padStart(3))} s  ${Math.round(done / t).toLocaleString()} req/s  errors ${errors}   `,
                )
            : undefined,
        });
        if (out.color) process.stderr.write("\n");
        const { lastAcceptedBySender: _ids, ...measured } = result;
        const report: LoadReport = { target: url, users: a.users, ...measured };
        if (a.scenario === "transfer-async") {
          out.info(`waiting for ${result.accepted} accepted transfers to be applied`);
          report.async = await awaitCompletion(url, db, result, started);
        }
        if (!a.baseline) report.ledger = await checkLedger(url, db, a.first, a.users, before, result);
        out.result(report, () => renderReport(report));
        if (report.ledger && !report.ledger.ok) process.exitCode = 1;
      } finally {
        await stop();
      }
    });
}
