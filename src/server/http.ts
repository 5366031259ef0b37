/** Reading requests and writing responses: body limits, JSON, gzip. */
import type { IncomingMessage, ServerResponse } from "node:http";
import zlib from "node:zlib";
import { WalletError } from "../core/errors.js";

export const MAX_BODY_BYTES = 64 * 1024;
/** Responses of this size or more are compressed when the client accepts gzip. */
export const GZIP_MIN_BYTES = 1024;

/**
 * The client hung up before its request was read (ECONNRESET, "aborted"): nobody is
 * left to answer, and nothing is wrong with this service or its database.
 */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
}

/**
 * Reads the body, refusing more than MAX_BODY_BYTES before buffering it all. Events,
 * not `for await`: a stream's async iterator costs a POST several promises per chunk.
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    return Promise.reject(new WalletError("payload_too_large"));
  }
  if (req.complete && req.readableLength === 0) return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else {
        req.pause();
        finish(new WalletError("payload_too_large"));
      }
    };
    const onEnd = () => finish();
    // the only other way reading a request fails: its connection closed mid-body
    const gone = (cause?: unknown) =>
      finish(new ClientGoneError("the client closed the connection before its request body was read", { cause }));
    const onError = (err: Error) => gone(err);
    const onClose = () => {
      if (!req.complete) gone();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

const EMPTY = Buffer.alloc(0);

/** Strict JSON: a body must be one JSON object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new WalletError("invalid_request", "The request body must be a JSON object.");
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new WalletError("invalid_request", "The request body is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WalletError("invalid_request", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}

function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers["accept-encoding"];
  return typeof header === "string" && /\bgzip\b/.test(header) && !/\bgzip;\s*q=0(\.0*)?\b/.test(header);
}

/** a query string with nothing to decode */
const PLAIN_QUERY = /^[^%+]*$/;

/**
 * The query's parameters, each at most once. A query with nothing encoded (no % or +,
 * the common case) is split as it is; else URLSearchParams decodes it. A name that is
 * a property of every object (`toString`, `__proto__`) is no route's parameter: refused
 * here, so that a plain object can hold the rest (one with no prototype costs a cached
 * history page about a µs more, in this function and in the schema's check).
 */
export function parseQuery(search: string): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (k: string, v: string) => {
    if (k in Object.prototype) throw new WalletError("invalid_request", `unknown field(s): ${k}`);
    if (Object.hasOwn(out, k)) throw new WalletError("invalid_request", `query parameter ${k} is given more than once`);
    out[k] = v;
  };
  if (PLAIN_QUERY.test(search)) {
    for (const pair of search.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      if (eq === -1) add(pair, "");
      else add(pair.slice(0, eq), pair.slice(eq + 1));
    }
  } else {
    for (const [k, v] of new URLSearchParams(search)) add(k, v);
  }
  return out;
}

export function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
): void {
  // a string goes out as it is: node:http writes the head and a string body in one
  // piece, where a Buffer body is a second piece of the write (and a copy to make)
  let payload = body;
  let length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  res.setHeader("Content-Type", contentType);
  if (length >= GZIP_MIN_BYTES) {
    res.setHeader("Vary", "Accept-Encoding");
    if (acceptsGzip(req)) {
      // level 1: the bodies are small and the CPU is shared with request handling
      payload = zlib.gzipSync(body, { level: 1 });
      length = payload.length;
      res.setHeader("Content-Encoding", "gzip");
    }
  }
  res.setHeader("Content-Length", length);
  res.writeHead(status);
  res.end(req.method === "HEAD" ? undefined : payload);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  sendBody(req, res, status, JSON.stringify(value), "application/json; charset=utf-8");
}

export function sendError(req: IncomingMessage, res: ServerResponse, err: WalletError): void {
  const error = { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  sendJson(req, res, err.status, { error });
}
