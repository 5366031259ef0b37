import type { Command } from "commander";
import chalk from "chalk";
import { escapeText } from "../../core/freeText.js";
import { pruneEvents } from "../../core/store/events.js";
import type { WalletEvent } from "../../core/events/format.js";
import { need, parseIntArg } from "../args.js";
import { loadConfig } from "../../core/config.js";
import { openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput, money, when } from "../output.js";
import { withClient } from "../target.js";

function line(e: WalletEvent): string {
  const d = e.data;
  const extra = [
    d.counterparty_user_id ? `with ${d.counterparty_user_id}` : "",
    d.hold_id ? `hold ${d.hold_id}` : "",
    d.reverses ? `reverses ${d.reverses}` : "",
    d.reason ? `"${escapeText(d.reason)}"` : "",
  ].filter(Boolean);
  return `${String(e.sequence).padStart(6)}  ${when(e.occurred_at)}  ${chalk.cyan(e.type.padEnd(15))} ${money(d.amount, d.currency)}  balance ${d.balance_after}  available ${d.available_balance_after}${extra.length ? "  " + extra.join("  ") : ""}`;
}

export function registerEvents(program: Command): void {
  const events = program
    .command("events")
    .description("A wallet's events, oldest first (--follow: then as they happen)")
    .option("-u, --user <id>", "the wallet's user id")
    .option("--after <n>", "events after this sequence", "0")
    .option("--follow", "keep printing new events as they happen (Ctrl-C to stop)")
    .addHelpText(
      "after",
      "\nFrom the database, or with --api <url> from a live server (long polls).\n\n" +
        "Examples:\n  $ wallet events --user 1\n  $ wallet events --user 1 --after 40 --follow --json",
    )
    .action(async (opts: { user?: string; after: string; follow?: boolean }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      let after = opts.after === "0" ? 0 : parseIntArg(opts.after, "--after");
      let stop = false;
      process.once("SIGINT", () => (stop = true));
      await withClient(cmd, async (client) => {
        for (;;) {
          const page = await client.events(user, { after, limit: 500, waitSeconds: opts.follow ? 10 : 0 });
          if (!opts.follow) {
            out.result(page, () =>
              page.events.length ? page.events.map(line).join("\n") : `wallet ${user}: no events`,
            );
            if (page.events.length < 500) return;
          } else {
            // one JSON document per event when following
            for (const e of page.events) process.stdout.write((out.json ? JSON.stringify(e) : line(e)) + "\n");
          }
          after = page.next_after;
          if (stop) return;
        }
      });
    });

  events
    .command("prune")
    .description(
      "Delete published events older than N days that are not ledger entries (holds, freezes, failed transfers)",
    )
    .requiredOption("--older-than <days>", "age in days")
    .addHelpText(
      "after",
      "\nLedger entries (deposits, withdrawals, transfers, reversals, adjustments) are the ledger: never pruned.\n\n" +
        "Example:\n  $ wallet events prune --older-than 90",
    )
    .action(async (opts: { olderThan: string }, cmd: Command) => {
      if (globals(cmd).api) throw new UsageError("events prune needs the database, not --api");
      const out = createOutput(globals(cmd).json);
      const days = opts.olderThan === "0" ? 0 : parseIntArg(opts.olderThan, "--older-than");
      const core = await openDirect(loadConfig());
      try {
        const n = await pruneEvents(core.ctx.db, new Date(Date.now() - days * 86_400_000));
        out.result({ pruned: n }, () => `${chalk.green("Pruned")} ${n} published events older than ${days} days`);
      } finally {
        await core.close();
      }
    });
}
