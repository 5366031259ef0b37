/**
 * OpenTelemetry spans through the API package only: without an SDK registered they
 * are no-ops. An operator who wants traces starts the process with an SDK preloaded
 * (node --import ./otel-setup.js bin/wallet.js serve), and every request, use case
 * and database call shows up as a span.
 */
import { SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";

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

/** A span for one statement, child of the active span; nothing at all when no span is recording. */
export function traceQuery<T>(system: string, sql: string, fn: () => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()?.isRecording()) return fn();
  return traced("db.query", { "db.system": system, "db.statement": sql.replace(/\s+/g, " ").slice(0, 1000) }, fn);
}
