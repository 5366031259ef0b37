import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import ora from "ora";
import { MIN_SECRET_LENGTH } from "../../core/config.js";
import { escapeText, isPrintableText, PRINTABLE_ERROR } from "../../core/freeText.js";
import { formatCurrency, MAX_CENTS } from "../../core/money.js";
import { seedHistories, seedWallets, type HistorySeedResult, type SeedResult } from "../../core/seed.js";
import { isId } from "../../core/ids.js";
import { listTransfers, retryTransfer, type TransferStatus } from "../../core/transfers.js";
import { signToken } from "../../server/auth.js";
import { parseIntArg } from "../args.js";
import { loadConfig, openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { actorName } from "../operatorClient.js";
import { globals } from "../globals.js";
import { createOutput, money } from "../output.js";

function directOnly(cmd: Command, what: string): void {
  if (globals(cmd).api)
    throw new UsageError(`${what} needs the database (DATABASE_URL or the embedded one), not --api`);
}

export function registerOperate(program: Command): void {
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
              ? await seedWallets(core.ctx, { users, balance, first }, progress)
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

  const transfers = program.command("transfers").description("Inspect and re-queue transfers (dead letters)");
  transfers
    .command("list")
    .description("List transfers, newest first")
    .option("--status <status>", "pending | completed | failed | dead")
    .option("-u, --user <id>", "only transfers from or to this user")
    .option("--limit <n>", "how many", "50")
    .addHelpText(
      "after",
      "\nExamples:\n  $ wallet transfers list --status dead\n  $ wallet transfers list --user 7 --json",
    )
    .action(async (opts: { status?: string; user?: string; limit: string }, cmd: Command) => {
      directOnly(cmd, "transfers list");
      const statuses = ["pending", "completed", "failed", "dead"];
      if (opts.status && !statuses.includes(opts.status))
        throw new UsageError(`--status must be one of ${statuses.join(", ")}`);
      const out = createOutput(globals(cmd).json);
      const core = await openDirect(loadConfig());
      try {
        const rows = await listTransfers(core.ctx, {
          status: opts.status as TransferStatus | undefined,
          userId: opts.user ? parseIntArg(opts.user, "--user") : undefined,
          limit: parseIntArg(opts.limit, "--limit"),
        });
        out.result({ transfers: rows }, () => {
          if (rows.length === 0) return "no transfers";
          const colour = { completed: chalk.green, failed: chalk.red, dead: chalk.magenta, pending: chalk.yellow };
          const table = new Table({
            head: ["id", "status", "from", "to", "amount", "", "attempts", "reason / last error", "created"],
            style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] },
          });
          for (const t of rows) {
            table.push([
              t.transfer_id,
              colour[t.status](t.status),
              t.source_user_id,
              t.destination_user_id,
              t.amount,
              chalk.dim(formatCurrency(t.amount)),
              t.attempts,
              escapeText((t.failure_reason ?? t.last_error ?? "").slice(0, 40)),
              t.created_at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
            ]);
          }
          return table.toString();
        });
      } finally {
        await core.close();
      }
    });
  transfers
    .command("retry")
    .description("Re-queue a dead-lettered transfer with a fresh set of attempts")
    .argument("<id>", "the transfer id")
    .addHelpText("after", "\nExample:\n  $ wallet transfers retry 250919292663496711")
    .option("--actor <name>", "who re-queues it, for the audit log (default: the OS user)")
    .option("--reason <text>", "why, for the audit log")
    .action(async (id: string, opts: { actor?: string; reason?: string }, cmd: Command) => {
      directOnly(cmd, "transfers retry");
      if (!isId(id)) throw new UsageError(`'${id}' is not a transfer id`);
      if (opts.reason !== undefined && !isPrintableText(opts.reason)) {
        throw new UsageError(`--reason ${PRINTABLE_ERROR}`);
      }
      const out = createOutput(globals(cmd).json);
      const core = await openDirect(loadConfig());
      try {
        const t = await retryTransfer(core.ctx, id, { actor: actorName(opts.actor), reason: opts.reason });
        out.result(
          t,
          () =>
            `${chalk.green("Re-queued")} transfer ${t.transfer_id}: ${money(t.amount)} from wallet ${t.source_user_id} to wallet ${t.destination_user_id}`,
        );
      } finally {
        await core.close();
      }
    });

  program
    .command("token")
    .description("Print a bearer token for a user (AUTH_MODE=token; signed with AUTH_SECRET)")
    .option("-u, --user <id>", "the user id (the token's sub)")
    .option("--ttl <seconds>", "lifetime in seconds", "3600")
    .addHelpText(
      "after",
      '\nExample:\n  $ AUTH_SECRET=... wallet token --user 1 --ttl 600\n  $ curl -H "Authorization: Bearer $(wallet token --user 1)" localhost:8080/api/wallet/balance/v1',
    )
    .action(async (opts: { user?: string; ttl: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (opts.user === undefined) throw new UsageError("missing --user");
      const user = parseIntArg(opts.user, "--user");
      const ttl = parseIntArg(opts.ttl, "--ttl");
      const secret = process.env.AUTH_SECRET ?? "";
      if (secret.length < MIN_SECRET_LENGTH)
        throw new UsageError(`AUTH_SECRET must be set, at least ${MIN_SECRET_LENGTH} characters`);
      const token = await signToken(secret, user, ttl);
      out.result({ token, user_id: user, expires_at: new Date(Date.now() + ttl * 1000).toISOString() }, () => token);
    });
}
