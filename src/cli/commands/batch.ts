/** wallet batch <file.json|->: several operations of one user, applied in order, all or none. */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import chalk from "chalk";
import Table from "cli-table3";
import { need } from "../args.js";
import { UsageError } from "../errors.js";
import { globals } from "../globals.js";
import { createOutput } from "../output.js";
import { withClient } from "../target.js";

async function readAll(source: string): Promise<string> {
  if (source !== "-") {
    try {
      return await readFile(source, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${source}: ${(err as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The operations of a file: {"operations": [...]} as the API takes it, or the bare array. */
export function operationsOf(text: string): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError("the batch is not valid JSON");
  }
  const ops = Array.isArray(doc) ? doc : (doc as { operations?: unknown } | null)?.operations;
  if (!Array.isArray(ops)) throw new UsageError('the batch must be {"operations": [...]} or an array of operations');
  return ops;
}

export function registerBatch(program: Command): void {
  program
    .command("batch")
    .description("Apply a batch of a user's operations in order, in one transaction: all of them or none")
    .argument("<file>", 'a JSON file, {"operations": [...]} as POST /api/batches/v1 takes it; - reads stdin')
    .option("-u, --user <id>", "whose operations they are")
    .addHelpText(
      "after",
      `\nEach operation is {"type": "deposit"|"withdraw"|"transfer"|"hold"|"capture"|"void"|"exchange", ...} with the
fields of its own request; "hold_id": "$0" names the hold operation 0 places. A refusal of any operation applies
none of them (exit 1, batch_refused, naming the operation). Runs against --api (http:// or grpc://) or directly.

Examples:
  $ wallet batch payout.json --user 1
  $ echo '[{"type":"deposit","amount":500},{"type":"transfer","destination_user_id":2,"amount":300}]' | wallet batch - --user 1 --json`,
    )
    .action(async (file: string, opts: { user?: string }, cmd: Command) => {
      const out = createOutput(globals(cmd).json);
      const user = await need(opts.user, "--user", "User id:", out.interactive);
      const operations = operationsOf(await readAll(file));
      await withClient(cmd, async (client) => {
        const r = await client.batch(user, operations);
        out.result(r, () => {
          const table = new Table({
            head: ["#", "type", "id", "balance after"],
            style: { head: out.color ? ["cyan"] : [], border: out.color ? ["grey"] : [] },
          });
          r.results.forEach((x, i) => {
            const v = x as Record<string, unknown>;
            const id = v.transaction_id ?? v.transfer_id ?? v.hold_id ?? v.exchange_id ?? "";
            const type = (operations[i] as { type?: unknown }).type;
            table.push([i, String(type), String(id), v.balance === undefined ? "" : String(v.balance)]);
          });
          return `${chalk.green("Applied")} batch ${r.batch_id}: ${r.results.length} operations\n${table.toString()}`;
        });
      });
    });
}
