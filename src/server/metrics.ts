/** Prometheus metrics (prom-client), one registry per server instance. */
import client from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new client.Counter({
      name: "wallet_http_requests_total",
      help: "HTTP requests by route, method and status",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    }),
    clientAborted: new client.Counter({
      name: "wallet_http_client_aborted_total",
      help: "HTTP requests whose client hung up before its answer (counted in wallet_http_requests_total as status 499)",
      labelNames: ["route", "method"] as const,
      registers: [registry],
    }),
    grpcConnectionsRefused: new client.Counter({
      name: "wallet_grpc_connections_refused_total",
      help: "gRPC connections closed before HTTP/2 began, by reason: handshake_timeout (no preface in time), bad_preface (not HTTP/2)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    unexpectedErrors: new client.Counter({
      name: "wallet_unexpected_errors_total",
      help: "Errors that escaped every request's error boundary (a bug), by kind: unhandled_rejection, uncaught_exception",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    latency: new client.Histogram({
      name: "wallet_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["route", "method"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    operations: new client.Counter({
      name: "wallet_operations_total",
      help: "Money operations by kind and outcome (ok, or the refusal code)",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
    transfers: new client.Counter({
      name: "wallet_async_transfers_total",
      help: "Async transfers applied by this process's workers, by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    cache: new client.Counter({
      name: "wallet_cache_requests_total",
      help: "Balance and history cache lookups by result",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    dbReads: new client.Counter({
      name: "wallet_db_reads_total",
      help: "Reads of balances, history, events, statements and transfer status sent to the database, by where they were served",
      labelNames: ["source"] as const,
      registers: [registry],
    }),
    replicaFallbacks: new client.Counter({
      name: "wallet_db_replica_fallbacks_total",
      help: "Reads the read replica could have served that went to the primary, by reason (unhealthy, unknown_version, stale, error)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    rateLimited: new client.Counter({
      name: "wallet_rate_limited_total",
      help: "Requests refused by the rate limiter",
      registers: [registry],
    }),
    eventsPublished: new client.Counter({
      name: "wallet_events_published_total",
      help: "Events this process's relay published to NATS JetStream",
      registers: [registry],
    }),
    webhookDeliveries: new client.Counter({
      name: "wallet_webhook_deliveries_total",
      help: "Webhook delivery attempts by this process, by outcome: delivered, retry (failed, tried again later), failed (the last attempt)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    webhookAttemptSeconds: new client.Histogram({
      name: "wallet_webhook_attempt_duration_seconds",
      help: "Webhook delivery attempts' duration (until the receiver's answer, a timeout or an error)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookOldestPending: new client.Gauge({
      name: "wallet_webhook_oldest_pending_seconds",
      help: "Age of the oldest undelivered (pending) event per webhook endpoint, as this process last measured it",
      labelNames: ["endpoint"] as const,
      registers: [registry],
    }),
    idempotentReplays: new client.Counter({
      name: "wallet_idempotent_replays_total",
      help: "Requests answered from a stored idempotent response",
      registers: [registry],
    }),
  };
}
