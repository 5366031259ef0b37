/**
 * Configuration is resolved once, here: flag > environment > default, validated at
 * start with a clear message. Nothing else reads process.env; callers pass it in.
 */
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATABASE_READ_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  DATABASE_READ_MAX_LAG_MS: int(100, 600_000).default(3000),
  WALLET_DATA_DIR: z.string().min(1).default("./.wallet-data"),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional(),
  REDIS_PREFIX: z.string().default("wallet:"),
  READ_CACHE: bool.default(true),
  RATE_LIMIT_RPS: int(0, 1_000_000).default(100),
  RATE_LIMIT_BURST: int(1, 10_000_000).default(200),
  WATCHERS_PER_USER: int(1, 10_000).default(8),
  AUTH_MODE: z.enum(["userid", "token"]).default("userid"),
  AUTH_SECRET: z.string().optional(),
  TRANSFER_WORKERS: int(0, 256).default(4),
  TRANSFER_BATCH_SIZE: int(1, 10_000).default(200),
  TRANSFER_MAX_ATTEMPTS: int(1, 100).default(8),
  TRANSFER_RETRY_BASE_MS: int(1, 3_600_000).default(200),
  MIGRATE: bool.default(true),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DB_POOL_MAX: int(2, 1000).default(20),
  GROUP_COMMIT: bool.default(true),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  REQUEST_DEADLINE_MS: int(100, 600_000).default(5000),
  HOLD_SWEEP_MS: int(10, 3_600_000).default(1000),
  ADMIN_TOKEN: z.string().optional(),
  GRPC_PORT: int(0, 65535).default(0),
  METRICS_PORT: int(0, 65535).default(0),
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  NATS_URL: z
    .string()
    .regex(/^(nats|tls|wss?):\/\//, "must be a nats:// URL")
    .optional(),
});

/** Every environment variable the service reads. */
export const CONFIG_KEYS = Object.keys(schema.shape);

export type Config = {
  port: number;
  host: string;
  databaseUrl?: string;
  /** a read replica (PostgreSQL only): reads it can answer fresh enough go there */
  databaseReadUrl?: string;
  /** a replica lagging more than this is bypassed until it has caught up */
  databaseReadMaxLagMs: number;
  dataDir: string;
  redisUrl?: string;
  redisPrefix: string;
  /** false: balances and history are read from the database every time (versions are still followed) */
  readCache: boolean;
  rateLimitRps: number;
  rateLimitBurst: number;
  /** open long polls and WatchEvents streams per user, together; past it 429 rate_limited */
  watchersPerUser: number;
  authMode: "userid" | "token";
  authSecret?: string;
  transferWorkers: number;
  transferBatchSize: number;
  transferMaxAttempts: number;
  transferRetryBaseMs: number;
  migrate: boolean;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  dbPoolMax: number;
  groupCommit: boolean;
  shutdownTimeoutMs: number;
  /** how long a request may wait for the database before it is answered 503 unavailable */
  requestDeadlineMs: number;
  /** how often expired holds are marked in the background */
  holdSweepMs: number;
  /** the admin API's bearer token; unset: the admin API is off */
  adminToken?: string;
  /** NATS with JetStream: the relay publishes every event there */
  natsUrl?: string;
  /** the gRPC listener's port (same host); 0: off */
  grpcPort: number;
  /** a separate listener for /metrics (an internal address); 0: /metrics on the API port */
  metricsPort: number;
  /** log lines for people (pretty) or machines (json); default: pretty on a terminal */
  logFormat?: "json" | "pretty";
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Minimum AUTH_SECRET length in token mode: 32 bytes, the HS256 key size. */
export const MIN_SECRET_LENGTH = 32;

export function resolveConfig(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<keyof z.input<typeof schema>, string | undefined>> = {},
): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = overrides[key as keyof typeof overrides] ?? env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const c = parsed.data;
  if (c.AUTH_MODE === "token" && (c.AUTH_SECRET ?? "").length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`AUTH_MODE=token needs AUTH_SECRET of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (c.ADMIN_TOKEN !== undefined && c.ADMIN_TOKEN.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`ADMIN_TOKEN must be at least ${MIN_SECRET_LENGTH} characters (or unset: no admin API)`);
  }
  if (c.DATABASE_READ_URL !== undefined && c.DATABASE_URL === undefined) {
    throw new ConfigError(
      "DATABASE_READ_URL needs DATABASE_URL: read replicas are for PostgreSQL, not the embedded database (unset it)",
    );
  }
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    databaseReadUrl: c.DATABASE_READ_URL,
    databaseReadMaxLagMs: c.DATABASE_READ_MAX_LAG_MS,
    dataDir: c.WALLET_DATA_DIR,
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    readCache: c.READ_CACHE,
    rateLimitRps: c.RATE_LIMIT_RPS,
    rateLimitBurst: c.RATE_LIMIT_BURST,
    watchersPerUser: c.WATCHERS_PER_USER,
    authMode: c.AUTH_MODE,
    authSecret: c.AUTH_SECRET,
    transferWorkers: c.TRANSFER_WORKERS,
    transferBatchSize: c.TRANSFER_BATCH_SIZE,
    transferMaxAttempts: c.TRANSFER_MAX_ATTEMPTS,
    transferRetryBaseMs: c.TRANSFER_RETRY_BASE_MS,
    migrate: c.MIGRATE,
    logLevel: c.LOG_LEVEL,
    dbPoolMax: c.DB_POOL_MAX,
    groupCommit: c.GROUP_COMMIT,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    requestDeadlineMs: c.REQUEST_DEADLINE_MS,
    holdSweepMs: c.HOLD_SWEEP_MS,
    adminToken: c.ADMIN_TOKEN,
    natsUrl: c.NATS_URL,
    grpcPort: c.GRPC_PORT,
    metricsPort: c.METRICS_PORT,
    logFormat: c.LOG_FORMAT,
  };
}
