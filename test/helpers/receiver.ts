import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Received = {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  event: any;
  /** the status answered (0: hung up / never answered) */
  status: number;
};

/**
 * A webhook receiver on loopback: records every request, answers with what `answer`
 * says (a status, or "hang" to never answer), and counts requests in flight per event
 * and per user (overlap = a duplicate in flight, or order broken).
 */
export async function startReceiver(answer: (r: Received, n: number) => number | "hang" = () => 200) {
  const received: Received[] = [];
  const inFlightEvents = new Set<string>();
  const inFlightUsers = new Map<number, number>();
  const overlaps: string[] = [];
  let delayMs = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const event = JSON.parse(body);
      const r: Received = { at: Date.now(), headers: req.headers, body, event, status: 0 };
      received.push(r);
      const id = String(req.headers["wallet-event-id"]);
      if (inFlightEvents.has(id)) overlaps.push(`event ${id}`);
      const users = inFlightUsers.get(event.user_id) ?? 0;
      if (users > 0) overlaps.push(`user ${event.user_id} (event ${id})`);
      inFlightEvents.add(id);
      inFlightUsers.set(event.user_id, users + 1);
      const a = answer(r, received.length);
      const finish = () => {
        inFlightEvents.delete(id);
        inFlightUsers.set(event.user_id, (inFlightUsers.get(event.user_id) ?? 1) - 1);
      };
      if (a === "hang") {
        req.socket.on("close", finish);
        return;
      }
      setTimeout(() => {
        r.status = a;
        finish();
        res.writeHead(a, { "content-type": "text/plain" }).end("ok");
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    overlaps,
    setDelay(ms: number) {
      delayMs = ms;
    },
    /** the events it accepted (2xx), in the order it accepted them */
    delivered: () => received.filter((r) => r.status >= 200 && r.status < 300),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** The v1 signatures a secret would give: true if the header carries it for this body. */
export function signedWith(header: string, body: string, secret: string): boolean {
  const parts = header.split(",");
  const t = parts.find((p) => p.startsWith("t="))!.slice(2);
  const want = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return parts.includes(`v1=${want}`);
}

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
