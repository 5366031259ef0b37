import type { Command } from "commander";

export type Globals = { json: boolean; api?: string };

/** The program-wide options (--json, --api), wherever they were written. */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals() as { json?: boolean; api?: string };
  return { json: Boolean(o.json), api: o.api ?? (process.env.WALLET_API_URL || undefined) };
}
