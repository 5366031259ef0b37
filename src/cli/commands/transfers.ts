import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import { escapeText, isPrintableText, PRINTABLE_ERROR } from "../../core/freeText.js";
import { isId } from "../../core/ids.js";
import { listTransfers, retryTransfer, type TransferStatus } from "../../core/transfers.js";
import { parseIntArg } from "../args.js";
import { loadConfig } from "../../core/config.js";
import { openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { actorName } from "../operatorClient.js";
import { globals } from "../globals.js";
import { amountIn, createOutput, money } from "../output.js";
import { directOnly } from "../target.js";

/** `wallet transfers list | retry`: the async queue and its dead letters, on the database. */
export function registerTransfers(program: Command): void {
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
              chalk.dim(amountIn(t.amount, t.currency)),
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
            `${chalk.green("Re-queued")} transfer ${t.transfer_id}: ${money(t.amount, t.currency)} from wallet ${t.source_user_id} to wallet ${t.destination_user_id}`,
        );
      } finally {
        await core.close();
      }
    });
}
