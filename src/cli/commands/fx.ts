/**
 * Currencies: `wallet balances` (every currency of a user) and `wallet fx`: the rates the
 * operator sets, a user's quote and its exchange, the platform's positions.
 */
import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import { isId } from "../../core/ids.js";
import { isPrintableText, PRINTABLE_ERROR } from "../../core/freeText.js";
import { confirmOrAbort, need, parseCurrencyArg, parseIntArg } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { amountIn, createOutput, money, when, type Output } from "../output.js";
import { withClient, withOperator } from "../target.js";

const TARGET_HELP =
  "\nRuns against a live server with --api <url> (or WALLET_API_URL), otherwise directly on the database.";
const OPERATOR_HELP =
  "\nAn operator's command: direct mode records --actor (else your OS user name); with --api <url> it uses the\n" +
  "admin API with WALLET_ADMIN_TOKEN and --actor as X-Actor. Rate changes are written to the audit log.";

/** A rate as the operator types it: a plain positive decimal (the core counts its digits). */
const RATE_SHAPE = /^[0-9]+(\.[0-9]+)?$/;

function table(out: Output, head: string[]): Table.Table {
  return new Table({ head, style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] } });
}

/** A required currency argument or option: its shape here, the rest is the server's to judge. */
function currencyArg(value: string | undefined, name: string): string {
  const code = parseCurrencyArg(value, name);
  if (code === undefined) throw new UsageError(`missing ${name}`);
  return code;
}

