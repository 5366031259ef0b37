/** The core library: open it once per process, then call the use cases with its ctx. */
import type { Config } from "./config.js";
import type { CoreContext } from "./context.js";
import { openDatabase } from "./db.js";
import { migrateLatest } from "./migrate.js";
import { Poster } from "./poster.js";

export type Core = { ctx: CoreContext; close(): Promise<void> };

export async function openCore(
  config: Pick<Config, "databaseUrl" | "dataDir" | "dbPoolMax" | "groupCommit" | "migrate">,
): Promise<Core> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.dbPoolMax,
  });
  try {
    if (config.migrate) await migrateLatest(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const poster = new Poster(db, { groupCommit: config.groupCommit });
  return {
    ctx: { db, poster },
    async close() {
      await poster.drain();
      await db.close();
    },
  };
}

export { WalletError, ERROR_CODES, type ErrorCode } from "./errors.js";
