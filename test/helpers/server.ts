import { request } from "undici";
import { resolveConfig, type Config } from "../../src/core/config.js";
import { createLogger } from "../../src/server/logger.js";
import { startServer, type RunningServer } from "../../src/server/index.js";
import { freshDatabase } from "./db.js";

export type TestServer = RunningServer & { env: Record<string, string>; config: Config; stop(): Promise<void> };

/** A real HTTP server in this process, on a fresh database, on a free port. */
export async function startTestServer(
  env: Record<string, string> = {},
  db?: Awaited<ReturnType<typeof freshDatabase>>,
): Promise<TestServer> {
  const database = db ?? (await freshDatabase());
  const config = resolveConfig({
    PORT: "0",
    RATE_LIMIT_RPS: "0",
    LOG_LEVEL: "silent",
    TRANSFER_WORKERS: "0",
    ...database.env,
    ...env,
  });
  const server = await startServer(config, createLogger(config.logLevel));
  return {
    ...server,
    env: database.env,
    config,
    async stop() {
      await server.close();
      if (!db) await database.drop();
    },
  };
}

export type ApiResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  raw: Buffer;
};

/** One HTTP call over a real connection. body: an object (sent as JSON) or raw text. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { user?: number | string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.user !== undefined) headers.authorization = String(opts.user);
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await request(base + path, { method: method as "GET", headers, body });
  const raw = Buffer.from(await res.body.arrayBuffer());
  let parsed: unknown = undefined;
  const type = String(res.headers["content-type"] ?? "");
  if (type.includes("json") && res.headers["content-encoding"] !== "gzip") parsed = JSON.parse(raw.toString("utf8"));
  return { status: res.statusCode, headers: res.headers, body: parsed, raw };
}

export const post = (
  base: string,
  path: string,
  user: number | string | undefined,
  body: unknown,
  headers?: Record<string, string>,
) => call(base, "POST", path, { user, body, headers });
export const get = (base: string, path: string, user?: number | string, headers?: Record<string, string>) =>
  call(base, "GET", path, { user, headers });

export async function balanceOf(base: string, user: number): Promise<number> {
  const r = await get(base, "/api/wallet/balance/v1", user);
  if (r.status !== 200) throw new Error(`balance of ${user}: ${r.status} ${r.raw.toString()}`);
  return r.body.balance as number;
}
