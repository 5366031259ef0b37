/** Patroni's REST API, as the harness reads it. */

export type Member = { name: string; role: string; state: string; port: number; lag?: number | string };
export type Replication = { application_name: string; state: string; sync_state: string };

function call(apiPort: number, route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${apiPort}${route}`, { ...init, signal: AbortSignal.timeout(3000) });
}

/** The cluster as Patroni sees it, from the first of these REST APIs that answers. */
export async function members(apiPorts: number[]): Promise<Member[]> {
  for (const port of apiPorts) {
    const r = await call(port, "/cluster").catch(() => undefined);
    if (r?.ok) return ((await r.json()) as { members: Member[] }).members;
  }
  throw new Error("no Patroni REST API answers");
}

/** The leader's walsenders (pg_stat_replication), as its Patroni reports them. */
export async function replication(leaderApiPort: number): Promise<Replication[]> {
  const r = await call(leaderApiPort, "/patroni");
  return ((await r.json()) as { replication?: Replication[] }).replication ?? [];
}

/** Changes the dynamic configuration (kept in etcd; every node applies it). */
export async function patchConfig(apiPort: number, change: object): Promise<void> {
  const r = await call(apiPort, "/config", { method: "PATCH", body: JSON.stringify(change) });
  if (!r.ok) throw new Error(`PATCH /config: ${r.status} ${await r.text()}`);
}
