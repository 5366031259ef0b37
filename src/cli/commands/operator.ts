import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import { escapeText, isPrintableText, PRINTABLE_ERROR } from "../../core/freeText.js";
import { isId } from "../../core/ids.js";
import { MAX_CENTS } from "../../core/money.js";
import type { InspectView } from "../../core/operator.js";
import { confirmOrAbort, currencyOption, need, parseCurrencyArg, parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput, money, when, type Output } from "../output.js";
import type { OperatorClient } from "../operatorClient.js";
import { parseTags, tagOptions, type TagOpts } from "../tags.js";
import { withOperator } from "../target.js";

const OPERATOR_HELP =
  "\nDirect mode (the database) records the actor given by --actor, else your OS user name. With --api <url>\n" +
  "(or WALLET_API_URL) it uses the admin API with WALLET_ADMIN_TOKEN, and --actor (or the OS user) as X-Actor.\n" +
  "Every action is written to the audit log (wallet audit).";

type ActOpts = { user?: string; reason?: string; actor?: string; yes?: boolean; currency?: string };

function reasonOf(reason: string | undefined): string {
  if (reason === undefined || reason.trim() === "") throw new UsageError("missing --reason (why, for the audit log)");
  if (reason.length > 500) throw new UsageError("--reason must be at most 500 characters");
  if (!isPrintableText(reason)) throw new UsageError(`--reason ${PRINTABLE_ERROR}`);
  return reason;
}

/** --reason, --actor and --yes: what every operator action takes. */
function withActionOptions(c: Command): Command {
  return c
    .option("--reason <text>", "why (required; recorded in the audit log)")
    .option("--actor <name>", "who acts (default: the OS user)")
    .option("-y, --yes", "do not ask for confirmation");
}

/** Asks first (when there is a question and no --yes), acts through the operator's client, prints. */
async function confirmThenAct<T>(
  { out, cmd, opts }: { out: Output; cmd: Command; opts: ActOpts },
  question: string | undefined,
  act: (c: OperatorClient) => Promise<T>,
  human: (r: T) => string,
): Promise<void> {
  if (question !== undefined) await confirmOrAbort(question, opts.yes, out.interactive);
  await withOperator(cmd, opts.actor, async (c) => {
    const r = await act(c);
    out.result(r, () => human(r));
  });
}

/** The answer's currency, where it carries one. */
function currencyOf(r: object): string | undefined {
  return "currency" in r && typeof r.currency === "string" ? r.currency : undefined;
}

function describeWallet(w: InspectView): string {
  return [
    `wallet ${w.user_id} (${w.currency})${w.frozen ? `  ${chalk.red("FROZEN")}: ${escapeText(w.frozen_reason ?? "")}` : ""}`,
    `balance            ${money(w.balance, w.currency)}`,
    `available          ${money(w.available_balance, w.currency)}`,
    `active holds       ${w.active_holds}`,
    `pending transfers  ${w.pending_transfers}`,
    `opened             ${when(w.created_at)}`,
  ].join("\n");
}

