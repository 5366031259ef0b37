import pino from "pino";
import pretty from "pino-pretty";

/**
 * Logs on stdout: JSON lines for machines, or readable lines for people (pino-pretty,
 * in process, synchronous). Default: readable on a terminal, JSON otherwise;
 * LOG_FORMAT=json|pretty decides. Authorization values never reach a line.
 */
export function createLogger(level: string, format?: "json" | "pretty") {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "wallet" },
    redact: {
      paths: ["authorization", "*.authorization", "headers.authorization", "req.headers.authorization"],
      censor: "[redacted]",
    },
  };
  const readable = format ? format === "pretty" : Boolean(process.stdout.isTTY);
  if (!readable) return pino(options);
  return pino(
    options,
    pretty({
      colorize: Boolean(process.stdout.isTTY),
      sync: true,
      ignore: "pid,hostname,service",
      translateTime: "SYS:HH:MM:ss.l",
    }),
  );
}

export type Logger = ReturnType<typeof createLogger>;