export function registerFx(program: Command): void {
  program
    .command("balances")
    .description("A user's balances in every currency they hold (the default currency always)")
    .option("-u, --user <id>", "the user id")
    .addHelpText(
      "after",
      `${TARGET_HELP}\n\nExamples:\n  $ wallet balances --user 1\n  $ wallet balances --user 1 --json`,
    )
    .action(async (opts: { user?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      await withClient(cmd, async (client) => {
        const r = await client.balances(user);
        out.result(r, () => {
          const t = table(out, ["currency", "balance", "available"]);
          for (const b of r.balances) {
            t.push([b.currency, amountIn(b.balance, b.currency), amountIn(b.available_balance, b.currency)]);
          }
          return `wallet ${user}\n${t.toString()}`;
        });
      });
    });

  const fx = program.command("fx").description("Exchange between currencies: rates, quotes, exchanges, positions");
  const rates = fx.command("rates").description("The exchange rates the operator sets");

  rates
    .command("set")
    .description("Set the rate of <from> -> <to>: one major unit of <from> buys <rate> major units of <to>")
    .argument("<from>", "the currency sold, such as USD")
    .argument("<to>", "the currency bought, such as EUR")
    .argument("<rate>", "a decimal above 0, at most 12 significant digits, such as 0.9215")
    .option("--reason <text>", "why (recorded in the audit log)")
    .option("--actor <name>", "who acts (default: the OS user)")
    .option("-y, --yes", "do not ask for confirmation")
    .addHelpText(
      "after",
      `${OPERATOR_HELP}\nThe reverse direction is a rate of its own. Examples:\n  $ wallet fx rates set USD EUR 0.9215 --reason "daily fixing"\n  $ wallet fx rates set EUR USD 1.0852 --yes --json`,
    )
    .action(
      async (
        fromArg: string,
        toArg: string,
        rate: string,
        opts: { reason?: string; actor?: string; yes?: boolean },
        cmd: Command,
      ) => {
        const out = createOutput(globals(cmd).json);
        const from = currencyArg(fromArg, "<from>");
        const to = currencyArg(toArg, "<to>");
        if (from === to) throw new UsageError("<from> and <to> must be two different currencies");
        if (!RATE_SHAPE.test(rate))
          throw new UsageError(`<rate> must be a decimal number such as 0.9215 (got '${rate}')`);
        const reason = opts.reason;
        if (reason !== undefined) {
          if (reason.length > 500) throw new UsageError("--reason must be at most 500 characters");
          if (!isPrintableText(reason)) throw new UsageError(`--reason ${PRINTABLE_ERROR}`);
        }
        await confirmOrAbort(`Set the rate ${from} -> ${to} to ${rate}?`, opts.yes, out.interactive);
        await withOperator(cmd, opts.actor, async (c) => {
          const r = await c.setRate(from, to, rate, reason);
          out.result(r, () => `${chalk.green("Rate set")}  1 ${r.from} = ${r.rate} ${r.to}  (${when(r.updated_at)})`);
        });
      },
    );

  rates
    .command("list")
    .description("Every rate set, with when it was set")
    .option("-u, --user <id>", "with --api: who asks (default: no credentials)")
    .addHelpText("after", `${TARGET_HELP}\n\nExamples:\n  $ wallet fx rates list\n  $ wallet fx rates list --json`)
    .action(async (opts: { user?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const viewer = opts.user === undefined ? undefined : parseIntArg(opts.user, "--user");
      await withClient(cmd, async (client) => {
        const r = await client.fxRates(viewer);
        out.result(r, () => {
          if (r.rates.length === 0) return "no rates set";
          const t = table(out, ["from", "to", "rate", "updated"]);
          for (const x of r.rates) t.push([x.from, x.to, x.rate, when(x.updated_at)]);
          return t.toString();
        });
      });
    });

  fx.command("quote")
    .description("A quote: <amount> minor units of --from-currency in --to-currency, at the rate now")
    .argument("[amount]", "minor units of --from-currency (1000 USD is $10.00)")
    .option("-u, --user <id>", "the user asking (the quote is theirs)")
    .option("--from-currency <code>", "the currency sold")
    .option("--to-currency <code>", "the currency bought")
    .addHelpText(
      "after",
      `${TARGET_HELP}\nA quote holds its rate for FX_QUOTE_TTL_S seconds; execute it with wallet fx exchange. Example:\n` +
        "  $ wallet fx quote 1000 --from-currency USD --to-currency EUR --user 1",
    )
    .action(
      async (
        amountArg: string | undefined,
        opts: { user?: string; fromCurrency?: string; toCurrency?: string },
        cmd: Command,
      ) => {
        const out = createOutput(globals(cmd).json);
        const amount = await need(amountArg, "amount", "Amount in minor units:", out.interactive);
        const user = await need(opts.user, "--user", "User id:", out.interactive);
        const from = currencyArg(opts.fromCurrency, "--from-currency");
        const to = currencyArg(opts.toCurrency, "--to-currency");
        if (from === to) throw new UsageError("--from-currency and --to-currency must differ");
        await withClient(cmd, async (client) => {
          const q = await client.createQuote({ userId: user, from, to, amount });
          out.result(
            q,
            () =>
              `${chalk.green("Quote")} ${q.quote_id}\n` +
              `${money(q.amount, q.from_currency)}  ->  ${money(q.converted_amount, q.to_currency)}  at ${q.rate}\n` +
              `expires   ${when(q.expires_at)}  (wallet fx exchange ${q.quote_id} --user ${user})`,
          );
        });
      },
    );

  fx.command("exchange")
    .description("Execute a quote: its amount leaves the --from-currency wallet, the converted amount arrives")
    .argument("<quote-id>", "the quote (from wallet fx quote)")
    .option("-u, --user <id>", "the user whose quote it is")
    .addHelpText("after", `${TARGET_HELP}\n\nExample:\n  $ wallet fx exchange 252790531776577621 --user 1`)
    .action(async (quoteId: string, opts: { user?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      if (!isId(quoteId)) throw new UsageError(`'${quoteId}' is not a quote id`);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      await withClient(cmd, async (client) => {
        const e = await client.exchange(user, quoteId);
        out.result(e, () => {
          const after = Object.entries(e.balances).map(([code, b]) => amountIn(b, code));
          return (
            `${chalk.green("Exchanged")} ${amountIn(e.amount, e.from_currency)} -> ${amountIn(e.converted_amount, e.to_currency)} at ${e.rate}\n` +
            `exchange  ${e.exchange_id}\nbalances  ${after.join("   ")}`
          );
        });
      });
    });

  fx.command("positions")
    .description("The platform's position in each currency it has exchanged (the other side of every exchange)")
    .option("--actor <name>", "who asks (admin API: X-Actor)")
    .addHelpText("after", `${OPERATOR_HELP}\n\nExample:\n  $ wallet fx positions --json`)
    .action(async (opts: { actor?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      await withOperator(cmd, opts.actor, async (c) => {
        const r = await c.positions();
        out.result(r, () => {
          if (r.positions.length === 0) return "no positions: nothing exchanged yet";
          const t = table(out, ["currency", "position", ""]);
          for (const p of r.positions) t.push([p.currency, p.position, amountIn(p.position, p.currency)]);
          return t.toString();
        });
      });
    });
}