export function registerOperator(program: Command): void {
  const inspectCommand = program
    .command("inspect")
    .description("A wallet as an operator sees it: balances, freeze, active holds, pending transfers")
    .option("-u, --user <id>", "the wallet's user id")
    .option("--actor <name>", "who asks (admin API: X-Actor)");
  currencyOption(inspectCommand)
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExamples:\n  $ wallet inspect --user 42\n  $ wallet inspect --user 42 --currency EUR`,
    )
    .action(async (opts: ActOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const currency = parseCurrencyArg(opts.currency);
      await withOperator(cmd, opts.actor, async (c) => {
        const w = await c.inspect(user, currency);
        out.result(w, () => describeWallet(w));
      });
    });

  for (const action of ["freeze", "unfreeze"] as const) {
    const command = program
      .command(action)
      .description(
        action === "freeze"
          ? "Freeze a wallet: every debit is refused (wallet_frozen); credits still arrive"
          : "Unfreeze a wallet",
      )
      .option("-u, --user <id>", "the wallet's user id");
    withActionOptions(command)
      .addHelpText(
        "after",
        `${OPERATOR_HELP}\n\nExample:\n  $ wallet ${action} --user 42 --reason "chargeback investigation #311"`,
      )
      .action(async (opts: ActOpts, cmd: Command) => {
        const out = createOutput(globals(cmd).json);
        const user = await need(opts.user, "--user", "User id:", out.interactive);
        const reason = reasonOf(opts.reason);
        await confirmThenAct(
          { out, cmd, opts },
          action === "freeze" ? `Freeze wallet ${user}?` : undefined,
          (c) => (action === "freeze" ? c.freeze(user, reason) : c.unfreeze(user, reason)),
          (w) => `${chalk.green(action === "freeze" ? "Frozen" : "Unfrozen")}\n${describeWallet(w)}`,
        );
      });
  }

  withActionOptions(
    tagOptions(
      program
        .command("reverse")
        .description("Reverse a completed deposit, withdrawal or transfer (or a hold's capture), whole or in part")
        .argument("<id>", "the transaction id (deposit, withdrawal) or transfer id")
        .option("--amount <cents>", "how much (default: all that is not reversed yet)"),
    ),
  )
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExamples:\n  $ wallet reverse 252790531776577621 --reason "paid the wrong wallet"\n` +
        `  $ wallet reverse 252790531776577621 --amount 500 --reason "partial refund" --yes --json`,
    )
    .action(async (id: string, opts: ActOpts & TagOpts & { amount?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (!isId(id)) throw new UsageError(`'${id}' is not a transaction or transfer id`);
      const amount = opts.amount === undefined ? undefined : parseIntArg(opts.amount, "--amount");
      const reason = reasonOf(opts.reason);
      const tags = parseTags(opts);
      await confirmThenAct(
        { out, cmd, opts },
        `Reverse ${amount === undefined ? "what remains of" : `${amount} cents of`} ${id}?`,
        (c) => c.reverse(id, reason, amount, tags),
        (r) =>
          `${chalk.green("Reversed")} ${money(r.amount, currencyOf(r))} of ${r.kind} ${r.reverses}` +
          `${r.from_user_id ? ` from wallet ${r.from_user_id}` : ""}${r.to_user_id ? ` to wallet ${r.to_user_id}` : ""}\n` +
          `reversal  ${r.reversal_id}\nremaining ${money(r.remaining, currencyOf(r))}`,
      );
    });

  withActionOptions(
    currencyOption(
      tagOptions(
        program
          .command("adjust")
          .description("Credit (positive) or debit (negative) a wallet, with a reason")
          .argument("[amount]", "signed minor units: 250 credits, -250 debits")
          .option("-u, --user <id>", "the wallet's user id"),
      ),
    ),
  )
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExamples:\n  $ wallet adjust -250 --user 42 --reason "duplicate fee"\n  $ wallet adjust 1000 --user 42 --reason "goodwill credit" --yes`,
    )
    .action(async (amountArg: string | undefined, opts: ActOpts & TagOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (amountArg === undefined) throw new UsageError("missing amount (signed cents)");
      if (!/^-?[0-9]+$/.test(amountArg) || Number(amountArg) === 0 || Math.abs(Number(amountArg)) > MAX_CENTS)
        throw new UsageError(`amount must be a non-zero whole number of cents (got '${amountArg}')`);
      const amount = Number(amountArg);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const reason = reasonOf(opts.reason);
      const currency = parseCurrencyArg(opts.currency);
      const tags = parseTags(opts);
      const unit = currency === undefined ? "cents" : `${currency} minor units`;
      await confirmThenAct(
        { out, cmd, opts },
        `${amount > 0 ? "Credit" : "Debit"} ${Math.abs(amount)} ${unit} ${amount > 0 ? "to" : "from"} wallet ${user}?`,
        (c) => c.adjust(user, amount, reason, currency, tags),
        (r) =>
          `${chalk.green("Adjusted")} wallet ${user} by ${amount}\ntransaction ${r.transaction_id}\n` +
          `balance   ${money(r.balance, currencyOf(r) ?? currency)}`,
      );
    });

  program
    .command("audit")
    .description("The audit log, oldest first")
    .option("--after <id>", "entries after this one (the previous page's next_after)")
    .option("--limit <n>", "how many, 1 to 1000", "100")
    .option("--actor <name>", "who asks (admin API: X-Actor)")
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExamples:\n  $ wallet audit\n  $ wallet audit --after 252790531776577621 --limit 50 --json`,
    )
    .action(async (opts: { after?: string; limit: string; actor?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (opts.after !== undefined && !isId(opts.after)) throw new UsageError("--after must be an audit entry id");
      const limit = parseIntArg(opts.limit, "--limit");
      if (limit > 1000) throw new UsageError("--limit must be at most 1000");
      await withOperator(cmd, opts.actor, async (c) => {
        const page = await c.audit(opts.after ?? null, limit);
        out.result(page, () => {
          if (page.entries.length === 0) return "no audit entries";
          const table = new Table({
            head: ["id", "at", "actor", "action", "target", "reason", "details"],
            style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] },
          });
          for (const e of page.entries) {
            // stored text is shown escaped: a newline or an escape sequence draws nothing
            const cells = [e.actor, e.action, e.target, e.reason ?? "", JSON.stringify(e.details)].map(escapeText);
            table.push([e.id, when(e.at), ...cells]);
          }
          return `${table.toString()}${page.next_after ? `\nmore: --after ${page.next_after}` : ""}`;
        });
      });
    });
}
