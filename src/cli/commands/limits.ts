/**
 * Limits and credit lines: `wallet tiers set|list` and `wallet tier` (the operator's
 * tiers), `wallet credit-limit` (a wallet's credit line) and `wallet limits` (where a
 * user stands).
 */
import type { Command } from "commander";
import Table from "cli-table3";
import { isPrintableText, PRINTABLE_ERROR } from "../../core/freeText.js";
import { LIMIT_NAMES, type CurrencyLimits, type LimitedInspectView } from "../../core/limits.js";
import { currencyOption, need, parseCurrencyArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { amountIn, createOutput, money, when } from "../output.js";
import { withClient, withOperator } from "../target.js";

const OPERATOR_HELP =
  "\nAn operator's command: direct mode records --actor (else your OS user name); with --api <url> it uses the\n" +
  "admin API with WALLET_ADMIN_TOKEN and --actor as X-Actor. Every change is written to the audit log.";

/** --daily-debit-amount and its kin: the option's name is the limit's, with dashes. */
const optionOf = (name: string) => name.replace(/_/g, "-");
const camelOf = (name: string) => name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function limitValue(value: string, name: string): number {
  if (!/^[0-9]{1,16}$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(`--${name} must be a whole number from 0 to 2^53-1 (got '${value}')`);
  }
  return Number(value);
}

function reasonOf(reason: string | undefined): string {
  if (reason === undefined || reason.trim() === "") throw new UsageError("missing --reason (why, for the audit log)");
  if (reason.length > 500) throw new UsageError("--reason must be at most 500 characters");
  if (!isPrintableText(reason)) throw new UsageError(`--reason ${PRINTABLE_ERROR}`);
  return reason;
}

function describeWallet(w: LimitedInspectView): string {
  return [
    `wallet ${w.user_id} (${w.currency})  tier ${w.tier}`,
    `balance       ${money(w.balance, w.currency)}`,
    `credit line   ${money(w.credit_limit, w.currency)}`,
    `available     ${money(w.available_balance, w.currency)}`,
  ].join("\n");
}

function limitsCell(limits: CurrencyLimits, currency: string): string {
  return LIMIT_NAMES.filter((n) => limits[n] !== undefined)
    .map((n) => `${n} ${n === "daily_debit_count" ? limits[n] : amountIn(limits[n]!, currency)}`)
    .join(", ");
}

type Acting = { user?: string; reason?: string; actor?: string; currency?: string };

export function registerLimits(program: Command): void {
  const tiers = program.command("tiers").description("Tiers: named limits per currency that users are put in");
  const set = tiers
    .command("set <name>")
    .description("Set a tier's limits in one currency (its other currencies are kept); creates the tier")
    .option("--currency <code>", "the currency these limits apply to (required)")
    .option("--actor <name>", "who acts (default: the OS user)");
  for (const n of LIMIT_NAMES) set.option(`--${optionOf(n)} <n>`, `${n.replace(/_/g, " ")} (absent: no limit)`);
  set
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExamples:\n  $ wallet tiers set verified --currency USD --daily-debit-amount 500000 --max-debit 100000\n` +
        "  $ wallet tiers set basic --currency EUR --max-balance 100000 --daily-debit-count 10\n" +
        "  $ wallet tiers set basic --currency EUR   (no limit options: the tier has no limits in EUR)",
    )
    .action(async (name: string, opts: Record<string, string | undefined>, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const limits: CurrencyLimits = {};
      for (const n of LIMIT_NAMES) {
        const v = opts[camelOf(n)];
        if (v !== undefined) limits[n] = limitValue(v, optionOf(n));
      }
      const currency = parseCurrencyArg(opts.currency);
      if (currency === undefined) throw new UsageError("missing --currency (the currency these limits apply to)");
      await withOperator(cmd, opts.actor, async (c) => {
        const current = (await c.tiers()).tiers.find((t) => t.name === name)?.limits ?? {};
        const r = await c.defineTier(name, { ...current, [currency]: limits });
        out.result(r, () => `tier ${r.name}\n${tierTable([r], out.color)}`);
      });
    });

  tiers
    .command("list")
    .description("Every tier and its limits")
    .option("--actor <name>", "who asks (admin API: X-Actor)")
    .addHelpText("after", `${OPERATOR_HELP}\n\nExample:\n  $ wallet tiers list --json`)
    .action(async (opts: { actor?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withOperator(cmd, opts.actor, async (c) => {
        const r = await c.tiers();
        out.result(r, () => tierTable(r.tiers, out.color));
      });
    });

  const tier = program
    .command("tier <name>")
    .description("Put a user in a tier (every user is in 'default' until then)")
    .option("-u, --user <id>", "the user id")
    .option("--reason <text>", "why (required; recorded in the audit log)")
    .option("--actor <name>", "who acts (default: the OS user)");
  currencyOption(tier)
    .addHelpText("after", `${OPERATOR_HELP}\n\nExample:\n  $ wallet tier verified --user 42 --reason "KYC passed"`)
    .action(async (name: string, opts: Acting, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const reason = reasonOf(opts.reason);
      const currency = parseCurrencyArg(opts.currency);
      await withOperator(cmd, opts.actor, async (c) => {
        const w = await c.assignTier(user, name, reason, currency);
        out.result(w, () => describeWallet(w));
      });
    });

  const credit = program
    .command("credit-limit <amount>")
    .description("Set a wallet's credit line: its balance may go down to -amount (0 removes it)")
    .option("-u, --user <id>", "the user id")
    .option("--reason <text>", "why (required; recorded in the audit log)")
    .option("--actor <name>", "who acts (default: the OS user)");
  currencyOption(credit)
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\n\nExample:\n  $ wallet credit-limit 50000 --user 42 --currency USD --reason "business account"`,
    )
    .action(async (amount: string, opts: Acting, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const limit = limitValue(amount, "credit-limit amount");
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const reason = reasonOf(opts.reason);
      const currency = parseCurrencyArg(opts.currency);
      await withOperator(cmd, opts.actor, async (c) => {
        const w = await c.creditLimit(user, limit, reason, currency);
        out.result(w, () => describeWallet(w));
      });
    });

  const limits = program
    .command("limits")
    .description("Where a user stands: tier, credit line, and per limit what is used and what remains")
    .option("-u, --user <id>", "the user id");
  currencyOption(limits)
    .addHelpText(
      "after",
      "\nRuns against a live server with --api <url> (or WALLET_API_URL), otherwise directly on the database." +
        "\n\nExamples:\n  $ wallet limits --user 42\n  $ wallet limits --user 42 --currency EUR --json",
    )
    .action(async (opts: Acting, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const currency = parseCurrencyArg(opts.currency);
      await withClient(cmd, async (client) => {
        const r = await client.limits(user, currency);
        out.result(r, () => {
          const head = `wallet ${user} (${r.currency})  tier ${r.tier}  credit line ${money(r.credit_limit, r.currency)}`;
          if (r.limits.length === 0) return `${head}\nno limits`;
          const t = new Table({ head: ["limit", "limit", "used", "remaining", "resets"] });
          for (const l of r.limits) {
            const fmt = (n: number) => (l.name === "daily_debit_count" ? String(n) : amountIn(n, r.currency));
            t.push([l.name, fmt(l.limit), fmt(l.used), fmt(l.remaining), l.resets_at ? when(l.resets_at) : "-"]);
          }
          return `${head}\n${t.toString()}`;
        });
      });
    });
}

function tierTable(tiers: Array<{ name: string; limits: Record<string, CurrencyLimits> }>, color: boolean): string {
  const t = new Table({ head: ["tier", "currency", "limits"], style: { head: color ? ["cyan"] : [] } });
  for (const tier of tiers) {
    const codes = Object.keys(tier.limits);
    if (codes.length === 0) t.push([tier.name, "-", "none"]);
    for (const code of codes) t.push([tier.name, code, limitsCell(tier.limits[code]!, code)]);
  }
  return t.toString();
}
