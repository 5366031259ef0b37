import fs from "node:fs";
import type { Command } from "commander";
import { currencyOption, need, parseCurrencyArg, parseInstantArg } from "../args.js";
import { toCsv } from "../csv.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput, money, when } from "../output.js";
import { withClient } from "../target.js";

type StatementOpts = { user?: string; from?: string; to?: string; csv?: boolean; out?: string; currency?: string };

/** `wallet statement`: a user's statement for a period, as a summary, JSON or RFC 4180 CSV. */
export function registerStatement(program: Command): void {
  const command = program
    .command("statement")
    .description("A wallet's statement for [from, to): opening and closing balances, totals, entries")
    .option("-u, --user <id>", "the wallet's user id")
    .option("--from <date>", "ISO 8601 date or instant (inclusive)")
    .option("--to <date>", "ISO 8601 date or instant (exclusive)")
    .option("--csv", "the entries as RFC 4180 CSV")
    .option("--out <file>", "write to this file instead of stdout");
  currencyOption(command)
    .addHelpText(
      "after",
      "\nExamples:\n  $ wallet statement --user 42 --from 2026-11-01 --to 2026-12-01\n  $ wallet statement --user 42 --from 2026-11-01 --to 2026-12-01 --csv --out nov.csv",
    )
    .action(async (opts: StatementOpts, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      if (!opts.from || !opts.to) throw new UsageError("missing --from or --to");
      const from = parseInstantArg(opts.from, "--from");
      const to = parseInstantArg(opts.to, "--to");
      const currency = parseCurrencyArg(opts.currency);
      await withClient(cmd, async (client) => {
        const st = await client.statement(user, from, to, currency);
        let text: string;
        if (opts.csv) {
          text = toCsv(
            [
              "id",
              "created_at",
              "type",
              "direction",
              "amount",
              "currency",
              "balance_after",
              "counterparty_user_id",
              "transfer_id",
              "hold_id",
              "reverses",
              "exchange_id",
            ],
            st.entries.map((e) => [
              e.id,
              e.created_at,
              e.type,
              e.direction,
              e.amount,
              e.currency,
              e.balance_after,
              e.counterparty_user_id,
              e.transfer_id,
              e.hold_id,
              e.reverses,
              e.exchange_id,
            ]),
          );
        } else if (out.json) {
          text = JSON.stringify(st) + "\n";
        } else {
          text =
            `wallet ${user} (${st.currency}), ${when(st.from)} to ${when(st.to)}\n` +
            `opening  ${money(st.opening_balance, st.currency)}\nin       ${money(st.total_in, st.currency)}\n` +
            `out      ${money(st.total_out, st.currency)}\nclosing  ${money(st.closing_balance, st.currency)}\n` +
            `${st.entries.length} entries\n`;
        }
        if (opts.out) {
          fs.writeFileSync(opts.out, text);
          out.info(`written ${opts.out}: ${st.entries.length} entries, closing balance ${st.closing_balance}`);
        } else {
          process.stdout.write(text);
        }
      });
    });
}
