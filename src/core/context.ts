import type { Database } from "./db.js";
import type { Poster } from "./poster.js";

/**
 * What every use case receives: the database and the group-commit poster.
 * Use cases never read the environment or open their own connections.
 */
export type CoreContext = {
  db: Database;
  poster: Poster;
};
