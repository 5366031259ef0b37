import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import type { HoldChange, HoldStatus, HoldView } from "../../core/operations.js";
import { HOLD_MAX_SECONDS } from "../../core/operations.js";
import { isId } from "../../core/ids.js";
import { currencyOption, need, parseCurrencyArg, parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { amountIn, createOutput, money, when } from "../output.js";
import { withClient } from "../target.js";

const TARGET_HELP =
  "\nDirect mode (the database) acts as the operator: it may capture or void any hold. With --api <url>\n" +
  "(or WALLET_API_URL) it acts as the user given by --user: a hold's destination, or its payer when it has none.";

const STATUSES = ["held", "captured", "voided", "expired"];
const colour: Record<HoldStatus, (s: string) => string> = {
  held: chalk.yellow,
  captured: chalk.green,
  voided: chalk.dim,
  expired: chalk.magenta,
};

type HoldOpts = { from?: string; to?: string; expiresIn?: string; currency?: string };

function holdId(text: string): string {
  if (!isId(text)) throw new UsageError(`'${text}' is not a hold id`);
  return text;
}

function describe(h: HoldView | HoldChange): string {
  const lines = [
    `${colour[h.status](h.status.padEnd(8))} hold ${h.hold_id}: ${money(h.amount, h.currency)}  from wallet ${h.user_id}` +
      (h.destination_user_id ? ` to wallet ${h.destination_user_id}` : " (no destination)"),
    `expires   ${when(h.expires_at)}`,
  ];
  if (h.captured_amount !== null) lines.push(`captured  ${money(h.captured_amount, h.currency)}`);
  if ("balance" in h) {
    lines.push(
      `balance   ${money(h.balance, h.currency)}  (wallet ${h.user_id})`,
      `available ${money(h.available_balance, h.currency)}`,
    );
  }
  return lines.join("\n");
}

export function registerHolds(program: Command): void {
  const holdCommand = program
    .command("hold")
    .description("Reserve cents in a wallet (two-phase payment): capture or void it later")
    .argument("[amount]", "cents")
    .option("--from <id>", "the payer's user id")
    .option("--to <id>", "who may capture it and receives the money (default: none; the payer captures)")
    .option("--expires-in <seconds>", `lifetime, 1..${HOLD_MAX_SECONDS} (default 3600)`);
  currencyOption(holdCommand)
    .addHelpText(
      "after",
      `${TARGET_HELP}\n\nExamples:\n  $ wallet hold 2500 --from 1 --to 2 --expires-in 900\n  $ wallet hold 700 --from 1 --currency EUR --json`,
    )
    .action(async (amountArg: string | undefined, opts: HoldOpts, cmd) => {
      const out = createOutput(globals(cmd).json);
      const amount = await need(amountArg, "amount", "Amount in cents:", out.interactive);
      const userId = await need(opts.from, "--from", "Payer's user id:", out.interactive);
      const toUserId = opts.to === undefined ? undefined : parseIntArg(opts.to, "--to");
      const currency = parseCurrencyArg(opts.currency);
      const expiresInSeconds = opts.expiresIn === undefined ? undefined : parseIntArg(opts.expiresIn, "--expires-in");
      if (expiresInSeconds !== undefined && expiresInSeconds > HOLD_MAX_SECONDS)
        throw new UsageError(`--expires-in must be at most ${HOLD_MAX_SECONDS}`);
      await withClient(cmd, async (client) => {
        const h = await client.placeHold({ userId, toUserId, amount, expiresInSeconds, currency });
        out.result(h, () => `${chalk.green("Held")}\n${describe(h)}`);
      });
    });

  for (const action of ["capture", "void"] as const) {
    const command = program
      .command(action)
      .description(
        action === "capture"
          ? "Move a hold's money (all, or [amount] of it; the rest is released)"
          : "Release a hold without moving money",
      )
      .argument("<hold-id>", "the hold");
    if (action === "capture") command.argument("[amount]", "cents (default: the whole hold)");
    command
      .option("-u, --user <id>", "with --api: the user who acts (the hold's destination, or its payer)")
      .addHelpText(
        "after",
        `${TARGET_HELP}\n\nExamples:\n  $ wallet ${action} 252790531776577621${action === "capture" ? " 1500" : ""}\n` +
          `  $ wallet ${action} 252790531776577621 --user 2 --api http://localhost:8080 --json`,
      )
      .action(async (id: string, ...rest: unknown[]) => {
        const cmd = rest.at(-1) as Command;
        const opts = rest.at(-2) as { user?: string };
        const amountArg = action === "capture" ? (rest[0] as string | undefined) : undefined;
        const out = createOutput(globals(cmd).json);
        const holdIdArg = holdId(id);
        const amount = amountArg === undefined ? undefined : parseIntArg(amountArg, "amount");
        const actorId = opts.user === undefined ? undefined : parseIntArg(opts.user, "--user");
        await withClient(cmd, async (client) => {
          const h =
            action === "capture"
              ? await client.captureHold({ holdId: holdIdArg, amount, actorId })
              : await client.voidHold({ holdId: holdIdArg, actorId });
          out.result(h, () => `${chalk.green(action === "capture" ? "Captured" : "Voided")}\n${describe(h)}`);
        });
      });
  }

  const holds = program.command("holds").description("List or show holds");
  holds
    .command("list")
    .description("A payer's holds, newest first")
    .option("-u, --user <id>", "the payer's user id")
    .option("--status <status>", STATUSES.join(" | "))
    .option("--page <n>", "page number", "1")
    .option("--page-size <n>", "holds per page, 1 to 100", "30")
    .addHelpText(
      "after",
      "\nExamples:\n  $ wallet holds list --user 1\n  $ wallet holds list --user 1 --status held --json",
    )
    .action(async (opts: { user?: string; status?: string; page: string; pageSize: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      if (opts.status !== undefined && !STATUSES.includes(opts.status))
        throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
      const page = parseIntArg(opts.page, "--page");
      const pageSize = parseIntArg(opts.pageSize, "--page-size");
      if (pageSize > 100) throw new UsageError("--page-size must be at most 100");
      await withClient(cmd, async (client) => {
        const r = await client.listHolds(user, { status: opts.status as HoldStatus | undefined, page, pageSize });
        out.result(r, () => {
          if (r.holds.length === 0) return `wallet ${user}: no holds${page > 1 ? ` on page ${page}` : ""}`;
          const table = new Table({
            head: ["hold", "status", "amount", "", "captured", "to", "expires", "created"],
            style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] },
          });
          for (const h of r.holds) {
            table.push([
              h.hold_id,
              colour[h.status](h.status),
              h.amount,
              chalk.dim(amountIn(h.amount, h.currency)),
              h.captured_amount ?? "",
              h.destination_user_id ?? "",
              when(h.expires_at),
              when(h.created_at),
            ]);
          }
          return `${table.toString()}\npage ${r.page}, ${r.holds.length} holds${r.has_more ? `; more: --page ${r.page + 1}` : ""}`;
        });
      });
    });
  holds
    .command("show")
    .description("One hold")
    .argument("<hold-id>", "the hold")
    .option("-u, --user <id>", "with --api: who reads it (its payer or destination)")
    .addHelpText("after", "\nExample:\n  $ wallet holds show 252790531776577621")
    .action(async (id: string, opts: { user?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const holdIdArg = holdId(id);
      const viewerId = opts.user === undefined ? undefined : parseIntArg(opts.user, "--user");
      await withClient(cmd, async (client) => {
        const h = await client.getHold({ holdId: holdIdArg, viewerId });
        out.result(h, () => describe(h));
      });
    });
}
