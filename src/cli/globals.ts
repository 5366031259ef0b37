import type { Command } from "commander";
import { loadClientConfig } from "../core/config.js";

export type Globals = { json: boolean; api?: string };

/** The program-wide options (--json, --api), wherever they were written. */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals() as { json?: boolean; api?: string };
  return { json: Boolean(o.json), api: o.api ?? loadClientConfig().apiUrl };
}
