/** Calls of the limits admin API and SQL that moves a wallet's usage counters back in time. */
import { call, get, post, type TestServer } from "./server.js";

export const ADMIN_TOKEN = "l".repeat(40);
export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, "x-actor": "risk" };

export const defineTier = (s: TestServer, name: string, limits: unknown) =>
  call(s.url, "PUT", `/admin/v1/tiers/${name}`, { headers: adminHeaders, body: { limits } });
export const assignTier = (s: TestServer, user: number, tier: string) =>
  call(s.url, "PUT", `/admin/v1/wallets/${user}/tier`, { headers: adminHeaders, body: { tier, reason: "kyc" } });
export const creditLimit = (s: TestServer, user: number, limit: number, currency?: string) =>
  call(s.url, "PUT", `/admin/v1/wallets/${user}/credit-limit`, {
    headers: adminHeaders,
    body: { credit_limit: limit, reason: "business account", ...(currency ? { currency } : {}) },
  });
export const limitsOf = async (s: TestServer, user: number) => (await get(s.url, "/api/limits/v1", user)).body;
export const used = async (s: TestServer, user: number, name: string) =>
  (await limitsOf(s, user)).limits.find((l: { name: string }) => l.name === name)?.used as number;
export const withdraw = (s: TestServer, user: number, amount: number, headers?: Record<string, string>) =>
  post(s.url, "/api/withdraw/v1", user, { amount }, headers);
export const deposit = (s: TestServer, user: number, amount: number) =>
  post(s.url, "/api/deposit/v1", user, { amount });

/** The database's clock, moved for one wallet: its counters (and holds) as if written `days` earlier. */
export async function ageCounters(s: TestServer, user: number, days: number, holds = false): Promise<void> {
  const db = s.services.ctx.db;
  await db.query(
    `update wallets set day_on = day_on - $2::int,
                        month_on = (date_trunc('month', (day_on - $2::int)::timestamp))::date
      where user_id = $1`,
    [user, days],
  );
  if (holds) {
    await db.query("update holds set created_at = created_at - make_interval(days => $2::int) where user_id = $1", [
      user,
      days,
    ]);
  }
}
