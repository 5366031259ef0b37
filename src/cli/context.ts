/**
 * What direct mode shares: opening the core on the database, and naming it without
 * its password.
 */
import type { Config } from "../core/config.js";
import type { DirectProcess } from "../server/process/assemble.js";
import { ConnectionError } from "./errors.js";

export type GlobalOptions = { json?: boolean; api?: string; color?: boolean };

/** Direct mode: the core on DATABASE_URL or the embedded database, schema brought up to date. */
export async function openDirect(config: Config): Promise<DirectProcess> {
  // the core, its database drivers and the process assembly load when a command opens the
  // database, not for --api calls, usage errors or help
  const [{ openDirectProcess }, { DatabaseInUseError }] = await Promise.all([
    import("../server/process/assemble.js"),
    import("../core/db/index.js"),
  ]);
  try {
    return await openDirectProcess({ ...config, dbPoolMax: Math.min(config.dbPoolMax, 10) });
  } catch (err) {
    if (err instanceof DatabaseInUseError) throw new ConnectionError(err.message);
    const where = config.databaseUrl ? redactUrl(config.databaseUrl) : `the embedded database in ${config.dataDir}`;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConnectionError(`could not open ${where}: ${reason}`);
  }
}

/** postgres://user:secret@host/db -> postgres://user:***@host/db */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
