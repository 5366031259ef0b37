import type { Command } from "commander";
import chalk from "chalk";
import ora from "ora";
import { MAX_CENTS } from "../../core/money.js";
import { seedHistories, seedWallets, type HistorySeedResult, type SeedResult } from "../../core/seed.js";
import { parseIntArg } from "../args.js";
import { loadConfig } from "../../core/config.js";
import { openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput, money } from "../output.js";
import { directOnly } from "../target.js";

/** `wallet seed`: open (and fund) a range of wallets, optionally with a history, on the database. */
export function registerSeed(program: Command): void {
  program
    .command("seed")
    .description(
      "Open wallets K..K+N-1 with a balance (each credited by a ledger entry); running it again changes nothing",
    )
    .requiredOption("--users <n>", "how many wallets")
    .requiredOption("--balance <cents>", "opening balance of each, in cents (0 allowed without --entries)")
    .option("--first <k>", "the first user id", "1")
    .option("--entries <n>", "write n journal entries in all (deposits, withdrawals, transfers), set-based")
    .option("--deep <n>", "with --entries: the first wallet gets n of them (deep history paging)", "0")
    .addHelpText(
      "after",
      "\nWith --entries, every wallet gets a history (its opening deposit, then money in and out in\n" +
        "pairs, some of them transfers between neighbouring wallets) written by a few large\n" +
        "statements; the ledger invariants hold (wallet verify). For test and benchmark databases:\n" +
        "the history is dated the hours before the seed.\n" +
        "\nExamples:\n  $ wallet seed --users 1000 --balance 10000\n  $ wallet seed --users 50 --balance 0 --first 1001 --json\n" +
        "  $ wallet seed --users 1000000 --balance 10000 --entries 10000000 --deep 100000",
    )
    .action(
      async (opts: { users: string; balance: string; first: string; entries?: string; deep: string }, cmd: Command) => {
        directOnly(cmd, "seed");
        const out = createOutput(globals(cmd).json);
        const users = parseIntArg(opts.users, "--users");
        const balance = opts.balance === "0" ? 0 : parseIntArg(opts.balance, "--balance");
        const first = parseIntArg(opts.first, "--first");
        if (first + users - 1 > MAX_CENTS) throw new UsageError("user ids must stay below 2^53");
        const entries = opts.entries === undefined ? undefined : parseIntArg(opts.entries, "--entries");
        const deep = opts.deep === "0" ? 0 : parseIntArg(opts.deep, "--deep");
        if (entries === undefined && deep > 0) throw new UsageError("--deep needs --entries");
        if (entries !== undefined && balance === 0) throw new UsageError("--entries needs --balance of 1 or more");
        const core = await openDirect(loadConfig());
        const spinner = out.color
          ? ora({ text: `seeding ${users} wallets`, stream: process.stderr }).start()
          : undefined;
        const started = performance.now();
        const progress = (done: number, total: number) => {
          if (spinner) spinner.text = `seeding wallets: ${done}/${total} (${Math.round((done / total) * 100)}%)`;
        };
        try {
          const r: SeedResult | HistorySeedResult =
            entries === undefined
              ? await seedWallets(
                  core.ctx,
                  { users, balance, first, currency: core.ctx.currencies.defaultCurrency },
                  progress,
                )
              : await seedHistories(core.ctx, { users, balance, first, entries, deep }, progress);
          const seconds = (performance.now() - started) / 1000;
          spinner?.succeed(`seeded in ${seconds.toFixed(1)} s`);
          out.result(r, () => {
            const head = `${chalk.green("Opened")} ${r.created} wallets with ${money(balance)} each (${r.existing} already existed): users ${r.first}..${r.last}`;
            if (entries === undefined) return head;
            const h = r as HistorySeedResult;
            const deepNote = h.deep_user === null ? "" : `; wallet ${h.deep_user} has ${deep}`;
            return `${head}\n${h.entries} journal entries written in ${seconds.toFixed(1)} s${deepNote}`;
          });
        } catch (err) {
          spinner?.fail();
          throw err;
        } finally {
          await core.close();
        }
      },
    );
}
