import type { Command } from "commander";
import chalk from "chalk";
import { migrateLatest, migrateRollback, migrationStatus } from "../../core/migrate.js";
import { verifyLedger } from "../../core/verify.js";
import { loadConfig } from "../../core/config.js";
import { openDirect } from "../context.js";
import { UsageError } from "../errors.js";
import { createOutput } from "../output.js";
import { globals } from "../globals.js";

export function registerAdmin(program: Command): void {
  program
    .command("migrate")
    .description("Bring the database schema up to date, undo the last migration, or show where it stands")
    .argument("[action]", "latest | rollback | status", "latest")
    .addHelpText("after", "\nExamples:\n  $ wallet migrate\n  $ wallet migrate status --json")
    .action(async (action: string, _opts: unknown, cmd: Command) => {
      if (!["latest", "rollback", "status"].includes(action)) {
        throw new UsageError(`unknown migrate action '${action}': use latest, rollback or status`);
      }
      const out = createOutput(globals(cmd).json);
      const core = await openDirect({ ...loadConfig(), migrate: false });
      try {
        const db = core.ctx.db;
        if (action === "status") {
          const s = await migrationStatus(db);
          out.result(
            s,
            () =>
              [
                ...s.applied.map((m) => `${chalk.green("applied")}  ${m}`),
                ...s.pending.map((m) => `${chalk.yellow("pending")}  ${m}`),
              ].join("\n") || "no migrations",
          );
        } else {
          const names = action === "latest" ? await migrateLatest(db) : await migrateRollback(db);
          out.result({ action, migrations: names }, () =>
            names.length
              ? names.map((m) => `${action === "latest" ? "applied" : "rolled back"}  ${m}`).join("\n")
              : "already up to date",
          );
        }
      } finally {
        await core.close();
      }
    });

  program
    .command("verify")
    .description("Check every ledger invariant; exit status 1 on any violation")
    .addHelpText(
      "after",
      "\nChecks: each balance equals the signed sum of its entries, balances in range, every entry's\nbalance_after follows from the previous one, each completed transfer has exactly its two entries,\nmoney is conserved (balances = deposits - withdrawals).\n\nExample:\n  $ wallet verify --json",
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const core = await openDirect(loadConfig());
      try {
        const report = await verifyLedger(core.ctx);
        out.result(report, () => {
          const totals = Object.entries(report.totals)
            .map(([c, t]) => `${t} ${c}`)
            .join(", ");
          const head = `${report.wallets} wallets, ${report.entries} entries, balances ${totals || "0"} (minor units)`;
          if (report.ok) return `${chalk.green("ok")}  ${head}: every invariant holds`;
          return [
            `${chalk.red("VIOLATIONS")}  ${head}`,
            ...report.violations.map((v) => `  ${chalk.red(v.check)}  ${v.detail}`),
          ].join("\n");
        });
        if (!report.ok) process.exitCode = 1;
      } finally {
        await core.close();
      }
    });
}
