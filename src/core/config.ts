/**
 * Configuration is resolved once, here: flag > environment > default, validated at
 * start with a clear message. This is the only module that reads process.env
 * (loadConfig, loadClientConfig); everything else is handed a Config.
 *
 * Each setting is written once, in SETTINGS: the environment variable it comes from
 * and its rule (type, range, default). The Config type is the schema's output.
 */
import { z } from "zod";
import { FALLBACK_CURRENCY, isIsoCurrency } from "./currency.js";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const url = (schemes: string, what: string) =>
  z.string().regex(new RegExp(`^(${schemes}):\\/\\/`), `must be a ${what}:// URL`);

const currency = z
  .string()
  .refine(isIsoCurrency, "must be an active ISO 4217 currency code (three capital letters, such as USD)");
const currencyList = z
  .string()
  .transform((v) => v.split(",").map((c) => c.trim()))
  .pipe(z.array(currency).min(1));

/** A setting: the environment variable it is read from, and its rule. */
const from = <E extends string, R extends z.ZodType>(env: E, rule: R) => ({ env, rule });

const SETTINGS = {
  port: from("PORT", int(0, 65535).default(8080)),
  host: from("HOST", z.string().min(1).default("127.0.0.1")),
  databaseUrl: from("DATABASE_URL", url("postgres|postgresql", "postgres").optional()),
  /** a read replica (PostgreSQL only): reads it can answer fresh enough go there */
  databaseReadUrl: from("DATABASE_READ_URL", url("postgres|postgresql", "postgres").optional()),
  /** a replica lagging more than this is bypassed until it has caught up */
  databaseReadMaxLagMs: from("DATABASE_READ_MAX_LAG_MS", int(100, 600_000).default(3000)),
  dataDir: from("WALLET_DATA_DIR", z.string().min(1).default("./.wallet-data")),
  redisUrl: from("REDIS_URL", url("redis|rediss", "redis").optional()),
  redisPrefix: from("REDIS_PREFIX", z.string().default("wallet:")),
  /** false: balances and history are read from the database every time (versions are still followed) */
  readCache: from("READ_CACHE", bool.default(true)),
  rateLimitRps: from("RATE_LIMIT_RPS", int(0, 1_000_000).default(100)),
  rateLimitBurst: from("RATE_LIMIT_BURST", int(1, 10_000_000).default(200)),
  /** open long polls and WatchEvents streams per user, together; past it: 429 rate_limited */
  watchersPerUser: from("WATCHERS_PER_USER", int(1, 10_000).default(8)),
  authMode: from("AUTH_MODE", z.enum(["userid", "token"]).default("userid")),
  authSecret: from("AUTH_SECRET", z.string().optional()),
  transferWorkers: from("TRANSFER_WORKERS", int(0, 256).default(4)),
  transferBatchSize: from("TRANSFER_BATCH_SIZE", int(1, 10_000).default(200)),
  transferMaxAttempts: from("TRANSFER_MAX_ATTEMPTS", int(1, 100).default(8)),
  transferRetryBaseMs: from("TRANSFER_RETRY_BASE_MS", int(1, 3_600_000).default(200)),
  migrate: from("MIGRATE", bool.default(true)),
  logLevel: from("LOG_LEVEL", z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info")),
  dbPoolMax: from("DB_POOL_MAX", int(2, 1000).default(20)),
  groupCommit: from("GROUP_COMMIT", bool.default(true)),
  shutdownTimeoutMs: from("SHUTDOWN_TIMEOUT_MS", int(0, 600_000).default(10_000)),
  /** how long a request may wait for the database before it is answered 503 unavailable */
  requestDeadlineMs: from("REQUEST_DEADLINE_MS", int(100, 600_000).default(5000)),
  /** how often expired holds are marked in the background */
  holdSweepMs: from("HOLD_SWEEP_MS", int(10, 3_600_000).default(1000)),
  /** the admin API's bearer token; unset: the admin API is off */
  adminToken: from("ADMIN_TOKEN", z.string().optional()),
  /** the gRPC listener's port (same host); 0: off */
  grpcPort: from("GRPC_PORT", int(0, 65535).default(0)),
  // the gRPC listener's connection limits (docs/operations.md, "Limits that protect the process")
  /** a connection must send the HTTP/2 preface within this, else it is closed */
  grpcHandshakeTimeoutMs: from("GRPC_HANDSHAKE_TIMEOUT_MS", int(100, 600_000).default(10_000)),
  /** a connection without a call for this long is closed (GOAWAY) */
  grpcMaxConnectionIdleMs: from("GRPC_MAX_CONNECTION_IDLE_MS", int(100, 86_400_000).default(120_000)),
  /** a connection is asked to go after this long (±10%), so that clients rebalance */
  grpcMaxConnectionAgeMs: from("GRPC_MAX_CONNECTION_AGE_MS", int(1000, 86_400_000).default(1_800_000)),
  /** then its calls have this long to finish before it is closed */
  grpcMaxConnectionAgeGraceMs: from("GRPC_MAX_CONNECTION_AGE_GRACE_MS", int(0, 86_400_000).default(60_000)),
  /** a ping every this long; no answer within the keepalive timeout closes the connection */
  grpcKeepaliveTimeMs: from("GRPC_KEEPALIVE_TIME_MS", int(1000, 86_400_000).default(60_000)),
  grpcKeepaliveTimeoutMs: from("GRPC_KEEPALIVE_TIMEOUT_MS", int(100, 600_000).default(20_000)),
  /** calls at once on one connection */
  grpcMaxConcurrentStreams: from("GRPC_MAX_CONCURRENT_STREAMS", int(1, 10_000).default(100)),
  /** a call's metadata (names and values) at most this many bytes */
  grpcMaxMetadataBytes: from("GRPC_MAX_METADATA_BYTES", int(1024, 65_536).default(8192)),
  /** HTTP/2 session memory (nghttp2's buffers) per connection, in MB */
  grpcMaxSessionMemoryMb: from("GRPC_MAX_SESSION_MEMORY_MB", int(1, 4096).default(32)),
  /** a separate listener for /metrics (an internal address); 0: /metrics on the API port */
  metricsPort: from("METRICS_PORT", int(0, 65535).default(0)),
  /** log lines for people (pretty) or machines (json); default: pretty on a terminal */
  logFormat: from("LOG_FORMAT", z.enum(["json", "pretty"]).optional()),
  /** the currency of every request that names none */
  defaultCurrency: from("DEFAULT_CURRENCY", currency.default(FALLBACK_CURRENCY)),
  /** the currencies accepted; unset: every active ISO 4217 code */
  currencies: from("CURRENCIES", currencyList.optional()),
  /** how long an exchange quote can be executed (seconds) */
  fxQuoteTtlS: from("FX_QUOTE_TTL_S", int(1, 86_400).default(30)),
  /** NATS with JetStream: the relay publishes every event there */
  natsUrl: from("NATS_URL", url("nats|tls|wss?", "nats").optional()),
  /** webhook URLs on loopback and private networks are allowed (tests, private deployments) */
  webhookAllowPrivate: from("WEBHOOK_ALLOW_PRIVATE", bool.default(false)),
  /** a failed delivery's first retry after this (doubling, capped at 1 h) */
  webhookRetryBaseMs: from("WEBHOOK_RETRY_BASE_MS", int(1, 3_600_000).default(1000)),
  /** attempts before a delivery is failed */
  webhookMaxAttempts: from("WEBHOOK_MAX_ATTEMPTS", int(1, 1000).default(15)),
  /** deliveries in flight at once per endpoint in one process */
  webhookConcurrency: from("WEBHOOK_CONCURRENCY", int(1, 256).default(8)),
};

type Settings = typeof SETTINGS;
const rules = Object.fromEntries(Object.entries(SETTINGS).map(([key, s]) => [key, s.rule])) as {
  [K in keyof Settings]: Settings[K]["rule"];
};
const schema = z.object(rules);

/** The service's configuration, as the schema gives it. */
export type Config = z.output<typeof schema>;
/** An environment variable the service reads. */
export type ConfigKey = Settings[keyof Settings]["env"];
export type Environment = Record<string, string | undefined>;

/** Every environment variable the service reads. */
export const CONFIG_KEYS: ConfigKey[] = Object.values(SETTINGS).map((s) => s.env);

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Minimum AUTH_SECRET and ADMIN_TOKEN length: 32 bytes, the HS256 key size. */
export const MIN_SECRET_LENGTH = 32;

/** The secret tokens are signed with (AUTH_SECRET); refused when shorter than MIN_SECRET_LENGTH. */
export function signingSecret(c: Pick<Config, "authSecret">, why = "signing tokens"): string {
  const secret = c.authSecret ?? "";
  if (secret.length < MIN_SECRET_LENGTH)
    throw new ConfigError(`${why} needs AUTH_SECRET of at least ${MIN_SECRET_LENGTH} characters`);
  return secret;
}

/**
 * The configuration from env, with overrides (flags, by variable name) before it and
 * defaults (by variable name) after it. An empty value counts as unset.
 */
export function resolveConfig(
  env: Environment,
  overrides: Partial<Record<ConfigKey, string | undefined>> = {},
  defaults: Partial<Record<ConfigKey, string>> = {},
): Config {
  const input: Record<string, string> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    const value = [overrides[s.env], env[s.env], defaults[s.env]].find((v) => v !== undefined && v !== "");
    if (value !== undefined) input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const [key, ...rest] = i.path.map(String);
      return `${[SETTINGS[key as keyof Settings]?.env ?? key, ...rest].join(".")}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const c = parsed.data;
  if (c.authMode === "token") signingSecret(c, "AUTH_MODE=token");
  if (c.adminToken !== undefined && c.adminToken.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`ADMIN_TOKEN must be at least ${MIN_SECRET_LENGTH} characters (or unset: no admin API)`);
  }
  if (c.currencies !== undefined && !c.currencies.includes(c.defaultCurrency)) {
    throw new ConfigError(
      `DEFAULT_CURRENCY ${c.defaultCurrency} must be one of CURRENCIES (${c.currencies.join(",")})`,
    );
  }
  if (c.databaseReadUrl !== undefined && c.databaseUrl === undefined) {
    throw new ConfigError(
      "DATABASE_READ_URL needs DATABASE_URL: read replicas are for PostgreSQL, not the embedded database (unset it)",
    );
  }
  return c;
}

/** The gRPC listener's connection limits (GRPC_*). */
export type GrpcLimits = {
  handshakeTimeoutMs: number;
  maxConnectionIdleMs: number;
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxConcurrentStreams: number;
  maxMetadataBytes: number;
  maxSessionMemoryMb: number;
};

export function grpcLimits(c: Config): GrpcLimits {
  return {
    handshakeTimeoutMs: c.grpcHandshakeTimeoutMs,
    maxConnectionIdleMs: c.grpcMaxConnectionIdleMs,
    maxConnectionAgeMs: c.grpcMaxConnectionAgeMs,
    maxConnectionAgeGraceMs: c.grpcMaxConnectionAgeGraceMs,
    keepaliveTimeMs: c.grpcKeepaliveTimeMs,
    keepaliveTimeoutMs: c.grpcKeepaliveTimeoutMs,
    maxConcurrentStreams: c.grpcMaxConcurrentStreams,
    maxMetadataBytes: c.grpcMaxMetadataBytes,
    maxSessionMemoryMb: c.grpcMaxSessionMemoryMb,
  };
}

/** This process's configuration: its environment, flags before it, defaults after it. */
export function loadConfig(
  overrides: Partial<Record<ConfigKey, string | undefined>> = {},
  defaults: Partial<Record<ConfigKey, string>> = {},
): Config {
  return resolveConfig(process.env, overrides, defaults);
}

/** What the command line reads for itself: where the API is, its tokens, colour. */
export type ClientConfig = {
  /** WALLET_API_URL: run against a live server (--api is before it) */
  apiUrl?: string;
  /** WALLET_TOKEN: the bearer token sent in token mode */
  token?: string;
  /** WALLET_ADMIN_TOKEN: the admin API's token (the server's ADMIN_TOKEN) */
  adminToken?: string;
  /** false with NO_COLOR set (any value) or TERM=dumb */
  color: boolean;
};

export function resolveClientConfig(env: Environment): ClientConfig {
  const set = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);
  return {
    apiUrl: set(env.WALLET_API_URL),
    token: set(env.WALLET_TOKEN),
    adminToken: set(env.WALLET_ADMIN_TOKEN),
    color: !("NO_COLOR" in env) && env.TERM !== "dumb",
  };
}

export function loadClientConfig(): ClientConfig {
  return resolveClientConfig(process.env);
}
