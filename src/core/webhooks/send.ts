/**
 * One delivery attempt: the event's JSON POSTed with its signature, through undici
 * (connections reused per origin; redirects not followed; 10 s for the whole
 * attempt). The host is judged again before each attempt and at every connection's
 * lookup, so the connection goes to an address that was judged.
 */
import { createHmac } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent, request } from "undici";
import { AddressRefused, isPrivateAddress, parseWebhookUrl, resolveAllowed } from "./address.js";

export const ATTEMPT_TIMEOUT_MS = 10_000;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with one v1 per secret. */
export function signature(body: string, secrets: string[], t = Math.floor(Date.now() / 1000)): string {
  const v1 = secrets.map((s) => `v1=${createHmac("sha256", s).update(`${t}.${body}`).digest("hex")}`);
  return [`t=${t}`, ...v1].join(",");
}

export type AttemptResult = { ok: boolean; status: number | null; error: string | null };

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** An undici Agent whose connections are opened only to allowed addresses. */
export function webhookAgent(allowPrivate: boolean): Agent {
  const lookup = (host: string, opts: object, cb: LookupCallback) => {
    dnsLookup(host, { ...opts, all: true }, (err, found) => {
      if (err) return cb(err, []);
      const bad = allowPrivate ? undefined : found.find((a) => isPrivateAddress(a.address));
      if (bad) return cb(new AddressRefused(`${host} resolves to a private address (${bad.address})`), []);
      const all = (opts as { all?: boolean }).all;
      if (all) cb(null, found);
      else cb(null, found[0]!.address, found[0]!.family);
    });
  };
  return new Agent({
    connect: { lookup: lookup as never, timeout: ATTEMPT_TIMEOUT_MS },
    headersTimeout: ATTEMPT_TIMEOUT_MS,
    bodyTimeout: ATTEMPT_TIMEOUT_MS,
    keepAliveTimeout: 30_000,
    connections: 64,
  });
}

export async function attempt(
  agent: Agent,
  o: { url: string; endpointId: string; eventId: string; body: string; secrets: string[]; allowPrivate: boolean },
): Promise<AttemptResult> {
  try {
    const url = parseWebhookUrl(o.url);
    await resolveAllowed(url, o.allowPrivate);
    const res = await request(url, {
      method: "POST",
      dispatcher: agent,
      headers: {
        "content-type": "application/json",
        "user-agent": "wallet-webhooks/1",
        "wallet-webhook-id": o.endpointId,
        "wallet-event-id": o.eventId,
        "wallet-signature": signature(o.body, o.secrets),
      },
      body: o.body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    // what the receiver says is not kept (bounded: past 64 KiB the connection is dropped)
    await res.body.dump({ limit: 65_536 }).catch(() => undefined);
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, error: null };
    return { ok: false, status: res.statusCode, error: `HTTP ${res.statusCode}` };
  } catch (err) {
    return { ok: false, status: null, error: describe(err) };
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError" || err.name === "AbortError") return `timeout after ${ATTEMPT_TIMEOUT_MS} ms`;
    const code = (err as { code?: string }).code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && !code) return describe(cause);
    return (code ? `${code}: ` : "") + err.message.slice(0, 300);
  }
  return String(err).slice(0, 300);
}
