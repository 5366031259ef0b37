/**
 * The exchange scenario's setting: wallets funded in a second currency, rates for the
 * pair both ways, and its ledger check: an exchange moves money between currencies
 * only through the platform's position, so for each currency the users' balances plus
 * the position are unchanged by the run (and wallet verify checks every position).
 */
import { Pool } from "undici";
import type { CoreContext } from "../../core/context.js";
import { setRate } from "../../core/fx.js";
import { deposit } from "../../core/operations.js";
import { unwrap } from "../../core/outcome.js";
import { selectPositions } from "../../core/store/fx.js";
import { totalBalance } from "../../core/store/wallets.js";
import { ConnectionError } from "../errors.js";
import { createTransport } from "../http.js";
import { FUNDS } from "./check.js";
import { EXCHANGE_PAIR } from "./scenarios.js";

/** The pair's rates, both directions (each is a rate of its own). */
const RATES: Array<[string, string, string]> = [
  [EXCHANGE_PAIR[0], EXCHANGE_PAIR[1], "0.9215"],
  [EXCHANGE_PAIR[1], EXCHANGE_PAIR[0], "1.0852"],
];

/** Where the setting is made: the core (in-process, or DATABASE_URL), else the API (and the admin API). */
export type ExchangeTarget = { url: string; ctx?: CoreContext; adminToken?: string };

function adminApi(t: ExchangeTarget) {
  if (!t.adminToken)
    throw new ConnectionError("the exchange scenario over --api alone needs WALLET_ADMIN_TOKEN (rates, positions)");
  return {
    transport: createTransport(t.url),
    headers: { authorization: `Bearer ${t.adminToken}`, "x-actor": "loadtest" },
  };
}

/** Funds wallets first..first+users-1 in the pair's second currency (the first is funded by fund()). */
export async function fundSecondCurrency(t: ExchangeTarget, first: number, users: number): Promise<void> {
  const currency = EXCHANGE_PAIR[1];
  const pool = t.ctx ? undefined : new Pool(t.url, { connections: 16 });
  let next = first;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < first + users) {
        const userId = next++;
        if (t.ctx) {
          unwrap(await deposit(t.ctx, { userId, amount: FUNDS, currency }));
          continue;
        }
        const r = await pool!.request({
          method: "POST",
          path: "/api/deposit/v1",
          headers: { authorization: String(userId), "content-type": "application/json" },
          body: JSON.stringify({ amount: FUNDS, currency }),
        });
        const text = await r.body.text();
        if (r.statusCode >= 400) throw new ConnectionError(`funding ${currency} failed: ${r.statusCode} ${text}`);
      }
    }),
  );
  await pool?.close();
}

export async function setExchangeRates(t: ExchangeTarget): Promise<void> {
  if (t.ctx) {
    for (const [from, to, rate] of RATES)
      await setRate(t.ctx, { from, to, rate, actor: "loadtest", reason: "loadtest exchange scenario" });
    return;
  }
  const { transport, headers } = adminApi(t);
  try {
    for (const [from, to, rate] of RATES)
      await transport.call("PUT", `/admin/v1/fx/rates/${from}/${to}`, headers, { rate, reason: "loadtest" });
  } finally {
    await transport.close();
  }
}

/** Per currency of the pair: the balances of wallets first..first+users-1 plus the platform's position. */
export async function holdings(t: ExchangeTarget, first: number, users: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (t.ctx) {
    const positions = await selectPositions(t.ctx.db);
    for (const c of EXCHANGE_PAIR) {
      const position = Number(positions.find((p) => p.currency === c)?.position ?? 0);
      out[c] = Number(await totalBalance(t.ctx.db, first, first + users - 1, c)) + position;
    }
    return out;
  }
  const { transport, headers } = adminApi(t);
  try {
    const { positions } = await transport.call<{ positions: Array<{ currency: string; position: number }> }>(
      "GET",
      "/admin/v1/fx/positions",
      headers,
    );
    for (const c of EXCHANGE_PAIR) out[c] = positions.find((p) => p.currency === c)?.position ?? 0;
    for (let u = first; u < first + users; u++) {
      const { balances } = await transport.call<{ balances: Array<{ currency: string; balance: number }> }>(
        "GET",
        "/api/wallet/balances/v1",
        { authorization: String(u) },
      );
      for (const b of balances) if (b.currency in out) out[b.currency]! += b.balance;
    }
    return out;
  } finally {
    await transport.close();
  }
}
