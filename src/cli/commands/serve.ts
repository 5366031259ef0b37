import type { Command } from "commander";
import { loadConfig } from "../../core/config.js";
import { createLogger } from "../../server/logger.js";
import { installProcessGuard } from "../../server/processGuard.js";
import { planFor } from "../../server/process/roles.js";
import { UsageError } from "../errors.js";

// The server is loaded by the commands that run it, not by every CLI call (`wallet
// balance` need not load the HTTP and gRPC edges)
const server = () => import("../../server/index.js");
const assembly = () => import("../../server/process/assemble.js");

/** Runs until SIGTERM/SIGINT, then shuts down in order and exits 0. */
function onSignal(log: ReturnType<typeof createLogger>, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Run the REST API (and, unless TRANSFER_WORKERS=0, the async transfer workers)")
    .option("--port <port>", "port to listen on (PORT, default 8080)")
    .option("--host <host>", "address to listen on (HOST, default 127.0.0.1)")
    .option("--workers <n>", "async transfer workers in this process (TRANSFER_WORKERS, default 4)")
    .option("--no-migrate", "do not bring the schema up to date at start (MIGRATE=false)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ wallet serve\n  $ DATABASE_URL=postgres://localhost/wallet REDIS_URL=redis://localhost wallet serve --port 9000",
    )
    .action(async (opts: { port?: string; host?: string; workers?: string; migrate: boolean }) => {
      const config = loadConfig({
        PORT: opts.port,
        HOST: opts.host,
        TRANSFER_WORKERS: opts.workers,
        MIGRATE: opts.migrate ? undefined : "false",
      });
      const log = createLogger(config.logLevel, config.logFormat);
      const { startServer } = await server();
      const running = await startServer(config, log);
      // what escapes every request's error boundary is logged with its request id, not a silent exit
      installProcessGuard(log, {
        count: (kind) => running.services.metrics.unexpectedErrors.inc({ kind }),
        stop: () => running.close(),
        stopTimeoutMs: config.shutdownTimeoutMs + 2000,
      });
      onSignal(log, () => running.close());
    });

  program
    .command("worker")
    .description("Run async transfer workers only (scale them apart from the API)")
    .option("--workers <n>", "worker loops (TRANSFER_WORKERS, default 4)")
    .addHelpText("after", "\nExample:\n  $ DATABASE_URL=postgres://localhost/wallet wallet worker --workers 8")
    .action(async (opts: { workers?: string }) => {
      const config = loadConfig({ TRANSFER_WORKERS: opts.workers });
      const log = createLogger(config.logLevel, config.logFormat);
      const { startProcess } = await assembly();
      const worker = await startProcess(config, log, planFor("worker", config));
      installProcessGuard(log, { stop: () => worker.close(), stopTimeoutMs: config.shutdownTimeoutMs + 2000 });
      onSignal(log, () => worker.close());
    });

  program
    .command("relay")
    .description("Publish every event to NATS JetStream (NATS_URL), alone: what is waiting, then as it happens")
    .addHelpText(
      "after",
      "\nOne relay is active at a time (the others wait to take over); `wallet serve` runs one too when NATS_URL is set.\n\n" +
        "Example:\n  $ DATABASE_URL=postgres://localhost/wallet NATS_URL=nats://localhost:4222 wallet relay",
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, config.logFormat);
      if (!config.natsUrl) throw new UsageError("wallet relay needs NATS_URL (nats://host:4222)");
      const { startProcess } = await assembly();
      const relay = await startProcess(config, log, planFor("relay", config));
      installProcessGuard(log, { stop: () => relay.close(), stopTimeoutMs: config.shutdownTimeoutMs + 2000 });
      onSignal(log, () => relay.close());
    });

  program
    .command("deliver")
    .description("Deliver webhooks alone: what is waiting, then as it happens")
    .addHelpText(
      "after",
      "\nAny number may run beside `wallet serve` (which delivers too): each delivery is in flight in one at a time.\n\n" +
        "Example:\n  $ DATABASE_URL=postgres://localhost/wallet wallet deliver",
    )
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, config.logFormat);
      const { startProcess } = await assembly();
      const deliverer = await startProcess(config, log, planFor("deliver", config));
      installProcessGuard(log, { stop: () => deliverer.close(), stopTimeoutMs: config.shutdownTimeoutMs + 12_000 });
      onSignal(log, () => deliverer.close());
    });
}
