import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import ora from "ora";
import { BAD_CURSOR, decodeCursor, ENTRY_TYPES, type EntryType, type EntryTypeFilter } from "../../core/history.js";
import { escapeText } from "../../core/freeText.js";
import { confirmOrAbort, currencyOption, need, parseCurrencyArg, parseInstantArg, parseIntArg } from "../args.js";
import type { TransferStatusView } from "../client.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { amountIn, createOutput, money, when } from "../output.js";
import { parseTags, tagOptions, type TagOpts } from "../tags.js";
import { withClient } from "../target.js";

const TARGET_HELP =
  "\nRuns against a live server with --api <url> (or WALLET_API_URL), otherwise directly on the database\n(DATABASE_URL, or the embedded one in WALLET_DATA_DIR).";

type UserOpts = { user?: string; currency?: string };

export function registerMoney(program: Command): void {
  for (const kind of ["deposit", "withdraw"] as const) {
    const command = program
      .command(kind)
      .description(kind === "deposit" ? "Add cents to a wallet" : "Take cents from a wallet")
      .argument("[amount]", "minor units of the currency (1170 USD is $11.70, 500 JPY is 500 yen)")
      .option("-u, --user <id>", "the wallet's user id");
    currencyOption(tagOptions(command))
      .addHelpText(
        "after",
        `${TARGET_HELP}\n\nExamples:\n  $ wallet ${kind} 1170 --user 1\n  $ wallet ${kind} 500 --user 1 --currency JPY\n  $ wallet ${kind} 500 --user 1 --api http://localhost:8080 --json`,
      )
      .action(async (amountArg: string | undefined, opts: UserOpts & TagOpts, cmd: Command) => {
        const out = createOutput(globals(cmd).json);
        const amount = await need(amountArg, "amount", "Amount in cents:", out.interactive);
        const user = await need(opts.user, "--user", "User id:", out.interactive);
        const currency = parseCurrencyArg(opts.currency);
        const tags = parseTags(opts);
        await withClient(cmd, async (client) => {
          const r = await (kind === "deposit"
            ? client.deposit(user, amount, currency, tags)
            : client.withdraw(user, amount, currency, tags));
          out.result(
            r,
            () =>
              `${chalk.green(kind === "deposit" ? "Deposited" : "Withdrew")} ${money(amount, r.currency)}  ${kind === "deposit" ? "to" : "from"} wallet ${user}\nbalance   ${money(r.balance, r.currency)}`,
          );
        });
      });
  }

  const transferCommand = program
    .command("transfer")
    .description("Move cents from one wallet to another (synchronously, or --async through the queue)")
    .argument("[amount]", "cents")
    .option("--from <id>", "the sender's user id")
    .option("--to <id>", "the receiver's user id")
    .option("--async", "use the durable queue (transfer v2) and wait for the outcome")
    .option("--no-wait", "with --async: print the acceptance and return at once")
    .option("-y, --yes", "do not ask for confirmation");
  currencyOption(tagOptions(transferCommand))
    .addHelpText(
      "after",
      `${TARGET_HELP}\n\nExamples:\n  $ wallet transfer 1003 --from 1 --to 2 --yes\n  $ wallet transfer 500 --from 1 --to 2 --async --json`,
    )
    .action(
      async (
        amountArg: string | undefined,
        opts: TagOpts & {
          from?: string;
          to?: string;
          async?: boolean;
          wait: boolean;
          yes?: boolean;
          currency?: string;
        },
        cmd: Command,
      ) => {
        const out = createOutput(globals(cmd).json);
        const amount = await need(amountArg, "amount", "Amount in cents:", out.interactive);
        const from = await need(opts.from, "--from", "From user id:", out.interactive);
        const to = await need(opts.to, "--to", "To user id:", out.interactive);
        const currency = parseCurrencyArg(opts.currency);
        const tags = parseTags(opts);
        await confirmOrAbort(
          `Transfer ${amount} ${currency === undefined ? "cents" : "minor units"} (${amountIn(amount, currency)}) from wallet ${from} to wallet ${to}?`,
          opts.yes,
          out.interactive,
        );
        await withClient(cmd, async (client) => {
          if (!opts.async) {
            const r = await client.transfer(from, to, amount, currency, tags);
            out.result(
              r,
              () =>
                `${chalk.green("Transferred")} ${money(amount, r.currency)}  from wallet ${from} to wallet ${to}\ntransfer  ${r.transfer_id}\nbalance   ${money(r.balance, r.currency)}  (wallet ${from})`,
            );
            return;
          }
          const accepted = await client.transferAsync(from, to, amount, currency, tags);
          if (!opts.wait) {
            out.result(accepted, () => `${chalk.yellow("Accepted")} transfer ${accepted.transfer_id} (pending)`);
            return;
          }
          const spinner = out.color
            ? ora({ text: `transfer ${accepted.transfer_id} pending`, stream: process.stderr }).start()
            : undefined;
          let status: TransferStatusView;
          for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
            status = await client.transferStatus(from, accepted.transfer_id);
            if (status.status !== "pending" || status.dead_lettered) break;
            await new Promise((r) => setTimeout(r, delay));
          }
          spinner?.stop();
          out.result(status, () => describeTransfer(status));
          if (status.status === "failed") process.exitCode = 1;
        });
      },
    );

  const balanceCommand = program
    .command("balance")
    .description("Show a wallet's balance and available balance (now, or --at a past instant)")
    .option("-u, --user <id>", "the wallet's user id")
    .option("--at <instant>", "ISO 8601: the balance as it was then");
  currencyOption(balanceCommand)
    .addHelpText(
      "after",
      `${TARGET_HELP}\n\nExamples:\n  $ wallet balance --user 1\n  $ wallet balance --user 1 --currency EUR\n  $ wallet balance --user 1 --at 2026-11-01T00:00:00Z\n(every currency at once: wallet balances --user 1)`,
    )
    .action(async (opts: UserOpts & { at?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const at = opts.at === undefined ? undefined : parseInstantArg(opts.at, "--at");
      const currency = parseCurrencyArg(opts.currency);
      await withClient(cmd, async (client) => {
        const r = at ? await client.balanceAt(user, at, currency) : await client.balance(user, currency);
        out.result(
          r,
          () =>
            `wallet ${user}  ${money(r.balance, r.currency)}` +
            (at ? `  at ${when(at.toISOString())}` : "") +
            (r.available_balance === r.balance
              ? ""
              : `\navailable  ${money(r.available_balance, r.currency)}  (the rest is held)`),
        );
      });
    });

  const historyCommand = program
    .command("history")
    .description("List a wallet's ledger entries, newest first")
    .option("-u, --user <id>", "the wallet's user id")
    .option(
      "--type <type>",
      "0 all, 1 deposit, 2 withdraw, 3 transfer, 4 reversal, 5 adjustment, 6 exchange (or the name)",
      "0",
    )
    .option("--page <n>", "page number (offset paging)", "1")
    .option("--page-size <n>", "entries per page, 1 to 100", "30")
    .option("--cursor <cursor>", "start below the last entry of an earlier page: the next cursor it printed")
    .option("--reference <text>", "only the entries with this reference (every currency unless --currency)");
  currencyOption(historyCommand)
    .addHelpText(
      "after",
      `${TARGET_HELP}\n\nA cursor walks the whole history once, in order, while new entries arrive; a page number\nshifts when they do. Examples:\n  $ wallet history --user 1\n  $ wallet history --user 1 --type transfer --page 2 --page-size 50 --json\n  $ wallet history --user 1 --cursor 4711`,
    )
    .action(
      async (
        opts: UserOpts & { type: string; page: string; pageSize: string; cursor?: string; reference?: string },
        cmd: Command,
      ) => {
        const out = createOutput(globals(cmd).json);
        const user = await need(opts.user, "--user", "User id:", out.interactive);
        const currency = parseCurrencyArg(opts.currency);
        const type = historyType(opts.type);
        const page = parseIntArg(opts.page, "--page");
        const pageSize = parseIntArg(opts.pageSize, "--page-size");
        if (pageSize > 100) throw new UsageError("--page-size must be at most 100");
        const cursor = opts.cursor;
        if (cursor !== undefined && decodeCursor(cursor) === null)
          throw new UsageError(`--${BAD_CURSOR} (got '${cursor}')`);
        if (cursor !== undefined && page > 1)
          throw new UsageError("--cursor and --page cannot be combined: a cursor starts its own page");
        await withClient(cmd, async (client) => {
          const reference = parseTags({ reference: opts.reference })?.reference;
          const r = await client.history(user, { type, page, pageSize, cursor, currency, reference });
          out.result(r, () => {
            if (r.transactions.length === 0) {
              return `wallet ${user}: no entries${cursor ? ` below cursor ${cursor}` : page > 1 ? ` on page ${page}` : ""}`;
            }
            const table = new Table({
              head: ["id", "when", "type", "amount", "", "balance after", "counterparty"],
              style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] },
            });
            for (const t of r.transactions) {
              const signed = t.direction === "in" ? `+${t.amount}` : `-${t.amount}`;
              table.push([
                t.id,
                when(t.created_at),
                t.type,
                t.direction === "in" ? chalk.green(signed) : chalk.red(signed),
                chalk.dim(amountIn(t.amount, t.currency)),
                money(t.balance_after, t.currency),
                t.counterparty_user_id ?? "",
              ]);
            }
            const next = `--cursor ${r.next_cursor}`;
            const more = r.next_cursor === null ? "" : `; more: ${cursor ? next : `--page ${r.page + 1} or ${next}`}`;
            const where = cursor ? `below cursor ${cursor}` : `page ${r.page}`;
            return `${table.toString()}\n${where}, ${r.transactions.length} entries${more}`;
          });
        });
      },
    );
}

/** "transfer" or "3" -> 3; "all" or "0" -> 0; "exchange" or "6" -> 6. */
function historyType(text: string): EntryTypeFilter {
  if (text === "all" || text === "0") return 0;
  const byName = ENTRY_TYPES.indexOf(text as EntryType);
  const n = byName >= 0 ? byName + 1 : /^[1-6]$/.test(text) ? Number(text) : -1;
  if (n < 0) throw new UsageError(`--type must be 0-6 or all, ${ENTRY_TYPES.join(", ")} (got '${text}')`);
  return n as EntryTypeFilter;
}

function describeTransfer(t: TransferStatusView): string {
  const head = `transfer ${t.transfer_id}: ${money(t.amount, t.currency)}  from wallet ${t.source_user_id} to wallet ${t.destination_user_id}`;
  if (t.status === "completed") return `${chalk.green("Completed")} ${head}`;
  if (t.status === "failed") return `${chalk.red("Failed")} ${head}\nreason    ${escapeText(t.failure_reason ?? "")}`;
  return `${chalk.yellow(t.dead_lettered ? "Dead-lettered" : "Pending")} ${head}`;
}
