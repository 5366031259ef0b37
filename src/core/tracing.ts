/**
 * OpenTelemetry spans through the API package only: without an SDK registered they
 * are no-ops. An operator who wants traces starts the process with an SDK preloaded
 * (node --import ./otel-setup.js bin/wallet.js serve), and every request, use case
 * and database call shows up as a span.
 */
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from "@opentelemetry/api";

export const tracer = trace.getTracer("wallet");

/** The API's no-op provider: what the global provider delegates to while no SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Whether an SDK is registered (spans may record): checked per call, so an SDK set up late is honoured. */
export function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/**
 * fn inside a span named name. Without an SDK, fn runs as it is: no span, no context,
 * no closure (the request path calls this twice per request).
 */
export function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!tracingOn()) {
    try {
      return fn(NOOP_SPAN);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
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
