/**
 * What a process runs, by role. `wallet serve` runs the API (and gRPC with
 * GRPC_PORT), the async transfer workers, the events relay (with NATS_URL) and the
 * webhook deliverer and the sweeps; `wallet worker` the workers alone, `wallet relay`
 * the relay alone, `wallet deliver` the webhook deliverer alone. A new background
 * part is one more role: a name, a place in the stop order, a factory in assemble.ts.
 */
import type { Config } from "../../core/config.js";

export type RoleName = "api" | "grpc" | "workers" | "relay" | "deliver" | "sweeps";

/** A running part of a process: started once, stopped once, in the order below. */
export type Role = {
  readonly name: RoleName;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** fields for the process's "running" log line */
  describe?(): Record<string, unknown>;
  /** what it did, for the process's "stopped" log line */
  counts?(): Record<string, number>;
};

/**
 * Stop order, stage by stage (the roles of one stage stop together): no new
 * requests or calls and those in flight answered; then the relay and the webhook
 * deliverer, which follow what the others wrote (attempts in flight recorded); then the workers (claimed batches committed or rolled
 * back); then the sweeps. Roles start in the reverse order: the doors open last.
 */
export const STOP_STAGES: readonly (readonly RoleName[])[] = [
  ["api", "grpc"],
  ["relay", "deliver"],
  ["workers"],
  ["sweeps"],
];

export type ProcessKind = "serve" | "worker" | "relay" | "deliver";

/** Which roles a process runs, and how many transfer worker loops. */
export type ProcessPlan = { kind: ProcessKind; roles: RoleName[]; workers: number };

export function planFor(kind: ProcessKind, config: Config): ProcessPlan {
  switch (kind) {
    case "serve": {
      const roles: RoleName[] = ["api"];
      if (config.grpcPort > 0) roles.push("grpc");
      roles.push("workers");
      if (config.natsUrl) roles.push("relay");
      roles.push("deliver", "sweeps");
      return { kind, roles, workers: config.transferWorkers };
    }
    case "worker":
      return { kind, roles: ["workers"], workers: Math.max(1, config.transferWorkers) };
    case "relay":
      return { kind, roles: ["relay"], workers: 0 };
    case "deliver":
      return { kind, roles: ["deliver"], workers: 0 };
  }
}

/** The process's log lines: ready, and stopped. */
export function processMessages(kind: ProcessKind): { ready: string; stopped: string } {
  return kind === "serve"
    ? { ready: "wallet listening", stopped: "wallet stopped" }
    : { ready: `wallet ${kind} running`, stopped: `wallet ${kind} stopped` };
}
