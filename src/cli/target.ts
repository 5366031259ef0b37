/** Picks the client: --api / WALLET_API_URL for a live server, else the database. */
import type { Command } from "commander";
import type { WalletClient } from "./client.js";
import { loadConfig, openDirect, redactUrl } from "./context.js";
import { createDirectClient } from "./directClient.js";
import { globals } from "./globals.js";
import { createHttpClient } from "./httpClient.js";
import { actorName, createDirectOperator, createHttpOperator, type OperatorClient } from "./operatorClient.js";

export async function openClient(cmd: Command): Promise<WalletClient> {
  const g = globals(cmd);
  const config = loadConfig();
  if (g.api) {
    return createHttpClient(g.api, {
      authMode: config.authMode,
      authSecret: config.authSecret,
      token: process.env.WALLET_TOKEN || undefined,
    });
  }
  const core = await openDirect(config);
  const target = config.databaseUrl ? redactUrl(config.databaseUrl) : `embedded database ${config.dataDir}`;
  return createDirectClient(core, target, config.transferMaxAttempts);
}

export async function withClient<T>(cmd: Command, fn: (client: WalletClient) => Promise<T>): Promise<T> {
  const client = await openClient(cmd);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The operator's client: the admin API with --api, else the database; actor: --actor or the OS user. */
export async function withOperator<T>(
  cmd: Command,
  actor: string | undefined,
  fn: (client: OperatorClient) => Promise<T>,
): Promise<T> {
  const g = globals(cmd);
  const name = actorName(actor);
  const client = g.api
    ? createHttpOperator(g.api, process.env.WALLET_ADMIN_TOKEN || undefined, name)
    : createDirectOperator(await openDirect(loadConfig()), name);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
