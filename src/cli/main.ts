/** The `wallet` command line. Commands parse flags, call the core or the API, and format. */
import { Command, CommanderError } from "commander";
import { ConfigError } from "../core/config.js";
import { WalletError } from "../core/errors.js";
import { registerAdmin } from "./commands/admin.js";
import { registerEvents } from "./commands/events.js";
import { registerFx } from "./commands/fx.js";
import { registerBatch } from "./commands/batch.js";
import { registerLimits } from "./commands/limits.js";
import { registerHolds } from "./commands/holds.js";
import { registerLoadtest } from "./commands/loadtest.js";
import { registerMoney } from "./commands/money.js";
import { registerOperator } from "./commands/operator.js";
import { registerStatement } from "./commands/statement.js";
import { registerSeed } from "./commands/seed.js";
import { registerServe } from "./commands/serve.js";
import { registerToken } from "./commands/token.js";
import { registerTransfers } from "./commands/transfers.js";
import { registerWebhooks } from "./commands/webhooks.js";
import { EXIT, exitCodeOf, UsageError } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command("wallet")
    .description("A wallet service holding money in integer cents, and its admin tool")
    .option("--json", "print one machine-readable JSON document")
    .option("--api <url>", "run against a live server (WALLET_API_URL) instead of the database")
    .version("0.1.0")
    .showHelpAfterError()
    .addHelpText(
      "after",
      "\nExit status: 0 done, 1 refused or failed (the error code is printed), 2 usage error.\n" +
        "Every command takes --json. Operations run on the database unless --api <url> (or WALLET_API_URL) is given.",
    )
    .exitOverride();
  registerServe(program);
  registerMoney(program);
  registerHolds(program);
  registerEvents(program);
  registerSeed(program);
  registerTransfers(program);
  registerToken(program);
  registerOperator(program);
  registerStatement(program);
  registerFx(program);
  registerBatch(program);
  registerLimits(program);
  registerAdmin(program);
  registerWebhooks(program);
  registerLoadtest(program);
  return program;
}

function report(err: unknown, json: boolean): void {
  const code =
    err instanceof WalletError ? err.code : err instanceof UsageError || err instanceof ConfigError ? "usage" : "error";
  const message = err instanceof Error ? err.message : String(err);
  const details = err instanceof WalletError ? err.details : undefined;
  if (json) process.stdout.write(JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } }) + "\n");
  // a refused batch names the operation and its code; other details (limit_exceeded: which
  // limit, what remains, when it resets) follow the message as JSON
  const extra = !details
    ? ""
    : "index" in details
      ? ` (operation ${String(details.index)}: ${String(details.code ?? "malformed")})`
      : ` ${JSON.stringify(details)}`;
  process.stderr.write(`wallet: ${code === "usage" || code === "error" ? "" : code + ": "}${message}${extra}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; every other parse failure is a usage error
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    report(err, json);
    process.exitCode = err instanceof ConfigError ? EXIT.usage : exitCodeOf(err);
  }
}
