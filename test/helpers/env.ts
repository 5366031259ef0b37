/** Where the test services are; CI and developers' machines run them locally. */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const TEMPLATE_DB = `wallet_tmpl_${process.env.WALLET_TEST_RUN ?? "local"}`;
export const engine: "pg" | "pglite" = process.env.WALLET_TEST_DB === "pg" ? "pg" : "pglite";

export function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}
