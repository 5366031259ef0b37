/**
 * OpenTelemetry spans through the API package only: without an SDK registered they
 * are no-ops. An operator who wants traces starts the process with an SDK preloaded
 * (node --import ./otel-setup.js bin/wallet.js serve), and every use case and
 * database call shows up as a span.
 */
import { SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { Knex } from "knex";

export const tracer = trace.getTracer("wallet");

export async function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

type QueryEvent = { __knexQueryUid: string; sql: string };

/** A span for every statement knex sends, child of the span active when it was sent. */
export function traceQueries(knex: Knex, system: string): void {
  const spans = new Map<string, Span>();
  knex.on("query", (q: QueryEvent) => {
    const span = tracer.startSpan("db.query");
    if (!span.isRecording()) return; // no SDK: nothing to keep
    span.setAttributes({ "db.system": system, "db.statement": q.sql.replace(/\s+/g, " ").slice(0, 1000) });
    spans.set(q.__knexQueryUid, span);
  });
  knex.on("query-response", (_r: unknown, q: QueryEvent) => {
    spans.get(q.__knexQueryUid)?.end();
    spans.delete(q.__knexQueryUid);
  });
  knex.on("query-error", (err: Error, q: QueryEvent) => {
    const span = spans.get(q.__knexQueryUid);
    span?.recordException(err);
    span?.setStatus({ code: SpanStatusCode.ERROR });
    span?.end();
    spans.delete(q.__knexQueryUid);
  });
}
