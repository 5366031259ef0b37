/** Picks the client: --api / WALLET_API_URL for a live server, else the database. */
import type { Command } from "commander";
import type { WalletClient } from "./client.js";
import { loadClientConfig, loadConfig } from "../core/config.js";
import { openDirect, redactUrl } from "./context.js";
import { createDirectClient } from "./directClient.js";
import { globals } from "./globals.js";
import { UsageError } from "./errors.js";
import { createHttpClient } from "./httpClient.js";
import { actorName, createDirectOperator, createHttpOperator, type OperatorClient } from "./operatorClient.js";

export async function openClient(cmd: Command): Promise<WalletClient> {
  const g = globals(cmd);
  const config = loadConfig();
  if (g.api) {
    const opts = {
      authMode: config.authMode,
      authSecret: config.authSecret,
      token: loadClientConfig().token,
    };
    if (!isGrpc(g.api)) return createHttpClient(g.api, opts);
    // gRPC's runtime and the protobuf loader cost most of a CLI call's start: loaded only when used
    const { createGrpcClient } = await import("./grpcClient.js");
    return createGrpcClient(g.api, opts);
  }
  const direct = await openDirect(config);
  const target = config.databaseUrl ? redactUrl(config.databaseUrl) : `embedded database ${config.dataDir}`;
  return createDirectClient(direct, target, { quoteTtlSeconds: config.fxQuoteTtlS });
}

/** grpc://host:port: the gRPC API (GRPC_PORT of `wallet serve`) for users' commands. */
const isGrpc = (api: string) => api.toLowerCase().startsWith("grpc://");

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
  if (g.api && isGrpc(g.api)) throw new UsageError("the admin API is HTTP only: give --api http://host:port");
  const client = g.api
    ? createHttpOperator(g.api, loadClientConfig().adminToken, name)
    : createDirectOperator(await openDirect(loadConfig()), name);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Commands that work on the database itself: refused with --api. */
export function directOnly(cmd: Command, what: string): void {
  if (globals(cmd).api)
    throw new UsageError(`${what} needs the database (DATABASE_URL or the embedded one), not --api`);
}
