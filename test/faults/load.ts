/**
 * Load for the fault tests: clients sending deposits, withdrawals, v1 and v2
 * transfers, half with an Idempotency-Key, each request with an amount of its own so
 * that a second application shows up in the ledger. A keyed request answered 503 is
 * sent again with the same key (as the contract says a client should); an unkeyed
 * one is left unknown (it may or may not have been applied, never twice).
 */
import { randomUUID } from "node:crypto";
import { Agent, request } from "undici";

export type Kind = "deposit" | "withdraw" | "transfer" | "transfer_async";
export type Sent = {
  kind: Kind;
  user: number;
  to?: number;
  amount: number;
  key?: string;
  status: number;
  body: string;
  retryAfter?: string;
};

const PATHS: Record<Kind, string> = {
  deposit: "/api/deposit/v1",
  withdraw: "/api/withdraw/v1",
  transfer: "/api/transfer/v1",
  transfer_async: "/api/transfer/v2",
};
const KINDS: Kind[] = ["deposit", "withdraw", "transfer", "transfer_async"];

export type Load = { sent: Sent[]; stop(): Promise<void> };

/** users: wallets 1..users (funded well enough that nothing is refused for funds). */
export function startLoad(url: string, opts: { clients: number; users: number; firstAmount: number }): Load {
  const agent = new Agent({ connections: opts.clients, headersTimeout: 60_000 });
  const sent: Sent[] = [];
  let nextAmount = opts.firstAmount;
  let running = true;
  async function send(kind: Kind, user: number, to: number | undefined, amount: number, key?: string) {
    const body = JSON.stringify(to ? { destination_user_id: to, amount } : { amount });
    const headers: Record<string, string> = { authorization: String(user), "content-type": "application/json" };
    if (key) headers["idempotency-key"] = key;
    try {
      const res = await request(url + PATHS[kind], { method: "POST", headers, body, dispatcher: agent });
      const text = await res.body.text();
      return { status: res.statusCode, body: text, retryAfter: res.headers["retry-after"] as string | undefined };
    } catch (err) {
      return { status: 0, body: String(err) };
    }
  }
  const clients = Array.from({ length: opts.clients }, async (_v, c) => {
    for (let i = 0; running; i++) {
      const kind = KINDS[(c + i) % KINDS.length]!;
      const user = 1 + Math.floor(Math.random() * opts.users);
      const to = kind.startsWith("transfer") ? 1 + (user % opts.users) : undefined;
      const amount = nextAmount++;
      const key = (c + i) % 2 === 0 ? `fault-${randomUUID()}` : undefined;
      let r = await send(kind, user, to, amount, key);
      // keyed: safe to send again until it is answered (the deadline is the client's)
      for (let tries = 0; key && r.status === 503 && tries < 40; tries++) {
        await new Promise((res) => setTimeout(res, 250));
        r = await send(kind, user, to, amount, key);
      }
      sent.push({ kind, user, to, amount, key, ...r });
    }
  });
  return {
    sent,
    async stop() {
      running = false;
      await Promise.all(clients);
      await agent.close();
    },
  };
}
